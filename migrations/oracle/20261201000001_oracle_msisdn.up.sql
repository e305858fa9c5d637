-- The MSISDN oracle's one table: which DFSP holds each party identifier, optionally per
-- sub-id (`subId` = '' when the mapping has none) and per currency.
--
-- Table and column names are those of Mojaloop's reference oracle (als-msisdn-oracle-svc,
-- `oracleMSISDN(id, subId, fspId)`), so data can move between the two; `currency`,
-- `createdDate` and `updatedDate` are additions.
CREATE TABLE `oracleMSISDN` (
  `id` VARCHAR(128) NOT NULL,
  `subId` VARCHAR(128) NOT NULL DEFAULT '',
  `fspId` VARCHAR(32) NOT NULL,
  `currency` CHAR(3) NULL,
  `createdDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  `updatedDate` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`, `subId`),
  KEY `oraclemsisdn_fspid_index` (`fspId`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
