-- Threads: each message counts its live replies and knows when the newest was posted
-- (chat_core::Message::reply_count, last_reply_at), and replies are read by parent.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS reply_count integer NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS last_reply_at timestamptz;

CREATE INDEX IF NOT EXISTS messages_replies ON messages (reply_to, seq) WHERE reply_to IS NOT NULL;

-- Replies stored before this migration count too.
UPDATE messages p SET reply_count = t.n, last_reply_at = t.last
FROM (SELECT reply_to, count(*) AS n, max(created_at) AS last
      FROM messages WHERE reply_to IS NOT NULL AND NOT is_deleted GROUP BY reply_to) t
WHERE p.id = t.reply_to;
