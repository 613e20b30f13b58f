-- Bots' tokens (chat_core::bot_token): opaque and revocable, so each use is checked here.
-- Only a SHA-256 of the secret is kept; the token itself is shown once, when issued.
CREATE TABLE bot_tokens (
    id            uuid PRIMARY KEY,
    bot_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id      uuid        NOT NULL,
    created_by    uuid        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    secret_sha256 text        NOT NULL
);
-- A bot's tokens, newest first, for the list its admins read.
CREATE INDEX bot_tokens_by_bot ON bot_tokens (bot_id, id DESC);
