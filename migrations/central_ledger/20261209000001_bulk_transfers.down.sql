DROP TABLE IF EXISTS `bulkTransferNotice`;
DROP TABLE IF EXISTS `bulkTransferMessage`;
DROP TABLE IF EXISTS `bulkTransferAssociation`;
DROP TABLE IF EXISTS `bulkTransferStateChange`;
DROP TABLE IF EXISTS `bulkTransfer`;
