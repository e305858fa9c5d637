-- Ours, not Mojaloop's: the expiry notices the timeout handler has not yet put on the bus. A
-- sweep writes them in the transaction that expires the transfers and deletes them once they
-- are delivered; a handler starting up delivers what an earlier one left (it crashed, or the
-- bus refused them), so an expired transfer's payer and payee are always told.
CREATE TABLE `transferExpiryNotice` (
  `transferId` VARCHAR(36) NOT NULL,
  `message` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  CONSTRAINT `transferexpirynotice_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
