-- Service accounts (chat_core::User::is_bot): their messages are marked as written by a bot.
ALTER TABLE users ADD COLUMN IF NOT EXISTS is_bot boolean NOT NULL DEFAULT false;
