-- Read receipts can be turned off per room (chat_core::Room::read_receipts).
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS read_receipts boolean NOT NULL DEFAULT true;
