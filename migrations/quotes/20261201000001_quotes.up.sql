-- The Quoting Service's own database (persistent mode): quote requests, the payee's responses
-- and the error callbacks relayed for them.
--
-- Unlike Mojaloop, which normalises a quote into a dozen tables inside central_ledger (quote,
-- quoteParty, party, quoteExtension, geoCode, quoteDuplicateCheck, ...), a quote is one row
-- here: the columns an operator searches and reports on, plus the request exactly as the payer
-- sent it. The duplicate-detection hash lives on the row itself, so accepting a quote is one
-- insert (done in multi-row batches by the service's writer task).
--
-- `hash` is the lower-case hex SHA-256 of the body's canonical JSON (sorted keys, no
-- whitespace), so a resend that only reorders members or changes spacing is identical.
-- Amounts are DECIMAL(22,4): the API's Amount allows 18 integer and 4 fraction digits.
-- Times are UTC.

CREATE TABLE `quote` (
  `quoteId` VARCHAR(36) NOT NULL,
  `transactionId` VARCHAR(36) NOT NULL,
  `transactionRequestId` VARCHAR(36) NULL,
  -- FSPIOP-Source and FSPIOP-Destination of the POST: the payer and payee DFSPs.
  `payerFsp` VARCHAR(32) NOT NULL,
  `payeeFsp` VARCHAR(32) NOT NULL,
  `amountType` VARCHAR(16) NOT NULL,
  `amount` DECIMAL(22,4) NOT NULL,
  `currencyId` VARCHAR(3) NOT NULL,
  `feesAmount` DECIMAL(22,4) NULL,
  `feesCurrencyId` VARCHAR(3) NULL,
  `transactionScenario` VARCHAR(32) NOT NULL,
  `transactionInitiator` VARCHAR(16) NOT NULL,
  `transactionInitiatorType` VARCHAR(16) NOT NULL,
  `expirationDate` DATETIME(3) NULL,
  `hash` CHAR(64) NOT NULL,
  -- The request body as received.
  `body` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`quoteId`),
  KEY `quote_transactionid_index` (`transactionId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- At most one response per quote: a different second response is a modified request (3106).
CREATE TABLE `quoteResponse` (
  `quoteId` VARCHAR(36) NOT NULL,
  -- FSPIOP-Source and FSPIOP-Destination of the PUT: the payee and payer DFSPs.
  `payeeFsp` VARCHAR(32) NOT NULL,
  `payerFsp` VARCHAR(32) NOT NULL,
  `transferAmount` DECIMAL(22,4) NOT NULL,
  `transferAmountCurrencyId` VARCHAR(3) NOT NULL,
  `payeeReceiveAmount` DECIMAL(22,4) NULL,
  `payeeReceiveAmountCurrencyId` VARCHAR(3) NULL,
  `payeeFspFeeAmount` DECIMAL(22,4) NULL,
  `payeeFspFeeCurrencyId` VARCHAR(3) NULL,
  `payeeFspCommissionAmount` DECIMAL(22,4) NULL,
  `payeeFspCommissionCurrencyId` VARCHAR(3) NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `ilpCondition` VARCHAR(48) NOT NULL,
  `ilpPacket` TEXT NOT NULL,
  `hash` CHAR(64) NOT NULL,
  -- The response body as received.
  `body` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`quoteId`),
  CONSTRAINT `quoteresponse_quoteid_foreign` FOREIGN KEY (`quoteId`) REFERENCES `quote` (`quoteId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Error callbacks relayed through the switch (`PUT /quotes/{ID}/error`), every one of them.
-- No foreign key: an error may concern a quote this switch never stored.
CREATE TABLE `quoteError` (
  `quoteErrorId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `quoteId` VARCHAR(36) NOT NULL,
  `sourceFsp` VARCHAR(32) NOT NULL,
  `destinationFsp` VARCHAR(32) NOT NULL,
  `errorCode` VARCHAR(4) NOT NULL,
  `errorDescription` VARCHAR(128) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`quoteErrorId`),
  KEY `quoteerror_quoteid_index` (`quoteId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
