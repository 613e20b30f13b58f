-- A message change names its message instead of copying it. Reading the log joins the
-- message as it is now, so after a deletion no entry returns its text, mentions or
-- attachments, and after an edit no entry returns the replaced text (chat_core::change).
-- For a message change, `change` holds only its kind: {"kind": "message_edited"}.
--
-- No foreign key: messages are never removed on their own (deletion leaves a tombstone; a
-- room's removal cascades to both tables), and the check would cost every send a lookup.
ALTER TABLE room_changes ADD COLUMN IF NOT EXISTS message_id uuid;

-- Redact what earlier versions copied into the log.
UPDATE room_changes
   SET message_id = (change -> 'data' ->> 'id')::uuid,
       change = jsonb_build_object('kind', change ->> 'kind')
 WHERE change ->> 'kind' IN ('message_posted', 'message_edited', 'message_deleted', 'reactions_changed')
   AND change ? 'data';
