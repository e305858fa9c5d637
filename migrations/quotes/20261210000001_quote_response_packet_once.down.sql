-- The column comes back empty: the packets are in `body`.
ALTER TABLE `quoteResponse` ADD COLUMN `ilpPacket` TEXT NULL AFTER `ilpCondition`;
