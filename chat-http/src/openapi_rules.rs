//! The rules the server enforces, written into the OpenAPI document, and the WebSocket frames.
//!
//! The route and type annotations describe shapes. What the server refuses (lengths, page
//! sizes, characters) comes from the [`Limits`] the service was built with, so it is written
//! here from that same value: a client generated from the document sends what the server
//! accepts, and a deployment with other limits publishes its own. The WebSocket carries JSON
//! frames that no route describes; they are the component schemas `WsClientFrame` and
//! `WsServerFrame` (a `oneOf` keyed on `type`), with the close codes.

use chat_core::Limits;
use serde_json::{Map, Value, json};

#[cfg(feature = "accounts")]
use crate::accounts::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use crate::state::HttpConfig;

/// A name (event, room, display or file name): not blank, and none of the characters that
/// `chat_core::validation` refuses in names (controls, invisible and direction-changing ones).
const NAME_PATTERN: &str = "^(?=[\\s\\S]*\\S)[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u200B-\\u200F\\u202A-\\u202E\\u2060\\u2066-\\u2069\\uFEFF]*$";

/// An event's kind: blank (no kind), or a name's characters.
const KIND_PATTERN: &str = "^(?:\\s*|[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD\\u061C\\u200B-\\u200F\\u202A-\\u202E\\u2060\\u2066-\\u2069\\uFEFF]*)$";

/// An email as `chat_core::account::normalize_email` takes it: around the spaces it trims,
/// `local@domain` with no space or control character, and a domain of dot-separated,
/// non-empty labels.
const EMAIL_PATTERN: &str = "^\\s*[^@\\s\\u0000-\\u001F\\u007F-\\u009F]+@[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+(?:\\.[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+)+\\s*$";

/// An avatar URL as `chat_core::validation` takes it: http(s), no space, no control
/// character.
const AVATAR_URL_PATTERN: &str = "^https?://[^\\s\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Text without control characters (Unicode's `Cc`), which `chat_core::validation` refuses in
/// queries and keys.
const NO_CONTROLS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A UUID, as ids are written.
const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// Writes the limits and the WebSocket frames into `api` (an OpenAPI document as JSON).
pub(crate) fn apply(api: &mut Value, limits: &Limits, config: &HttpConfig) {
    if !config.mount_path.is_empty() {
        // Paths stay as the router declares them (`/v1/…`); the server URL carries the prefix,
        // which is how OpenAPI resolves them.
        api["servers"] =
            json!([{"url": config.mount_path, "description": "where the host mounts the API"}]);
    }
    let name = |max: usize| json!({"minLength": 1, "maxLength": max, "pattern": NAME_PATTERN});
    let page = json!({"minimum": 1, "maximum": limits.max_page_size,
        "description": format!("page size, 1 to {} (default {})", limits.max_page_size, limits.default_page_size)});

    let schemas = &mut api["components"]["schemas"];
    for schema in ["NewEvent", "NewRoom", "RoomPatch"] {
        constrain(&mut schemas[schema], "name", name(limits.max_name_chars));
    }
    constrain(
        &mut schemas["NewEvent"],
        "kind",
        json!({"maxLength": limits.max_event_kind_chars, "pattern": KIND_PATTERN}),
    );
    constrain(
        &mut schemas["RoomPatch"],
        "slow_mode_secs",
        json!({"minimum": 0, "maximum": limits.max_slow_mode.as_secs()}),
    );
    for schema in ["ProfileInput", "SignUp", "NewBot"] {
        constrain(
            &mut schemas[schema],
            "display_name",
            name(limits.max_display_name_chars),
        );
    }
    constrain(
        &mut schemas["NewBot"],
        "avatar_url",
        json!({"maxLength": limits.max_avatar_url_bytes, "pattern": AVATAR_URL_PATTERN}),
    );
    constrain(
        &mut schemas["FeedRequest"],
        "wait_ms",
        json!({"minimum": 0, "maximum": crate::feed::MAX_WAIT_MS}),
    );
    constrain(
        &mut schemas["ProfileInput"],
        "avatar_url",
        json!({"maxLength": limits.max_avatar_url_bytes, "pattern": AVATAR_URL_PATTERN}),
    );
    #[cfg(feature = "accounts")]
    constrain(
        &mut schemas["SignUp"],
        "password",
        json!({"minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_BYTES, "pattern": NO_CONTROLS}),
    );
    let email = json!({"pattern": EMAIL_PATTERN});
    #[cfg(feature = "accounts")]
    constrain(&mut schemas["SignUp"], "email", email.clone());
    constrain(&mut schemas["InviteByEmail"], "email", email);
    let text = json!({"maxLength": limits.max_text_chars});
    constrain(&mut schemas["SendMessage"], "text", text.clone());
    constrain(&mut schemas["EditMessage"], "text", text);
    constrain(
        &mut schemas["SendMessage"],
        "attachment_ids",
        json!({"maxItems": limits.max_attachments, "uniqueItems": true}),
    );
    constrain(
        &mut schemas["SendMessage"],
        "client_msg_id",
        json!({"minLength": 1, "maxLength": limits.max_client_msg_id_chars, "pattern": "^[!-~]+$"}),
    );
    // Text may be empty or blank only beside an attachment or a payload. As `if`/`then`,
    // which validators check and client generators leave alone (an `anyOf` of partial objects
    // makes them split the model).
    schemas["SendMessage"]["if"] =
        json!({"properties": {"attachment_ids": {"maxItems": 0}, "payload": {"type": "null"}}});
    schemas["SendMessage"]["then"] =
        json!({"required": ["text"], "properties": {"text": {"pattern": "\\S"}}});
    // The feed's page size is in its body.
    constrain(&mut schemas["FeedRequest"], "limit", page.clone());
    let paths = &mut api["paths"];
    for (path, method) in [
        ("/v1/rooms/{room_id}/messages", "get"),
        ("/v1/rooms/{room_id}/changes", "get"),
        ("/v1/rooms/{room_id}/members/lookup", "get"),
        ("/v1/search", "get"),
        ("/v1/messages/{message_id}/replies", "get"),
        ("/v1/me/mentions", "get"),
        (
            "/v1/events/{event_id}/webhooks/{webhook_id}/dead-letters",
            "get",
        ),
    ] {
        constrain_param(&mut paths[path][method], "limit", page.clone());
    }
    for cursor in ["before", "after", "around"] {
        constrain_param(
            &mut paths["/v1/rooms/{room_id}/messages"]["get"],
            cursor,
            json!({"description": "a seq; give one of `before`, `after` and `around` (none: the newest page)"}),
        );
    }
    constrain_param(
        &mut paths["/v1/rooms/{room_id}/changes"]["get"],
        "after",
        json!({"description": "a seq the client has seen, at most the room's `last_seq`"}),
    );
    constrain_param(
        &mut paths["/v1/search"]["get"],
        "q",
        json!({"minLength": 1, "maxLength": limits.max_search_query_chars, "pattern": NO_CONTROLS,
            "description": "words to find (letters and digits count; at least one word)"}),
    );
    constrain_param(
        &mut paths["/v1/rooms"]["get"],
        "name",
        json!({"maxLength": limits.max_search_query_chars}),
    );
    constrain_param(
        &mut paths["/v1/presence"]["get"],
        "user_ids",
        json!({"pattern": format!("^ *{UUID} *(, *{UUID} *)*$"),
            "description": format!("1 to {} user ids, comma-separated", limits.max_presence_users)}),
    );
    constrain_param(
        &mut paths["/v1/rooms/{room_id}/members/lookup"]["get"],
        "prefix",
        json!({"maxLength": limits.max_display_name_chars, "pattern": NO_CONTROLS}),
    );
    for method in ["put", "delete"] {
        constrain_param(
            &mut paths["/v1/messages/{message_id}/reactions/{key}"][method],
            "key",
            json!({"minLength": 1, "maxLength": limits.max_reaction_key_bytes, "pattern": "^[^\\s\\u0000-\\u001F\\u007F-\\u009F]+$",
                "description": format!("an emoji or short name, at most {} bytes, no whitespace", limits.max_reaction_key_bytes)}),
        );
    }

    let schemas = api["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas");
    schemas.insert("WsClientFrame".into(), client_frames(limits));
    schemas.insert("WsServerFrame".into(), server_frames(config));
}

/// Merges `rules` into the property `prop` of an object schema.
fn constrain(schema: &mut Value, prop: &str, rules: Value) {
    let target = &mut schema["properties"][prop];
    merge(target, rules);
}

/// Merges `rules` into the schema (and, for a description, the parameter) of a parameter.
fn constrain_param(operation: &mut Value, name: &str, mut rules: Value) {
    let Some(params) = operation["parameters"].as_array_mut() else {
        return;
    };
    let Some(param) = params.iter_mut().find(|p| p["name"] == name) else {
        return;
    };
    if let Some(description) = rules.as_object_mut().and_then(|r| r.remove("description")) {
        param["description"] = description;
    }
    merge(&mut param["schema"], rules);
}

fn merge(target: &mut Value, rules: Value) {
    if let (Some(target), Value::Object(rules)) = (target.as_object_mut(), rules) {
        target.extend(rules);
    }
}

fn frame(kind: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    let mut props = Map::new();
    props.insert("type".into(), json!({"type": "string", "enum": [kind]}));
    if let Value::Object(p) = properties {
        props.extend(p);
    }
    let mut required: Vec<&str> = required.to_vec();
    required.insert(0, "type");
    json!({"type": "object", "title": kind, "description": description,
        "properties": props, "required": required})
}

/// The frames of one direction, each titled after it (`WsClientSend`): generators name the
/// frame's model and its inline enums by title, so a title shared by both directions or with
/// a component (`presence`, `PresenceStatus`) would clash.
fn one_of(direction: &str, description: String, mut frames: Vec<Value>) -> Value {
    for frame in &mut frames {
        if let Some(kind) = frame["title"].as_str() {
            frame["title"] = json!(format!(
                "Ws{direction}{}",
                crate::openapi_shapes::camel(kind)
            ));
        }
    }
    json!({"description": description, "oneOf": frames, "discriminator": {"propertyName": "type"}})
}

const ROOM: &str = "#/components/schemas/RoomId";

fn client_frames(limits: &Limits) -> Value {
    let room = json!({"$ref": ROOM});
    let seq = json!({"type": "integer", "format": "int64", "minimum": 0});
    let send = {
        let mut props = json!({"room_id": room});
        if let Value::Object(p) = json!({
            "text": {"type": "string", "maxLength": limits.max_text_chars},
            "client_msg_id": {"type": "string", "minLength": 1, "maxLength": limits.max_client_msg_id_chars, "pattern": "^[!-~]+$"},
            "reply_to": {"$ref": "#/components/schemas/MessageId"},
            "attachment_ids": {"type": "array", "maxItems": limits.max_attachments, "uniqueItems": true, "items": {"$ref": "#/components/schemas/AttachmentId"}}
        }) {
            merge(&mut props, Value::Object(p));
        }
        props
    };
    one_of(
        "Client",
        "A frame the client sends on /v1/ws (JSON text). Without a `token` query parameter the \
         first frame must be `auth`, within the auth timeout, or the connection is closed with \
         1008."
            .into(),
        vec![
            frame(
                "auth",
                "authenticates the connection (first frame only)",
                json!({"token": {"type": "string"}}),
                &["token"],
            ),
            frame(
                "subscribe",
                "follows a room; with `since_seq` (at most the room's last seq) it first replays every change after it, paced by the client's reading",
                json!({"room_id": room, "since_seq": seq}),
                &["room_id"],
            ),
            frame(
                "unsubscribe",
                "stops following a room",
                json!({"room_id": room}),
                &["room_id"],
            ),
            frame(
                "send",
                "posts a message, as `POST /v1/rooms/{room_id}/messages`; answered by `ack` or `error`",
                send,
                &["room_id"],
            ),
            frame(
                "typing",
                "announces typing (throttled; never stored)",
                json!({"room_id": room}),
                &["room_id"],
            ),
            frame(
                "read",
                "marks the room read up to `seq`",
                json!({"room_id": room, "seq": seq}),
                &["room_id", "seq"],
            ),
            frame(
                "presence",
                "says whether this connection is in use (`online`) or not (`away`: a hidden tab, an idle device); the user is online while any of their connections is",
                json!({"status": {"type": "string", "enum": ["online", "away"]}}),
                &["status"],
            ),
            frame(
                "presence_subscribe",
                "follows these people's presence (each must share an event with the caller), replacing the set followed before: a `presence` frame for each now, then one per change of status",
                json!({"user_ids": {"type": "array", "minItems": 1, "maxItems": limits.max_presence_users,
                    "items": {"$ref": "#/components/schemas/UserId"}}}),
                &["user_ids"],
            ),
            frame(
                "unread_subscribe",
                "follows the caller's unread and mention counts in every room they can read, without subscribing to the rooms: one `unread` frame with every room now, then one per change",
                json!({}),
                &[],
            ),
            frame("ping", "asks for a `pong`", json!({}), &[]),
        ],
    )
}

fn server_frames(config: &HttpConfig) -> Value {
    let room = json!({"$ref": ROOM});
    let seq = json!({"type": "integer", "format": "int64", "minimum": 0});
    // Every message change by its name, so a new kind cannot be left out of the document.
    let kinds: Vec<&str> = chat_core::MessageChange::ALL
        .iter()
        .map(|c| c.name())
        .chain([
            "member_joined",
            "member_updated",
            "member_left",
            "room_updated",
        ])
        .collect();
    let change_props = json!({
        "room_id": room, "seq": seq,
        "at": {"$ref": "#/components/schemas/Timestamp"},
        "kind": {"type": "string", "enum": kinds},
        "data": {"description": "what `RoomChange` carries for the kind: a `Message` (messages as they are now), a `RoomMember`, `{user_id}` or a `Room`"}
    });
    let error_props = json!({
        "code": {"type": "string"}, "message": {"type": "string"},
        "field": {"type": "string"}, "retry_after_ms": {"type": "integer", "minimum": 0},
        "client_msg_id": {"type": "string"}, "room_id": room
    });
    one_of(
        "Server",
        format!(
            "A frame the server sends on /v1/ws (JSON text). The server also pings every {} s \
             and closes a connection that shows no sign of life for two intervals. Close codes: \
             1000 answers the client's close; 1001 no answer to pings; 1002 protocol error; \
             1007 a text frame that is not UTF-8; 1008 authentication failed or missing, or \
             more than {} live frames queued for a client that does not read (resume with \
             `since_seq`); 1009 a message over {} bytes; 1012 the server is restarting \
             (resume with `since_seq`).",
            config.ws_ping_interval.as_secs(),
            config.ws_outbound_queue,
            config.ws_max_message
        ),
        vec![
            frame(
                "subscribed",
                "the subscription is live; `last_seq` is the last change delivered or replayed",
                json!({"room_id": room, "last_seq": seq}),
                &["room_id", "last_seq"],
            ),
            frame(
                "event",
                "one change of a followed room, in seq order, each exactly once",
                change_props,
                &["room_id", "seq", "at", "kind", "data"],
            ),
            frame(
                "typing",
                "someone else is typing",
                json!({"room_id": room, "user_id": {"$ref": "#/components/schemas/UserId"},
                    "display_name": {"type": "string"}}),
                &["room_id", "user_id", "display_name"],
            ),
            frame(
                "receipt",
                "a member (the caller included, from another connection) read the room up to `seq`; not sent in rooms with read receipts off",
                json!({"room_id": room, "user_id": {"$ref": "#/components/schemas/UserId"}, "seq": seq}),
                &["room_id", "user_id", "seq"],
            ),
            frame(
                "presence",
                "a followed person's presence: now, then at each change of status",
                json!({"user_id": {"$ref": "#/components/schemas/UserId"},
                    "status": {"type": "string", "enum": ["online", "away", "offline"]},
                    "last_active_at": {"oneOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}]}}),
                &["user_id", "status"],
            ),
            frame(
                "unread",
                "unread and mention counts: first every readable room, then the rooms whose counts changed (a new room appears here), and `gone`, rooms the caller can no longer read",
                json!({"rooms": {"type": "array", "items": {"$ref": "#/components/schemas/Unread"}},
                    "gone": {"type": "array", "items": {"$ref": ROOM}}}),
                &["rooms", "gone"],
            ),
            frame(
                "ack",
                "a `send` was stored (or, `replayed`, had been stored before under its `client_msg_id`)",
                json!({"client_msg_id": {"type": ["string", "null"]}, "replayed": {"type": "boolean"},
                    "message": {"$ref": "#/components/schemas/Message"}}),
                &["replayed", "message"],
            ),
            frame(
                "error",
                "a refused frame, with the code and message of the REST errors, and what it concerns",
                error_props,
                &["code", "message"],
            ),
            frame("pong", "answers `ping`", json!({}), &[]),
        ],
    )
}
