-- Outgoing webhooks (chat_core::webhook). The rooms' change logs are the outbox: a webhook
-- keeps one position per room, so nothing is copied when a change commits, and a restart
-- resumes from the positions.
CREATE TABLE webhooks (
    id         uuid PRIMARY KEY,
    event_id   uuid        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    url        text        NOT NULL,
    secret     text        NOT NULL,
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhooks_by_event ON webhooks (event_id);

CREATE TABLE webhook_positions (
    webhook_id uuid   NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    room_id    uuid   NOT NULL,
    delivered  bigint NOT NULL,
    attempts   integer NOT NULL,
    retry_at   timestamptz,
    PRIMARY KEY (webhook_id, room_id)
);

CREATE TABLE webhook_dead_letters (
    id         uuid PRIMARY KEY,
    webhook_id uuid        NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    room_id    uuid        NOT NULL,
    seq        bigint      NOT NULL,
    attempts   integer     NOT NULL,
    last_error text        NOT NULL,
    failed_at  timestamptz NOT NULL
);
CREATE INDEX webhook_dead_letters_by_webhook ON webhook_dead_letters (webhook_id, id DESC);
