DROP TABLE IF EXISTS `transferExpiryNotice`;
