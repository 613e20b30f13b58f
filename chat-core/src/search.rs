//! Search semantics shared by every store, so a query means the same thing everywhere.
//!
//! A message matches a query when every query token is one of the message's tokens. A token is
//! a maximal run of alphanumeric characters, lowercased. Matching is whole-word and
//! case-insensitive; there is no stemming, so stores can index tokens exactly.

use serde::{Deserialize, Serialize};

use crate::id::RoomId;

/// The most tokens a query may use; extra words are ignored (they can only narrow the result).
pub const MAX_QUERY_TOKENS: usize = 16;

/// The tokens of `text`, in order, with repeats.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// The distinct tokens of a query, in first-seen order, at most [`MAX_QUERY_TOKENS`].
#[must_use]
pub fn query_tokens(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens(query) {
        if !out.contains(&t) {
            out.push(t);
            if out.len() == MAX_QUERY_TOKENS {
                break;
            }
        }
    }
    out
}

/// Whether `text` matches every token in `query_tokens`.
#[must_use]
pub fn matches(text: &str, query_tokens: &[String]) -> bool {
    let have: std::collections::HashSet<String> = tokens(text).collect();
    query_tokens.iter().all(|t| have.contains(t))
}

/// A search request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The words to find (all of them must appear).
    pub query: String,
    /// Only this room; otherwise every room the caller can read.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// Most results (default 50, at most 100).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_ignoring_case() {
        let q = query_tokens("Pizza, TONIGHT!");
        assert_eq!(q, vec!["pizza", "tonight"]);
        assert!(matches("pizza tonight?", &q));
        assert!(matches("Tonight: PIZZA", &q));
        assert!(!matches("pizzas tonight", &q));
        assert!(query_tokens("  ,.! ").is_empty());
        assert_eq!(query_tokens("Ünïcode straße"), vec!["ünïcode", "straße"]);
    }
}
