-- chat-engine schema. Every index names the access path it serves.

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    display_name text        NOT NULL,
    avatar_url   text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE events (
    id         uuid PRIMARY KEY,
    name       text        NOT NULL,
    kind       text        NOT NULL,
    created_by uuid        NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL
);

CREATE TABLE event_members (
    event_id  uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id   uuid        NOT NULL REFERENCES users (id),
    role      text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
-- "My events": every permission check and listing starts from the caller.
CREATE INDEX event_members_by_user ON event_members (user_id, event_id);

CREATE TABLE rooms (
    id              uuid PRIMARY KEY,
    event_id        uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('main', 'topic', 'announcement')),
    visibility      text        NOT NULL CHECK (visibility IN ('public', 'private')),
    archived        boolean     NOT NULL DEFAULT false,
    slow_mode_secs  integer     NOT NULL DEFAULT 0 CHECK (slow_mode_secs >= 0),
    created_by      uuid        NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL,
    last_message_at timestamptz,
    -- The room's latest seq. Incrementing it in the writing transaction row-locks the room,
    -- which serialises seq assignment per room: gap-free, never duplicated.
    last_seq        bigint      NOT NULL DEFAULT 0,
    -- Messages ever posted here: system metrics sum these instead of counting messages.
    message_count   bigint      NOT NULL DEFAULT 0
);
-- Room names are unique per event ignoring case; racing creations fail with a unique
-- violation that the store reports as Conflict. Also serves "rooms of an event".
CREATE UNIQUE INDEX rooms_event_name ON rooms (event_id, lower(name));

CREATE TABLE room_members (
    room_id       uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       uuid        NOT NULL REFERENCES users (id),
    role          text        NOT NULL CHECK (role IN ('moderator', 'member')),
    muted_until   timestamptz,
    banned        boolean     NOT NULL DEFAULT false,
    last_read_seq bigint      NOT NULL DEFAULT 0,
    joined_at     timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
-- A user's memberships: the readable rooms for search and listings.
CREATE INDEX room_members_by_user ON room_members (user_id);

-- Mention autocomplete: display-name prefix match, ignoring case. text_pattern_ops lets
-- `lower(display_name) LIKE 'pre%'` use the index whatever the database collation.
CREATE INDEX users_name_prefix ON users (lower(display_name) text_pattern_ops);

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    room_id         uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    author_id       uuid        NOT NULL REFERENCES users (id),
    author_name     text        NOT NULL,
    author_avatar   text,
    text            text        NOT NULL,
    -- The search tokens of `text` (chat_core::search::tokens), computed by the store so every
    -- backend matches the same words. Emptied on deletion.
    tokens          text[]      NOT NULL,
    mentions        uuid[]      NOT NULL,
    attachments     jsonb       NOT NULL,
    reply_to        uuid,
    reactions       jsonb       NOT NULL,
    client_msg_id   text,
    is_edited       boolean     NOT NULL DEFAULT false,
    edited_at       timestamptz,
    is_deleted      boolean     NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    is_ai_generated boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL
);
-- Keyset history in both directions: `seq < $1 ORDER BY seq DESC` and `seq > $1 ORDER BY seq`.
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
-- Idempotent sends: one message per (author, client_msg_id).
CREATE UNIQUE INDEX messages_author_client_msg_id ON messages (author_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
-- Rate-limit admission reads an author's newest sends; slow mode reads their last in a room.
CREATE INDEX messages_author_time ON messages (author_id, created_at DESC);
-- System metrics count the last hour and day: the cost follows the window, not the history.
CREATE INDEX messages_time ON messages (created_at);
-- Search: token containment (`tokens @> $words`), never matching deleted messages.
CREATE INDEX messages_tokens ON messages USING gin (tokens) WHERE NOT is_deleted;

CREATE TABLE room_changes (
    room_id uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq     bigint      NOT NULL,
    at      timestamptz NOT NULL,
    -- The serialized chat_core::ChangeKind: a snapshot after the change.
    change  jsonb       NOT NULL,
    -- Catch-up: `seq > $1 ORDER BY seq` for one room.
    PRIMARY KEY (room_id, seq)
);
