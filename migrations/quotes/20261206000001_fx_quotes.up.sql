-- FX quotes (FSPIOP 2.0) in persistent mode: the DFSP's request for conversion terms and the
-- FXP's answer, one row each, with the duplicate-detection hash of the body (as `quote`).
-- Amounts of a request may be open (the FXP fills one side in), so they are nullable there.

CREATE TABLE `fxQuote` (
  `conversionRequestId` VARCHAR(36) NOT NULL,
  `conversionId` VARCHAR(36) NOT NULL,
  `determiningTransferId` VARCHAR(36) NULL,
  -- FSPIOP-Source and FSPIOP-Destination of the POST: the initiating DFSP and the FXP.
  `initiatingFsp` VARCHAR(32) NOT NULL,
  `counterPartyFsp` VARCHAR(32) NOT NULL,
  `amountType` VARCHAR(16) NOT NULL,
  `sourceAmount` DECIMAL(22,4) NULL,
  `sourceCurrencyId` VARCHAR(3) NOT NULL,
  `targetAmount` DECIMAL(22,4) NULL,
  `targetCurrencyId` VARCHAR(3) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `hash` CHAR(64) NOT NULL,
  `body` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`conversionRequestId`),
  KEY `fxquote_determiningtransferid_index` (`determiningTransferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- At most one answer per FX quote: a different second answer is a modified request (3106).
CREATE TABLE `fxQuoteResponse` (
  `conversionRequestId` VARCHAR(36) NOT NULL,
  `ilpCondition` VARCHAR(256) NULL,
  `sourceAmount` DECIMAL(22,4) NULL,
  `sourceCurrencyId` VARCHAR(3) NOT NULL,
  `targetAmount` DECIMAL(22,4) NULL,
  `targetCurrencyId` VARCHAR(3) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `hash` CHAR(64) NOT NULL,
  `body` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`conversionRequestId`),
  CONSTRAINT `fxquoteresponse_conversionrequestid_foreign` FOREIGN KEY (`conversionRequestId`) REFERENCES `fxQuote` (`conversionRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
