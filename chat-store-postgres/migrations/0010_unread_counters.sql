-- Unread counts without walking the unread messages (chat_core::Unread): O(1) per room, plus
-- one index probe per room that has deletions.
--
-- For a member whose read position is `last_read_seq`:
--
--   unread messages = rooms.message_count               every message ever posted
--                   - room_members.read_ordinal         ... up to the read position
--                   - room_members.own_after_read       ... by the member, after it
--                   - deleted messages by others after it (the partial index below)
--   unread mentions = room_members.mentions_after_read
--
-- `messages.ordinal` numbers a room's messages 1, 2, 3… (the room's message_count when it was
-- posted), so the read position's ordinal is one index lookup. The counters move in the
-- transactions that change what they count: a send adds to its author's own_after_read and to
-- each mentioned member's mentions_after_read; an edit or deletion adjusts the mentions of
-- members who had not read it; marking read recomputes all three for the new position (a walk
-- of what is after it, which is where the reader is looking).

ALTER TABLE messages ADD COLUMN IF NOT EXISTS ordinal bigint;
UPDATE messages m SET ordinal = o.n
FROM (SELECT id, row_number() OVER (PARTITION BY room_id ORDER BY seq) AS n FROM messages) o
WHERE o.id = m.id AND m.ordinal IS DISTINCT FROM o.n;
ALTER TABLE messages ALTER COLUMN ordinal SET NOT NULL;

UPDATE rooms r SET message_count = (SELECT count(*) FROM messages m WHERE m.room_id = r.id);
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS deleted_count bigint NOT NULL DEFAULT 0;
UPDATE rooms r SET deleted_count = (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.is_deleted);

ALTER TABLE room_members
    ADD COLUMN IF NOT EXISTS read_ordinal bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS own_after_read bigint NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS mentions_after_read bigint NOT NULL DEFAULT 0;
UPDATE room_members rm SET
    read_ordinal = coalesce((SELECT m.ordinal FROM messages m
        WHERE m.room_id = rm.room_id AND m.seq <= rm.last_read_seq ORDER BY m.seq DESC LIMIT 1), 0),
    own_after_read = (SELECT count(*) FROM messages m
        WHERE m.room_id = rm.room_id AND m.seq > rm.last_read_seq AND m.author_id = rm.user_id),
    mentions_after_read = (SELECT count(*) FROM messages m
        WHERE m.room_id = rm.room_id AND m.seq > rm.last_read_seq AND m.author_id <> rm.user_id
          AND NOT m.is_deleted AND m.mentions @> ARRAY[rm.user_id]);

-- A member's rooms with their counters, answered from the index alone: 1,000 memberships
-- are a few index pages instead of a heap page each (5 ms to 1.8 ms measured at a thousand
-- rooms). It serves every lookup by user, so it replaces the plain index on user_id.
CREATE INDEX IF NOT EXISTS room_members_by_user_unread ON room_members (user_id)
    INCLUDE (room_id, banned, last_read_seq, read_ordinal, own_after_read, mentions_after_read);
DROP INDEX IF EXISTS room_members_by_user;

-- Deleted messages after a read position, answered from the index alone.
CREATE INDEX IF NOT EXISTS messages_deleted ON messages (room_id, seq) INCLUDE (author_id)
    WHERE is_deleted;
