-- Bulk transfers (FSPIOP /bulkTransfers). Mojaloop keeps the bodies in MongoDB and the bulk's
-- states in MySQL; here everything is in the central ledger's database. Each individual
-- transfer is an ordinary transfer (transfer, transferParticipant, transferStateChange, …);
-- these tables only tie them to their bulk and keep the bulk's own state and messages.

CREATE TABLE `bulkTransfer` (
  `bulkTransferId` VARCHAR(36) NOT NULL,
  `bulkQuoteId` VARCHAR(36) NOT NULL,
  `payerFsp` VARCHAR(256) NOT NULL,
  `payeeFsp` VARCHAR(256) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  -- Hash of the POST body (duplicate check) and of the payee's answer (its duplicate check).
  `hash` VARCHAR(256) NOT NULL,
  `fulfilHash` VARCHAR(256) NULL,
  -- Latest state (Mojaloop's bulkTransferState ids); the history is in bulkTransferStateChange.
  `bulkTransferStateId` VARCHAR(50) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `completedDate` DATETIME(3) NULL,
  PRIMARY KEY (`bulkTransferId`),
  KEY `bulktransfer_state_expiration_index` (`bulkTransferStateId`, `expirationDate`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `bulkTransferStateChange` (
  `bulkTransferStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `bulkTransferId` VARCHAR(36) NOT NULL,
  `bulkTransferStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`bulkTransferStateChangeId`),
  KEY `bulktransferstatechange_bulktransferid_index` (`bulkTransferId`),
  CONSTRAINT `bulktransferstatechange_bulktransferid_foreign` FOREIGN KEY (`bulkTransferId`) REFERENCES `bulkTransfer` (`bulkTransferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per individual transfer of a bulk, in the bulk's order, with where it stands in the
-- bulk (Mojaloop's bulkProcessingState ids) and, once it failed, why.
CREATE TABLE `bulkTransferAssociation` (
  `bulkTransferId` VARCHAR(36) NOT NULL,
  `transferId` VARCHAR(36) NOT NULL,
  `position` INT UNSIGNED NOT NULL,
  `bulkProcessingStateId` VARCHAR(50) NOT NULL,
  `errorCode` INT UNSIGNED NULL,
  `errorDescription` VARCHAR(128) NULL,
  PRIMARY KEY (`bulkTransferId`, `transferId`),
  KEY `bulktransferassociation_transferid_index` (`transferId`),
  CONSTRAINT `bulktransferassociation_bulktransferid_foreign` FOREIGN KEY (`bulkTransferId`) REFERENCES `bulkTransfer` (`bulkTransferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The bodies of bulk messages (what Mojaloop keeps in MongoDB): a request staged by the API
-- (`prepare`, `fulfil`, `error`) and each body the ledger sends (`out`). A Kafka message
-- names its body here, so a bulk of 1000 transfers never exceeds the broker's message size.
CREATE TABLE `bulkTransferMessage` (
  `bulkTransferMessageId` VARCHAR(36) NOT NULL,
  `bulkTransferId` VARCHAR(36) NOT NULL,
  `kind` VARCHAR(16) NOT NULL,
  `body` LONGBLOB NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`bulkTransferMessageId`),
  KEY `bulktransfermessage_bulktransferid_index` (`bulkTransferId`, `kind`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Notices of bulks finished by expiry, written with the expiry and deleted once on the bus
-- (as transferExpiryNotice).
CREATE TABLE `bulkTransferNotice` (
  `bulkTransferId` VARCHAR(36) NOT NULL,
  `recipient` VARCHAR(256) NOT NULL,
  `message` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`bulkTransferId`, `recipient`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
