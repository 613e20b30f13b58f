-- Sign-in accounts (chat_core::account): optional, for hosts without their own identity.
-- The email is stored normalized (trimmed, lowercased), so the primary key is the uniqueness
-- rule and the sign-in lookup at once.
CREATE TABLE accounts (
    email         text PRIMARY KEY,
    user_id       uuid        NOT NULL UNIQUE REFERENCES users (id),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
