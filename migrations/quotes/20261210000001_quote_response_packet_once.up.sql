-- The ILP packet of a quote response was stored twice: in its own `ilpPacket` column and inside
-- `body` (the response as received, which carries `ilpPacket`). Nothing read the column; it was
-- about 1.6 KB of every payment's writes (a fifth of the rows' bytes at 400 payments/s, and
-- what a long run fills the buffer pool with). The packet stays in `body`, and the ledger keeps
-- the transfer's own in `central_ledger.ilpPacket`.
ALTER TABLE `quoteResponse` DROP COLUMN `ilpPacket`;
