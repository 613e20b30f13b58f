//! Polls, the built-in [structured message](crate::payload): the message's text is the
//! question, its payload of kind [`POLL_KIND`] the options, the votes and the tallies.
//!
//! A member votes for one option and may change or withdraw the vote until the poll is
//! closed, by its author or a moderator
//! ([`ChatService::vote_in_poll`](crate::ChatService::vote_in_poll),
//! [`close_poll`](crate::ChatService::close_poll)). Votes are public to the room, as in most
//! group chats: the payload maps each voter to their option. Every vote and the closing are
//! changes in the room log, carrying the tallies, so clients show them live.
//!
//! A new poll is sent as a payload `{"kind": "poll", "data": {"options": ["A", "B"]}}` beside
//! the question as text; the engine stores it with no votes, open.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::id::UserId;
use crate::message::Message;
use crate::payload::{Payload, PayloadKind};
use crate::validation;

/// The payload kind of polls.
pub const POLL_KIND: &str = "poll";

/// A poll's state, as its payload's data holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Poll {
    /// The options, in the author's order; votes name them by index.
    pub options: Vec<String>,
    /// Each voter's option.
    pub votes: BTreeMap<UserId, u32>,
    /// Votes per option, index for index: what the votes add up to, kept with them.
    pub counts: Vec<u32>,
    /// Whether voting has ended.
    pub closed: bool,
}

impl Poll {
    /// A new, open poll without votes.
    #[must_use]
    pub fn new(options: Vec<String>) -> Self {
        let counts = vec![0; options.len()];
        Self {
            options,
            votes: BTreeMap::new(),
            counts,
            closed: false,
        }
    }

    /// The poll a message carries, if it carries one.
    #[must_use]
    pub fn of(message: &Message) -> Option<Self> {
        let payload = message.payload.as_ref()?;
        if payload.kind != POLL_KIND {
            return None;
        }
        serde_json::from_value(payload.data.clone()).ok()
    }

    /// The payload that stores this poll.
    ///
    /// # Errors
    /// [`Error::Internal`] if it cannot be serialized, which does not happen.
    pub fn to_payload(&self) -> Result<Payload> {
        Ok(Payload {
            kind: POLL_KIND.to_owned(),
            data: serde_json::to_value(self).map_err(Error::internal)?,
        })
    }

    /// Records `voter`'s vote for `option`, replacing their earlier one, or withdraws it
    /// (`None`). Returns whether anything changed.
    ///
    /// # Errors
    /// [`Error::Conflict`] when the poll is closed; [`Error::Validation`] (`option`) for an
    /// option it does not have.
    pub fn vote(&mut self, voter: UserId, option: Option<u32>) -> Result<bool> {
        if self.closed {
            return Err(Error::conflict("the poll is closed"));
        }
        if let Some(index) = option
            && index as usize >= self.options.len()
        {
            return Err(Error::validation(
                "option",
                format!("the poll has options 0 to {}", self.options.len() - 1),
            ));
        }
        let previous = self.votes.get(&voter).copied();
        if previous == option {
            return Ok(false);
        }
        if let Some(old) = previous {
            self.counts[old as usize] -= 1;
            self.votes.remove(&voter);
        }
        if let Some(new) = option {
            self.counts[new as usize] += 1;
            self.votes.insert(voter, new);
        }
        Ok(true)
    }

    /// Ends voting. Returns whether it was open.
    pub fn close(&mut self) -> bool {
        !std::mem::replace(&mut self.closed, true)
    }
}

/// What a client sends as a new poll's data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPoll {
    options: Vec<String>,
}

/// Validates new polls: the question (the message's text) is required, and 2 to
/// `max_options` distinct options (ignoring case), each 1 to `max_option_chars` characters
/// after trimming, without control or invisible characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollKind {
    /// Most options (default 10).
    pub max_options: usize,
    /// Longest option, in scalar values (default 100).
    pub max_option_chars: usize,
}

impl Default for PollKind {
    fn default() -> Self {
        Self {
            max_options: 10,
            max_option_chars: 100,
        }
    }
}

impl PayloadKind for PollKind {
    fn validate(&self, data: Value, text: &str) -> Result<Value> {
        if text.trim().is_empty() {
            return Err(Error::validation(
                "text",
                "a poll needs its question as text",
            ));
        }
        let input: NewPoll = serde_json::from_value(data).map_err(|e| {
            Error::validation(
                "payload.data",
                format!("a new poll is {{\"options\": [\"…\", …]}}: {e}"),
            )
        })?;
        if input.options.len() < 2 || input.options.len() > self.max_options {
            return Err(Error::validation(
                "payload.data.options",
                format!("a poll has 2 to {} options", self.max_options),
            ));
        }
        let mut options: Vec<String> = Vec::with_capacity(input.options.len());
        for (i, option) in input.options.iter().enumerate() {
            let field = format!("payload.data.options[{i}]");
            let option = validation::validate_name(&field, option, self.max_option_chars)?;
            if options
                .iter()
                .any(|o| o.to_lowercase() == option.to_lowercase())
            {
                return Err(Error::validation(field, "options must differ"));
            }
            options.push(option);
        }
        serde_json::to_value(Poll::new(options)).map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn field(err: Error) -> String {
        err.validation_field()
    }

    #[test]
    fn new_polls_are_checked_and_start_empty_and_open() {
        let kind = PollKind::default();
        let stored = kind
            .validate(json!({"options": [" Lake ", "Hills"]}), "Where?")
            .unwrap();
        let poll: Poll = serde_json::from_value(stored).unwrap();
        assert_eq!(poll, Poll::new(vec!["Lake".into(), "Hills".into()]));

        let cases = [
            (json!({"options": ["A", "B"]}), " ", "text"),
            (json!({"options": ["A"]}), "Q?", "payload.data.options"),
            (
                json!({"options": ["A", "a"]}),
                "Q?",
                "payload.data.options[1]",
            ),
            (
                json!({"options": ["A", " "]}),
                "Q?",
                "payload.data.options[1]",
            ),
            (
                json!({"options": ["A", "B\u{202E}"]}),
                "Q?",
                "payload.data.options[1]",
            ),
            (
                json!({"options": ["A", "x".repeat(101)]}),
                "Q?",
                "payload.data.options[1]",
            ),
            (
                json!({"options": (0..11).map(|i| i.to_string()).collect::<Vec<_>>()}),
                "Q?",
                "payload.data.options",
            ),
            // A client cannot start a poll with votes in it, or closed.
            (
                json!({"options": ["A", "B"], "votes": {}}),
                "Q?",
                "payload.data",
            ),
            (json!({"options": "A, B"}), "Q?", "payload.data"),
        ];
        for (data, text, expected) in cases {
            assert_eq!(field(kind.validate(data, text).unwrap_err()), expected);
        }
    }

    #[test]
    fn votes_change_and_stop_at_closing() {
        let mut poll = Poll::new(vec!["A".into(), "B".into()]);
        let (ann, bob) = (UserId::new(), UserId::new());
        assert!(poll.vote(ann, Some(0)).unwrap());
        assert!(!poll.vote(ann, Some(0)).unwrap());
        assert!(poll.vote(bob, Some(0)).unwrap());
        assert!(poll.vote(ann, Some(1)).unwrap());
        assert_eq!(poll.counts, [1, 1]);
        assert_eq!(field(poll.vote(ann, Some(2)).unwrap_err()), "option");
        assert!(poll.vote(bob, None).unwrap());
        assert_eq!(poll.counts, [0, 1]);
        assert!(poll.close());
        assert!(!poll.close());
        assert!(matches!(
            poll.vote(bob, Some(0)),
            Err(Error::Conflict { .. })
        ));
        assert_eq!(poll.counts, [0, 1]);
    }

    proptest! {
        /// Whatever the votes, each member has at most one and the counts are their tally.
        #[test]
        fn counts_are_always_the_tally_of_the_votes(
            steps in proptest::collection::vec((0usize..5, proptest::option::of(0u32..4)), 0..60)
        ) {
            let voters: Vec<UserId> = (0..5).map(|_| UserId::new()).collect();
            let mut poll = Poll::new(vec!["A".into(), "B".into(), "C".into()]);
            for (who, option) in steps {
                let before = poll.clone();
                match poll.vote(voters[who], option) {
                    Ok(_) => prop_assert_eq!(poll.votes.get(&voters[who]).copied(), option),
                    Err(_) => prop_assert_eq!(&poll, &before),
                }
                let mut tally = vec![0u32; 3];
                for option in poll.votes.values() {
                    tally[*option as usize] += 1;
                }
                prop_assert_eq!(&poll.counts, &tally);
            }
        }
    }
}
