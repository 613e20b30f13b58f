//! Structured messages: a message may carry a typed [`Payload`], a `kind` and JSON `data`,
//! that clients render as more than text: a poll, a task card, an expense.
//!
//! A host registers each kind it accepts with a [`PayloadKind`], which validates (and may
//! normalize) the data of new messages of that kind. The engine checks what holds for every
//! kind first: a registered name, a bounded size and depth, and strings without NUL or other
//! control characters (PostgreSQL's `jsonb` cannot store NUL, and a control character in
//! a card is as unwelcome as in text). [`poll`](crate::poll) is the built-in kind.
//!
//! A payload changes after sending only through [`ChatService`](crate::ChatService) use
//! cases: votes and closing for polls, and
//! [`update_payload`](crate::ChatService::update_payload) by the author for a host's kinds.
//! Each change is a [`ChangeKind::PayloadUpdated`](crate::ChangeKind::PayloadUpdated) in the
//! room log, so live clients, the change feed and webhooks all see it. Deleting a message
//! clears its payload, as it clears the text.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// A message's typed content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Payload {
    /// The registered kind, such as `poll`.
    pub kind: String,
    /// The kind's data, as its [`PayloadKind`] validated it.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

/// The largest payload, in bytes of its JSON data.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// The deepest nesting of arrays and objects in a payload's data.
pub const MAX_PAYLOAD_DEPTH: usize = 16;

/// Validates the data of one payload kind. Registered with
/// [`ChatServiceBuilder::payload_kind`](crate::ChatServiceBuilder::payload_kind).
///
/// ```
/// use chat_core::{Error, PayloadKind, Result};
/// use serde_json::Value;
///
/// /// A task card: `{"title": "…", "done": false}`.
/// #[derive(Debug)]
/// struct Task;
///
/// impl PayloadKind for Task {
///     fn validate(&self, data: Value, _text: &str) -> Result<Value> {
///         let title = data.get("title").and_then(Value::as_str).unwrap_or("");
///         if title.trim().is_empty() {
///             return Err(Error::validation("payload.data.title", "a task needs a title"));
///         }
///         let done = data.get("done").and_then(Value::as_bool).unwrap_or(false);
///         Ok(serde_json::json!({ "title": title.trim(), "done": done }))
///     }
/// }
/// ```
pub trait PayloadKind: fmt::Debug + Send + Sync + 'static {
    /// Checks `data` for a message whose text is `text`, and returns the data to store.
    /// Called for new messages, and for the author's updates of a host kind.
    ///
    /// # Errors
    /// [`Error::Validation`], naming the offending field (`payload.data…`), for data this kind
    /// does not accept.
    fn validate(&self, data: Value, text: &str) -> Result<Value>;
}

/// The payload kinds a service accepts: the built-in [`poll`](crate::poll), which the service
/// registers, and those the host registered.
#[derive(Debug, Clone, Default)]
pub struct PayloadKinds {
    kinds: BTreeMap<String, Arc<dyn PayloadKind>>,
}

impl PayloadKinds {
    /// Registers a kind.
    ///
    /// # Errors
    /// [`Error::Validation`] (`kind`) for a name that is not 1 to 64 of `a-z`, `0-9`, `_`,
    /// `-`, `.` starting with a letter, or that is registered already (`poll` is built in).
    pub fn register(&mut self, name: &str, kind: Arc<dyn PayloadKind>) -> Result<()> {
        validate_kind_name(name)?;
        if self.kinds.contains_key(name) {
            return Err(Error::validation(
                "kind",
                format!("{name} is registered already"),
            ));
        }
        self.kinds.insert(name.to_owned(), kind);
        Ok(())
    }

    /// Whether `name` is registered.
    #[must_use]
    pub fn contains(&self, name: &str) -> bool {
        self.kinds.contains_key(name)
    }

    /// Checks a payload of a message whose text is `text`: the rules of every kind, then its
    /// kind's own. Returns the payload to store.
    ///
    /// # Errors
    /// [`Error::Validation`] on `payload.kind` for an unknown kind, on `payload.data` for data
    /// too large, too deep or with a control character in a string, and whatever the kind's
    /// validator answers.
    pub fn validate(&self, payload: Payload, text: &str) -> Result<Payload> {
        let Some(kind) = self.kinds.get(&payload.kind) else {
            return Err(Error::validation(
                "payload.kind",
                format!("unknown kind {:?}", truncated(&payload.kind)),
            ));
        };
        check_data(&payload.data)?;
        let data = kind.validate(payload.data, text)?;
        // The kind's output obeys the same bounds: a validator cannot smuggle NUL into jsonb.
        check_data(&data)?;
        Ok(Payload {
            kind: payload.kind,
            data,
        })
    }
}

/// Checks what holds for the data of every kind.
fn check_data(data: &Value) -> Result<()> {
    let size = serde_json::to_vec(data).map_err(Error::internal)?.len();
    if size > MAX_PAYLOAD_BYTES {
        return Err(Error::validation(
            "payload.data",
            format!("too large ({size} bytes; max {MAX_PAYLOAD_BYTES})"),
        ));
    }
    check_value(data, 0)
}

fn check_value(value: &Value, depth: usize) -> Result<()> {
    let check_str = |s: &str| {
        if s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            Err(Error::validation(
                "payload.data",
                "strings must not contain NUL or other control characters",
            ))
        } else {
            Ok(())
        }
    };
    match value {
        Value::String(s) => check_str(s),
        Value::Array(_) | Value::Object(_) if depth >= MAX_PAYLOAD_DEPTH => Err(Error::validation(
            "payload.data",
            format!("nested too deeply (max {MAX_PAYLOAD_DEPTH} levels)"),
        )),
        Value::Array(items) => items.iter().try_for_each(|v| check_value(v, depth + 1)),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            check_str(k)?;
            check_value(v, depth + 1)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn validate_kind_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(Error::validation(
            "kind",
            "must be 1 to 64 of a-z, 0-9, '_', '-', '.', starting with a letter",
        ))
    }
}

/// At most 64 characters of an unknown kind, for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(err: Error) -> String {
        err.validation_field()
    }

    #[derive(Debug)]
    struct Anything;
    impl PayloadKind for Anything {
        fn validate(&self, data: Value, _: &str) -> Result<Value> {
            Ok(data)
        }
    }

    fn kinds() -> PayloadKinds {
        let mut kinds = PayloadKinds::default();
        kinds.register("note", Arc::new(Anything)).unwrap();
        kinds
    }

    fn note(data: Value) -> Payload {
        Payload {
            kind: "note".into(),
            data,
        }
    }

    #[test]
    fn kind_names_are_checked_and_unique() {
        let mut kinds = kinds();
        for bad in ["", "Note", "1note", "no te", "note", &"a".repeat(65)] {
            assert_eq!(
                field(kinds.register(bad, Arc::new(Anything)).unwrap_err()),
                "kind"
            );
        }
        kinds.register("acme.task-v2", Arc::new(Anything)).unwrap();
    }

    #[test]
    fn unknown_kinds_are_refused() {
        let payload = Payload {
            kind: "task".into(),
            data: json!({}),
        };
        assert_eq!(
            field(kinds().validate(payload, "").unwrap_err()),
            "payload.kind"
        );
    }

    #[test]
    fn nul_controls_depth_and_size_are_refused_in_every_kind() {
        let kinds = kinds();
        let mut deep = json!(1);
        for _ in 0..=MAX_PAYLOAD_DEPTH {
            deep = json!([deep]);
        }
        for data in [
            json!({"a": "x\u{0}y"}),
            json!({"a\u{7}": 1}),
            json!(["\u{1b}[31m"]),
            deep,
            json!({"a": "x".repeat(MAX_PAYLOAD_BYTES)}),
        ] {
            assert_eq!(
                field(kinds.validate(note(data), "").unwrap_err()),
                "payload.data"
            );
        }
        let fine = json!({"a": "line\nbreak\ttab", "n": [1, 2.5, null, true]});
        assert_eq!(kinds.validate(note(fine.clone()), "").unwrap().data, fine);
    }
}
