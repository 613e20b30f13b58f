-- Attachment uploads (chat_core::attachment). The bytes live in a blob store; a row holds the
-- metadata a message shows (`attachment`, chat_core::Attachment as JSON) and where the upload
-- stands: unattached (`message_id` NULL), attached, or discarded when its message was deleted.
CREATE TABLE uploads (
    id         uuid PRIMARY KEY,
    room_id    uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    uploader   uuid        NOT NULL REFERENCES users (id),
    attachment jsonb       NOT NULL,
    message_id uuid        REFERENCES messages (id) ON DELETE CASCADE,
    discarded  boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

-- What the collector reads: discarded uploads, and unattached ones by age. Attached, live
-- uploads (nearly all of them) stay out of this index, so collection never scans them.
CREATE INDEX uploads_collectable ON uploads (created_at) WHERE message_id IS NULL OR discarded;

-- Deleting a message discards its uploads.
CREATE INDEX uploads_by_message ON uploads (message_id) WHERE message_id IS NOT NULL;
