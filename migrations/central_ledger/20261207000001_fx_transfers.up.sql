-- Currency conversion (FSPIOP 2.0 /fxTransfers), payer conversion. Mojaloop's table names and
-- columns where they exist; see ARCHITECTURE.md "FX" for where this differs and why.

CREATE TABLE `fxTransferDuplicateCheck` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Only requests that pass validation are recorded (with their duplicate-check row); an invalid
-- one is answered 3100 and a resend of it is validated, and answered, again.
CREATE TABLE `fxTransfer` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `determiningTransferId` VARCHAR(36) NOT NULL,
  `sourceAmount` DECIMAL(18,4) NOT NULL,
  `sourceCurrency` VARCHAR(3) NOT NULL,
  `targetAmount` DECIMAL(18,4) NOT NULL,
  `targetCurrency` VARCHAR(3) NOT NULL,
  `ilpCondition` VARCHAR(256) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`),
  KEY `fxtransfer_determiningtransferid_index` (`determiningTransferId`),
  CONSTRAINT `fxtransfer_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransferDuplicateCheck` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Three rows per conversion: INITIATING_FSP with its source-currency account (+sourceAmount),
-- COUNTER_PARTY_FSP SOURCE (−sourceAmount) and COUNTER_PARTY_FSP TARGET (−targetAmount).
CREATE TABLE `fxParticipantCurrencyType` (
  `fxParticipantCurrencyTypeId` INT UNSIGNED NOT NULL,
  `name` VARCHAR(50) NOT NULL,
  `description` VARCHAR(512) NULL,
  PRIMARY KEY (`fxParticipantCurrencyTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `fxParticipantCurrencyType` VALUES
  (1, 'SOURCE', 'The participant currency is the source currency'),
  (2, 'TARGET', 'The participant currency is the target currency');

CREATE TABLE `fxTransferParticipant` (
  `fxTransferParticipantId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `commitRequestId` VARCHAR(36) NOT NULL,
  `participantId` INT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `transferParticipantRoleTypeId` INT UNSIGNED NOT NULL,
  `ledgerEntryTypeId` INT UNSIGNED NOT NULL,
  `fxParticipantCurrencyTypeId` INT UNSIGNED NULL,
  `amount` DECIMAL(18,4) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`fxTransferParticipantId`),
  KEY `fxtransferparticipant_commitrequestid_index` (`commitRequestId`),
  CONSTRAINT `fxtransferparticipant_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `fxTransferStateChange` (
  `fxTransferStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `commitRequestId` VARCHAR(36) NOT NULL,
  `transferStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`fxTransferStateChangeId`),
  KEY `fxtransferstatechange_commitrequestid_index` (`commitRequestId`, `fxTransferStateChangeId`),
  CONSTRAINT `fxtransferstatechange_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`),
  CONSTRAINT `fxtransferstatechange_transferstateid_foreign` FOREIGN KEY (`transferStateId`) REFERENCES `transferState` (`transferStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A position change belongs to a transfer's state change or to an fxTransfer's.
ALTER TABLE `participantPositionChange`
  ADD COLUMN `fxTransferStateChangeId` BIGINT UNSIGNED NULL AFTER `transferStateChangeId`,
  ADD KEY `participantpositionchange_fxtransferstatechangeid_index` (`fxTransferStateChangeId`);

CREATE TABLE `fxTransferFulfilmentDuplicateCheck` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `fxTransferErrorDuplicateCheck` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The FXP's fulfilment; `settlementWindowId` is set when the conversion commits (with its
-- dependent transfer), not when the FXP fulfils (Mojaloop takes the window open at fulfil).
CREATE TABLE `fxTransferFulfilment` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `ilpFulfilment` VARCHAR(256) NOT NULL,
  `completedDate` DATETIME(3) NOT NULL,
  `isValid` TINYINT(1) NULL,
  `settlementWindowId` BIGINT UNSIGNED NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`),
  KEY `fxtransferfulfilment_settlementwindowid_index` (`settlementWindowId`),
  CONSTRAINT `fxtransferfulfilment_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `fxTransferError` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `fxTransferStateChangeId` BIGINT UNSIGNED NOT NULL,
  `errorCode` INT UNSIGNED NOT NULL,
  `errorDescription` VARCHAR(128) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`),
  CONSTRAINT `fxtransfererror_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Conversions not yet final, with their expiry (deleted when they finish).
CREATE TABLE `fxTransferTimeout` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`),
  KEY `fxtransfertimeout_expirationdate_index` (`expirationDate`),
  CONSTRAINT `fxtransfertimeout_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Ours (Mojaloop's fxWatchList is written at fx prepare and never cleaned): the dependent
-- transfer that holds its reservation on a conversion, written in the transaction that
-- reserves it. A conversion has at most one; a transfer depends on at most one conversion.
CREATE TABLE `fxDependentTransfer` (
  `determiningTransferId` VARCHAR(36) NOT NULL,
  `commitRequestId` VARCHAR(36) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`determiningTransferId`),
  UNIQUE KEY `fxdependenttransfer_commitrequestid_unique` (`commitRequestId`),
  CONSTRAINT `fxdependenttransfer_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`),
  CONSTRAINT `fxdependenttransfer_transferid_foreign` FOREIGN KEY (`determiningTransferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Expiry notices of conversions not yet on the bus (as transferExpiryNotice), one per
-- recipient.
CREATE TABLE `fxTransferExpiryNotice` (
  `commitRequestId` VARCHAR(36) NOT NULL,
  `recipient` VARCHAR(128) NOT NULL,
  `message` MEDIUMTEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`commitRequestId`, `recipient`),
  CONSTRAINT `fxtransferexpirynotice_commitrequestid_foreign` FOREIGN KEY (`commitRequestId`) REFERENCES `fxTransfer` (`commitRequestId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
