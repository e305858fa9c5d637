-- Participants, their accounts, positions, limits and endpoints; settlement models and windows;
-- transfers with their legs, state history, fulfilments and errors.
--
-- Names are Mojaloop's (central-ledger.md Appendix A) so operators and their SQL recognise them.
-- Differences, on purpose:
--   * timestamps are DATETIME(3) (Mojaloop keeps whole seconds);
--   * participantPosition has one row per account, enforced by a UNIQUE key (Mojaloop relies on
--     convention), because the position is the row every transfer locks;
--   * participantPositionChange carries no foreign key to transferStateChange so that funds
--     movements and transfers can share one journal without ordering constraints on inserts.
-- Amounts are DECIMAL(18,4), exact.

CREATE TABLE `participant` (
  `participantId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(256) NOT NULL,
  `description` VARCHAR(512) NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `createdBy` VARCHAR(128) NOT NULL,
  `isProxy` TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`participantId`),
  UNIQUE KEY `participant_name_unique` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- The hub operator is participant 1, named Hub.
INSERT INTO `participant` (`participantId`, `name`, `description`, `createdBy`) VALUES
  (1, 'Hub', 'Hub Operator', 'seeds');

CREATE TABLE `participantCurrency` (
  `participantCurrencyId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `participantId` INT UNSIGNED NOT NULL,
  `currencyId` VARCHAR(3) NOT NULL,
  `ledgerAccountTypeId` INT UNSIGNED NOT NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `createdBy` VARCHAR(128) NOT NULL,
  PRIMARY KEY (`participantCurrencyId`),
  UNIQUE KEY `participantcurrency_pcl_unique` (`participantId`, `currencyId`, `ledgerAccountTypeId`),
  KEY `participantcurrency_currencyid_index` (`currencyId`),
  KEY `participantcurrency_ledgeraccounttypeid_foreign` (`ledgerAccountTypeId`),
  CONSTRAINT `participantcurrency_participantid_foreign` FOREIGN KEY (`participantId`) REFERENCES `participant` (`participantId`),
  CONSTRAINT `participantcurrency_currencyid_foreign` FOREIGN KEY (`currencyId`) REFERENCES `currency` (`currencyId`),
  CONSTRAINT `participantcurrency_ledgeraccounttypeid_foreign` FOREIGN KEY (`ledgerAccountTypeId`) REFERENCES `ledgerAccountType` (`ledgerAccountTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `participantPosition` (
  `participantPositionId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `value` DECIMAL(18,4) NOT NULL,
  `reservedValue` DECIMAL(18,4) NOT NULL,
  `changedDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`participantPositionId`),
  UNIQUE KEY `participantposition_participantcurrencyid_unique` (`participantCurrencyId`),
  CONSTRAINT `participantposition_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `participantLimit` (
  `participantLimitId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `participantLimitTypeId` INT UNSIGNED NOT NULL,
  `value` DECIMAL(18,4) NOT NULL DEFAULT 0,
  `thresholdAlarmPercentage` DECIMAL(5,2) NOT NULL DEFAULT 10,
  `startAfterParticipantPositionChangeId` BIGINT UNSIGNED NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `createdBy` VARCHAR(128) NOT NULL,
  PRIMARY KEY (`participantLimitId`),
  UNIQUE KEY `participantLimit_unique_idx` (`participantCurrencyId`, `participantLimitTypeId`, `isActive`, `participantLimitId`),
  KEY `participantlimit_participantlimittypeid_index` (`participantLimitTypeId`),
  CONSTRAINT `participantlimit_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`),
  CONSTRAINT `participantlimit_participantlimittypeid_foreign` FOREIGN KEY (`participantLimitTypeId`) REFERENCES `participantLimitType` (`participantLimitTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `participantEndpoint` (
  `participantEndpointId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `participantId` INT UNSIGNED NOT NULL,
  `endpointTypeId` INT UNSIGNED NOT NULL,
  `value` VARCHAR(512) NOT NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `createdBy` VARCHAR(128) NOT NULL,
  PRIMARY KEY (`participantEndpointId`),
  UNIQUE KEY `participantendpoint_participantid_endpointtypeid_unique` (`participantId`, `endpointTypeId`),
  KEY `participantendpoint_endpointtypeid_index` (`endpointTypeId`),
  CONSTRAINT `participantendpoint_participantid_foreign` FOREIGN KEY (`participantId`) REFERENCES `participant` (`participantId`),
  CONSTRAINT `participantendpoint_endpointtypeid_foreign` FOREIGN KEY (`endpointTypeId`) REFERENCES `endpointType` (`endpointTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementModel` (
  `settlementModelId` INT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(50) NOT NULL,
  `isActive` TINYINT(1) NOT NULL DEFAULT 1,
  `settlementGranularityId` INT UNSIGNED NOT NULL,
  `settlementInterchangeId` INT UNSIGNED NOT NULL,
  `settlementDelayId` INT UNSIGNED NOT NULL,
  `currencyId` VARCHAR(3) NULL,
  `requireLiquidityCheck` TINYINT(1) NOT NULL DEFAULT 1,
  `ledgerAccountTypeId` INT UNSIGNED NOT NULL,
  `settlementAccountTypeId` INT UNSIGNED NOT NULL,
  `autoPositionReset` TINYINT(1) NOT NULL DEFAULT 0,
  `adjustPosition` TINYINT(1) NOT NULL DEFAULT 0,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementModelId`),
  UNIQUE KEY `settlementmodel_name_unique` (`name`),
  UNIQUE KEY `settlementmodel_unique` (`ledgerAccountTypeId`, `currencyId`),
  CONSTRAINT `settlementmodel_settlementgranularityid_foreign` FOREIGN KEY (`settlementGranularityId`) REFERENCES `settlementGranularity` (`settlementGranularityId`),
  CONSTRAINT `settlementmodel_settlementinterchangeid_foreign` FOREIGN KEY (`settlementInterchangeId`) REFERENCES `settlementInterchange` (`settlementInterchangeId`),
  CONSTRAINT `settlementmodel_settlementdelayid_foreign` FOREIGN KEY (`settlementDelayId`) REFERENCES `settlementDelay` (`settlementDelayId`),
  CONSTRAINT `settlementmodel_currencyid_foreign` FOREIGN KEY (`currencyId`) REFERENCES `currency` (`currencyId`),
  CONSTRAINT `settlementmodel_ledgeraccounttypeid_foreign` FOREIGN KEY (`ledgerAccountTypeId`) REFERENCES `ledgerAccountType` (`ledgerAccountTypeId`),
  CONSTRAINT `settlementmodel_settlementaccounttypeid_foreign` FOREIGN KEY (`settlementAccountTypeId`) REFERENCES `ledgerAccountType` (`ledgerAccountTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementWindow` (
  `settlementWindowId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `currentStateChangeId` BIGINT UNSIGNED NULL,
  PRIMARY KEY (`settlementWindowId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementWindowStateChange` (
  `settlementWindowStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementWindowId` BIGINT UNSIGNED NOT NULL,
  `settlementWindowStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementWindowStateChangeId`),
  KEY `settlementwindowstatechange_settlementwindowid_index` (`settlementWindowId`),
  CONSTRAINT `settlementwindowstatechange_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`),
  CONSTRAINT `settlementwindowstatechange_settlementwindowstateid_foreign` FOREIGN KEY (`settlementWindowStateId`) REFERENCES `settlementWindowState` (`settlementWindowStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- The first window is open from the start.
INSERT INTO `settlementWindow` (`settlementWindowId`, `reason`) VALUES (1, 'initial window');
INSERT INTO `settlementWindowStateChange` (`settlementWindowStateChangeId`, `settlementWindowId`, `settlementWindowStateId`, `reason`) VALUES
  (1, 1, 'OPEN', 'initial window');
UPDATE `settlementWindow` SET `currentStateChangeId` = 1 WHERE `settlementWindowId` = 1;

CREATE TABLE `transferDuplicateCheck` (
  `transferId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transfer` (
  `transferId` VARCHAR(36) NOT NULL,
  `amount` DECIMAL(18,4) NOT NULL,
  `currencyId` VARCHAR(3) NOT NULL,
  `ilpCondition` VARCHAR(256) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  KEY `transfer_currencyid_index` (`currencyId`),
  CONSTRAINT `transfer_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transferDuplicateCheck` (`transferId`),
  CONSTRAINT `transfer_currencyid_foreign` FOREIGN KEY (`currencyId`) REFERENCES `currency` (`currencyId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The ledger legs of a transfer: + debit, - credit; a transfer's legs sum to zero.
CREATE TABLE `transferParticipant` (
  `transferParticipantId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `transferId` VARCHAR(36) NOT NULL,
  `participantId` INT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NULL,
  `transferParticipantRoleTypeId` INT UNSIGNED NOT NULL,
  `ledgerEntryTypeId` INT UNSIGNED NOT NULL,
  `amount` DECIMAL(18,4) NOT NULL,
  `externalParticipantId` BIGINT UNSIGNED NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferParticipantId`),
  KEY `getTransferInfoToChangePosition` (`transferId`, `transferParticipantRoleTypeId`, `ledgerEntryTypeId`),
  KEY `transferparticipant_participantcurrencyid_index` (`participantCurrencyId`),
  KEY `transferparticipant_participantid_index` (`participantId`),
  CONSTRAINT `transferparticipant_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`),
  CONSTRAINT `transferparticipant_participantid_foreign` FOREIGN KEY (`participantId`) REFERENCES `participant` (`participantId`),
  CONSTRAINT `transferparticipant_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`),
  CONSTRAINT `transferparticipant_transferparticipantroletypeid_foreign` FOREIGN KEY (`transferParticipantRoleTypeId`) REFERENCES `transferParticipantRoleType` (`transferParticipantRoleTypeId`),
  CONSTRAINT `transferparticipant_ledgerentrytypeid_foreign` FOREIGN KEY (`ledgerEntryTypeId`) REFERENCES `ledgerEntryType` (`ledgerEntryTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Append-only; a transfer's current state is its row with the highest id.
CREATE TABLE `transferStateChange` (
  `transferStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `transferId` VARCHAR(36) NOT NULL,
  `transferStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferStateChangeId`),
  KEY `transferstatechange_transferid_index` (`transferId`, `transferStateChangeId`),
  KEY `transferstatechange_transferstateid_index` (`transferStateId`),
  CONSTRAINT `transferstatechange_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`),
  CONSTRAINT `transferstatechange_transferstateid_foreign` FOREIGN KEY (`transferStateId`) REFERENCES `transferState` (`transferStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every change of a position, with the position after it (`value`) and the delta (`change`).
CREATE TABLE `participantPositionChange` (
  `participantPositionChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `participantPositionId` BIGINT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `transferStateChangeId` BIGINT UNSIGNED NULL,
  `value` DECIMAL(18,4) NOT NULL,
  `change` DECIMAL(18,4) NOT NULL,
  `reservedValue` DECIMAL(18,4) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`participantPositionChangeId`),
  KEY `participantpositionchange_participantpositionid_index` (`participantPositionId`),
  KEY `participantpositionchange_transferstatechangeid_index` (`transferStateChangeId`),
  KEY `participantpositionchange_participantcurrencyid_index` (`participantCurrencyId`),
  CONSTRAINT `participantpositionchange_participantpositionid_foreign` FOREIGN KEY (`participantPositionId`) REFERENCES `participantPosition` (`participantPositionId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferExtension` (
  `transferExtensionId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `transferId` VARCHAR(36) NOT NULL,
  `key` VARCHAR(128) NOT NULL,
  `value` TEXT NOT NULL,
  `isFulfilment` TINYINT(1) NOT NULL DEFAULT 0,
  `isError` TINYINT(1) NOT NULL DEFAULT 0,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferExtensionId`),
  KEY `transferextension_transferid_foreign` (`transferId`),
  CONSTRAINT `transferextension_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `ilpPacket` (
  `transferId` VARCHAR(36) NOT NULL,
  `value` TEXT NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  CONSTRAINT `ilppacket_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferFulfilmentDuplicateCheck` (
  `transferId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  CONSTRAINT `transferfulfilmentduplicatecheck_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferFulfilment` (
  `transferId` VARCHAR(36) NOT NULL,
  `ilpFulfilment` VARCHAR(256) NULL,
  `completedDate` DATETIME(3) NOT NULL,
  `isValid` TINYINT(1) NULL,
  `settlementWindowId` BIGINT UNSIGNED NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  KEY `transferfulfilment_settlementwindowid_foreign` (`settlementWindowId`),
  CONSTRAINT `transferfulfilment_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transferFulfilmentDuplicateCheck` (`transferId`),
  CONSTRAINT `transferfulfilment_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferErrorDuplicateCheck` (
  `transferId` VARCHAR(36) NOT NULL,
  `hash` VARCHAR(256) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  CONSTRAINT `transfererrorduplicatecheck_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferError` (
  `transferId` VARCHAR(36) NOT NULL,
  `transferStateChangeId` BIGINT UNSIGNED NOT NULL,
  `errorCode` INT UNSIGNED NOT NULL,
  `errorDescription` VARCHAR(128) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferId`),
  KEY `transfererror_transferstatechangeid_foreign` (`transferStateChangeId`),
  CONSTRAINT `transfererror_transferstatechangeid_foreign` FOREIGN KEY (`transferStateChangeId`) REFERENCES `transferStateChange` (`transferStateChangeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `transferTimeout` (
  `transferTimeoutId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `transferId` VARCHAR(36) NOT NULL,
  `expirationDate` DATETIME(3) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`transferTimeoutId`),
  UNIQUE KEY `transfertimeout_transferid_unique` (`transferId`),
  KEY `transfertimeout_expirationdate_index` (`expirationDate`),
  CONSTRAINT `transfertimeout_transferid_foreign` FOREIGN KEY (`transferId`) REFERENCES `transfer` (`transferId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
