-- Direct rooms (chat_core::ChatService::open_direct_room): a room kind of their own, and the
-- one room of each set of people, by the key that names the set (the sorted ids).
ALTER TABLE rooms DROP CONSTRAINT rooms_kind_check;
ALTER TABLE rooms ADD CONSTRAINT rooms_kind_check
    CHECK (kind IN ('main', 'topic', 'announcement', 'direct'));

CREATE TABLE direct_rooms (
    key     text PRIMARY KEY,
    room_id uuid NOT NULL UNIQUE REFERENCES rooms (id) ON DELETE CASCADE
);
