-- Settlement: the tables central-settlement writes (spec central-ledger.md §5, §6 and Appendix A),
-- with Mojaloop's names and columns, plus one table of our own (settlementWindowOpen).

CREATE TABLE `settlementWindowContent` (
  `settlementWindowContentId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementWindowId` BIGINT UNSIGNED NOT NULL,
  `ledgerAccountTypeId` INT UNSIGNED NOT NULL,
  `currencyId` VARCHAR(3) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `currentStateChangeId` BIGINT UNSIGNED NULL,
  `settlementId` BIGINT UNSIGNED NULL,
  `settlementModelId` INT UNSIGNED NULL,
  PRIMARY KEY (`settlementWindowContentId`),
  KEY `settlementwindowcontent_settlementwindowid_index` (`settlementWindowId`),
  KEY `settlementwindowcontent_ledgeraccounttypeid_index` (`ledgerAccountTypeId`),
  KEY `settlementwindowcontent_currencyid_index` (`currencyId`),
  KEY `settlementwindowcontent_currentstatechangeid_index` (`currentStateChangeId`),
  KEY `settlementwindowcontent_settlementid_index` (`settlementId`),
  KEY `settlementwindowcontent_settlementmodelid_foreign` (`settlementModelId`),
  CONSTRAINT `settlementwindowcontent_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`),
  CONSTRAINT `settlementwindowcontent_ledgeraccounttypeid_foreign` FOREIGN KEY (`ledgerAccountTypeId`) REFERENCES `ledgerAccountType` (`ledgerAccountTypeId`),
  CONSTRAINT `settlementwindowcontent_currencyid_foreign` FOREIGN KEY (`currencyId`) REFERENCES `currency` (`currencyId`),
  CONSTRAINT `settlementwindowcontent_settlementmodelid_foreign` FOREIGN KEY (`settlementModelId`) REFERENCES `settlementModel` (`settlementModelId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementWindowContentStateChange` (
  `settlementWindowContentStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementWindowContentId` BIGINT UNSIGNED NOT NULL,
  `settlementWindowStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementWindowContentStateChangeId`),
  KEY `swcsc_settlementwindowcontentid_index` (`settlementWindowContentId`),
  KEY `swcsc_settlementwindowstateid_index` (`settlementWindowStateId`),
  CONSTRAINT `swcsc_settlementwindowcontentid_foreign` FOREIGN KEY (`settlementWindowContentId`) REFERENCES `settlementWindowContent` (`settlementWindowContentId`),
  CONSTRAINT `swcsc_settlementwindowstateid_foreign` FOREIGN KEY (`settlementWindowStateId`) REFERENCES `settlementWindowState` (`settlementWindowStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE `settlementWindowContent` ADD CONSTRAINT `settlementwindowcontent_currentstatechangeid_foreign`
  FOREIGN KEY (`currentStateChangeId`) REFERENCES `settlementWindowContentStateChange` (`settlementWindowContentStateChangeId`);

CREATE TABLE `settlement` (
  `settlementId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `currentStateChangeId` BIGINT UNSIGNED NULL,
  `settlementModelId` INT UNSIGNED NULL,
  PRIMARY KEY (`settlementId`),
  KEY `settlement_currentstatechangeid_foreign` (`currentStateChangeId`),
  KEY `settlement_settlementmodelid_foreign` (`settlementModelId`),
  CONSTRAINT `settlement_settlementmodelid_foreign` FOREIGN KEY (`settlementModelId`) REFERENCES `settlementModel` (`settlementModelId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementStateChange` (
  `settlementStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementId` BIGINT UNSIGNED NOT NULL,
  `settlementStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementStateChangeId`),
  KEY `settlementstatechange_settlementid_index` (`settlementId`),
  KEY `settlementstatechange_settlementstateid_index` (`settlementStateId`),
  CONSTRAINT `settlementstatechange_settlementid_foreign` FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`),
  CONSTRAINT `settlementstatechange_settlementstateid_foreign` FOREIGN KEY (`settlementStateId`) REFERENCES `settlementState` (`settlementStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE `settlement` ADD CONSTRAINT `settlement_currentstatechangeid_foreign`
  FOREIGN KEY (`currentStateChangeId`) REFERENCES `settlementStateChange` (`settlementStateChangeId`);

ALTER TABLE `settlementWindowContent` ADD CONSTRAINT `settlementwindowcontent_settlementid_foreign`
  FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`);

CREATE TABLE `settlementContentAggregation` (
  `settlementContentAggregationId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementWindowContentId` BIGINT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `transferParticipantRoleTypeId` INT UNSIGNED NOT NULL,
  `ledgerEntryTypeId` INT UNSIGNED NOT NULL,
  `amount` DECIMAL(18,4) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `currentStateId` VARCHAR(50) NOT NULL,
  `settlementId` BIGINT UNSIGNED NULL,
  PRIMARY KEY (`settlementContentAggregationId`),
  KEY `settlementcontentaggregation_settlementwindowcontentid_index` (`settlementWindowContentId`),
  KEY `settlementcontentaggregation_participantcurrencyid_index` (`participantCurrencyId`),
  KEY `settlementcontentaggregation_transferparticipantroletypeid_index` (`transferParticipantRoleTypeId`),
  KEY `settlementcontentaggregation_ledgerentrytypeid_index` (`ledgerEntryTypeId`),
  KEY `settlementcontentaggregation_currentstateid_index` (`currentStateId`),
  KEY `settlementcontentaggregation_settlementid_index` (`settlementId`),
  CONSTRAINT `settlementcontentaggregation_settlementwindowcontentid_foreign` FOREIGN KEY (`settlementWindowContentId`) REFERENCES `settlementWindowContent` (`settlementWindowContentId`),
  CONSTRAINT `settlementcontentaggregation_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`),
  CONSTRAINT `sca_transferparticipantroletypeid_foreign` FOREIGN KEY (`transferParticipantRoleTypeId`) REFERENCES `transferParticipantRoleType` (`transferParticipantRoleTypeId`),
  CONSTRAINT `settlementcontentaggregation_ledgerentrytypeid_foreign` FOREIGN KEY (`ledgerEntryTypeId`) REFERENCES `ledgerEntryType` (`ledgerEntryTypeId`),
  CONSTRAINT `settlementcontentaggregation_currentstateid_foreign` FOREIGN KEY (`currentStateId`) REFERENCES `settlementWindowState` (`settlementWindowStateId`),
  CONSTRAINT `settlementcontentaggregation_settlementid_foreign` FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementSettlementWindow` (
  `settlementSettlementWindowId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementId` BIGINT UNSIGNED NOT NULL,
  `settlementWindowId` BIGINT UNSIGNED NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementSettlementWindowId`),
  UNIQUE KEY `settlementsettlementwindow_unique` (`settlementId`, `settlementWindowId`),
  KEY `settlementsettlementwindow_settlementid_index` (`settlementId`),
  KEY `settlementsettlementwindow_settlementwindowid_index` (`settlementWindowId`),
  CONSTRAINT `settlementsettlementwindow_settlementid_foreign` FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`),
  CONSTRAINT `settlementsettlementwindow_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementParticipantCurrency` (
  `settlementParticipantCurrencyId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementId` BIGINT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `netAmount` DECIMAL(18,4) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `currentStateChangeId` BIGINT UNSIGNED NULL,
  `settlementTransferId` VARCHAR(36) NULL,
  PRIMARY KEY (`settlementParticipantCurrencyId`),
  KEY `settlementparticipantcurrency_settlementid_index` (`settlementId`),
  KEY `settlementparticipantcurrency_participantcurrencyid_index` (`participantCurrencyId`),
  KEY `settlementparticipantcurrency_settlementtransferid_index` (`settlementTransferId`),
  KEY `spc_currentstatechangeid_foreign` (`currentStateChangeId`),
  CONSTRAINT `settlementparticipantcurrency_settlementid_foreign` FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`),
  CONSTRAINT `settlementparticipantcurrency_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `settlementParticipantCurrencyStateChange` (
  `settlementParticipantCurrencyStateChangeId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementParticipantCurrencyId` BIGINT UNSIGNED NOT NULL,
  `settlementStateId` VARCHAR(50) NOT NULL,
  `reason` VARCHAR(512) NULL,
  `externalReference` VARCHAR(50) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementParticipantCurrencyStateChangeId`),
  KEY `spcsc_settlementparticipantcurrencyid_index` (`settlementParticipantCurrencyId`),
  KEY `spcsc_settlementstateid_index` (`settlementStateId`),
  CONSTRAINT `spcsc_settlementparticipantcurrencyid_foreign` FOREIGN KEY (`settlementParticipantCurrencyId`) REFERENCES `settlementParticipantCurrency` (`settlementParticipantCurrencyId`),
  CONSTRAINT `spcsc_settlementstateid_foreign` FOREIGN KEY (`settlementStateId`) REFERENCES `settlementState` (`settlementStateId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE `settlementParticipantCurrency` ADD CONSTRAINT `spc_currentstatechangeid_foreign`
  FOREIGN KEY (`currentStateChangeId`) REFERENCES `settlementParticipantCurrencyStateChange` (`settlementParticipantCurrencyStateChangeId`);

-- Legacy in Mojaloop (nothing writes it there either); kept so operator SQL that names it works.
CREATE TABLE `settlementTransferParticipant` (
  `settlementTransferParticipantId` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `settlementId` BIGINT UNSIGNED NOT NULL,
  `settlementWindowId` BIGINT UNSIGNED NOT NULL,
  `participantCurrencyId` INT UNSIGNED NOT NULL,
  `transferParticipantRoleTypeId` INT UNSIGNED NOT NULL,
  `ledgerEntryTypeId` INT UNSIGNED NOT NULL,
  `amount` DECIMAL(18,4) NOT NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`settlementTransferParticipantId`),
  KEY `settlementtransferparticipant_settlementid_index` (`settlementId`),
  KEY `settlementtransferparticipant_settlementwindowid_index` (`settlementWindowId`),
  KEY `settlementtransferparticipant_participantcurrencyid_index` (`participantCurrencyId`),
  KEY `stp_transferparticipantroletypeid_index` (`transferParticipantRoleTypeId`),
  KEY `settlementtransferparticipant_ledgerentrytypeid_index` (`ledgerEntryTypeId`),
  CONSTRAINT `settlementtransferparticipant_settlementid_foreign` FOREIGN KEY (`settlementId`) REFERENCES `settlement` (`settlementId`),
  CONSTRAINT `settlementtransferparticipant_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`),
  CONSTRAINT `settlementtransferparticipant_participantcurrencyid_foreign` FOREIGN KEY (`participantCurrencyId`) REFERENCES `participantCurrency` (`participantCurrencyId`),
  CONSTRAINT `stp_transferparticipantroletypeid_foreign` FOREIGN KEY (`transferParticipantRoleTypeId`) REFERENCES `transferParticipantRoleType` (`transferParticipantRoleTypeId`),
  CONSTRAINT `settlementtransferparticipant_ledgerentrytypeid_foreign` FOREIGN KEY (`ledgerEntryTypeId`) REFERENCES `ledgerEntryType` (`ledgerEntryTypeId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Ours, not Mojaloop's: the one OPEN window, as a single row. Whoever binds a transfer to the
-- open window reads this row with a shared lock (LOCK IN SHARE MODE) in the same transaction;
-- closing a window takes it exclusively. So a close waits for every transaction that is
-- putting a transfer into the window, and no transfer can land in a window after its close
-- committed (ARCHITECTURE.md, "Why a window close cannot miss a transfer").
CREATE TABLE `settlementWindowOpen` (
  `settlementWindowOpenId` TINYINT UNSIGNED NOT NULL,
  `settlementWindowId` BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (`settlementWindowOpenId`),
  CONSTRAINT `settlementwindowopen_settlementwindowid_foreign` FOREIGN KEY (`settlementWindowId`) REFERENCES `settlementWindow` (`settlementWindowId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `settlementWindowOpen` (`settlementWindowOpenId`, `settlementWindowId`)
  SELECT 1, MAX(sw.settlementWindowId) FROM `settlementWindow` sw
  JOIN `settlementWindowStateChange` swsc ON swsc.settlementWindowStateChangeId = sw.currentStateChangeId
  WHERE swsc.settlementWindowStateId = 'OPEN';
