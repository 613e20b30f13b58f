-- The mention feed (chat_core::ChatService::mention_feed): live messages by who they mention.
CREATE INDEX IF NOT EXISTS messages_mentions ON messages USING gin (mentions) WHERE NOT is_deleted;
