-- The transaction requests service's record of each request a payee made: who asked whom for
-- what, the hash of the request (a resend is relayed again, a changed resend refused 3106), and
-- the latest answers the payer and the payee gave. Money is not moved here; the quote and the
-- transfer that follow carry transactionRequestId.
CREATE TABLE transactionRequest (
  transactionRequestId VARCHAR(36) NOT NULL,
  -- FSPIOP-Source of the POST: the payee's DFSP, which asked.
  payeeFsp VARCHAR(32) NOT NULL,
  -- FSPIOP-Destination of the POST: the payer's DFSP, which was asked.
  payerFsp VARCHAR(32) NOT NULL,
  -- As received (an FSPIOP Amount: exact decimal text).
  amount VARCHAR(32) NOT NULL,
  currencyId VARCHAR(3) NOT NULL,
  scenario VARCHAR(16) NOT NULL,
  authenticationType VARCHAR(8) NULL,
  expirationDate DATETIME(3) NULL,
  -- Lower-case hex SHA-256 of the request body's canonical JSON.
  requestHash CHAR(64) NOT NULL,
  -- The payer's latest PUT /transactionRequests/{ID}: RECEIVED, PENDING, ACCEPTED, REJECTED.
  state VARCHAR(16) NULL,
  transactionId VARCHAR(36) NULL,
  -- The payee's latest PUT /authorizations/{ID}: ENTERED, REJECTED, RESEND.
  authorizationResponse VARCHAR(16) NULL,
  -- The latest error relayed or sent for the request (PUT …/error).
  errorCode CHAR(4) NULL,
  createdDate DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updatedDate DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (transactionRequestId),
  KEY transactionrequest_createddate_index (createdDate)
) ENGINE=InnoDB;
