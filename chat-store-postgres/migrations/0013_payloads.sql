-- Structured messages (chat_core::payload): a message's typed content, `{"kind", "data"}`,
-- NULL for plain messages and once deleted. Adding a nullable column without a default
-- rewrites nothing, so this is instant on a large table.
ALTER TABLE messages ADD COLUMN payload jsonb;
