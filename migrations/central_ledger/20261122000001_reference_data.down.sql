-- Reverts 20261122000001_reference_data.up.sql: drops the reference tables, children first
-- (ledgerEntryType refers to ledgerAccountType).
DROP TABLE IF EXISTS `settlementDelay`;
DROP TABLE IF EXISTS `settlementInterchange`;
DROP TABLE IF EXISTS `settlementGranularity`;
DROP TABLE IF EXISTS `settlementState`;
DROP TABLE IF EXISTS `settlementWindowState`;
DROP TABLE IF EXISTS `endpointType`;
DROP TABLE IF EXISTS `transferState`;
DROP TABLE IF EXISTS `transferParticipantRoleType`;
DROP TABLE IF EXISTS `participantLimitType`;
DROP TABLE IF EXISTS `ledgerEntryType`;
DROP TABLE IF EXISTS `ledgerAccountType`;
DROP TABLE IF EXISTS `currency`;
