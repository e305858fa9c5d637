DROP TABLE IF EXISTS `oracleEndpoint`;
DROP TABLE IF EXISTS `partyIdType`;
DROP TABLE IF EXISTS `endpointType`;
DROP TABLE IF EXISTS `currency`;
