//! Search semantics shared by every store, so a query means the same thing everywhere.
//!
//! A token is a maximal run of alphanumeric characters, lowercased. A message matches a query
//! when every query token but the last is one of the message's tokens, and the last is the
//! start of one of them ("search as you type": `boat` finds "boathouse"). A last token of
//! fewer than [`MIN_PREFIX_CHARS`] characters must match a whole token: a one- or two-letter
//! stem would match most messages and could not be answered fast. Matching is
//! case-insensitive; there is no stemming, so stores can index tokens exactly, and prefixes of
//! [`MIN_PREFIX_CHARS`] to [`MAX_INDEXED_PREFIX_CHARS`] characters beside them
//! ([`prefixes`]); a longer prefix is looked up by its first [`MAX_INDEXED_PREFIX_CHARS`] and
//! checked against the tokens.

use serde::{Deserialize, Serialize};

use crate::id::RoomId;
use crate::message::Message;

/// The shortest last word matched as a prefix; shorter ones match whole words only.
pub const MIN_PREFIX_CHARS: usize = 3;

/// The longest prefix stores index.
pub const MAX_INDEXED_PREFIX_CHARS: usize = 16;

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

/// The distinct prefixes of `text`'s tokens that stores index for prefix search: every
/// prefix of [`MIN_PREFIX_CHARS`] to [`MAX_INDEXED_PREFIX_CHARS`] characters of each token.
#[must_use]
pub fn prefixes(text: &str) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for token in tokens(text) {
        let ends: Vec<usize> = token
            .char_indices()
            .map(|(i, c)| i + c.len_utf8())
            .skip(MIN_PREFIX_CHARS - 1)
            .take(MAX_INDEXED_PREFIX_CHARS - MIN_PREFIX_CHARS + 1)
            .collect();
        for end in ends {
            out.insert(token[..end].to_owned());
        }
    }
    out.into_iter().collect()
}

/// A query as stores answer it: whole words, and the last word as a prefix when it is long
/// enough (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms {
    /// Words every match contains as whole tokens.
    pub words: Vec<String>,
    /// A word some token of every match starts with.
    pub prefix: Option<String>,
}

impl SearchTerms {
    /// The terms of a query's distinct tokens (see [`query_tokens`]).
    #[must_use]
    pub fn from_tokens(mut tokens: Vec<String>) -> Self {
        let prefix = match tokens.last() {
            Some(last) if last.chars().count() >= MIN_PREFIX_CHARS => tokens.pop(),
            _ => None,
        };
        Self {
            words: tokens,
            prefix,
        }
    }

    /// The prefix as stores index it: at most [`MAX_INDEXED_PREFIX_CHARS`] characters. When
    /// it is shorter than [`prefix`](Self::prefix), stores check matches against the tokens.
    #[must_use]
    pub fn indexed_prefix(&self) -> Option<&str> {
        let prefix = self.prefix.as_deref()?;
        let end = prefix
            .char_indices()
            .nth(MAX_INDEXED_PREFIX_CHARS)
            .map_or(prefix.len(), |(i, _)| i);
        Some(&prefix[..end])
    }

    /// Whether `text` matches.
    #[must_use]
    pub fn matches(&self, text: &str) -> bool {
        let have: std::collections::HashSet<String> = tokens(text).collect();
        self.words.iter().all(|w| have.contains(w))
            && self
                .prefix
                .as_ref()
                .is_none_or(|p| have.iter().any(|t| t.starts_with(p.as_str())))
    }

    fn hits(&self, token: &str) -> bool {
        self.words.iter().any(|w| w == token)
            || self
                .prefix
                .as_ref()
                .is_some_and(|p| token.starts_with(p.as_str()))
    }
}

/// One search result: the message, where it is, and the part of it that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The message.
    pub message: Message,
    /// The name of its room.
    pub room_name: String,
    /// Up to about 160 characters of its text around the first match, with mentions shown as
    /// `@Name`, in parts; the matching words are the parts with `highlight` set. A cut end is
    /// marked with `…`.
    pub snippet: Vec<SnippetPart>,
}

/// A run of snippet text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnippetPart {
    /// The text, to show as text.
    pub text: String,
    /// Whether it is a matching word.
    pub highlight: bool,
}

/// The longest snippet, in characters, before the ellipses.
const SNIPPET_CHARS: usize = 160;

/// The snippet of `text` for `terms` (see [`SearchHit::snippet`]).
#[must_use]
pub fn snippet(text: &str, terms: &SearchTerms) -> Vec<SnippetPart> {
    let shown: String = crate::mention::segments(text)
        .into_iter()
        .map(|s| match s {
            crate::mention::Segment::Text(t) => t.to_owned(),
            crate::mention::Segment::Mention(m) => format!("@{}", m.name),
        })
        .collect();
    // Character indices of each token, and whether it matches.
    let chars: Vec<char> = shown.chars().collect();
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let token: String = chars[s..i].iter().collect::<String>().to_lowercase();
                if terms.hits(&token) {
                    spans.push(s..i);
                }
                start = None;
            }
            _ => {}
        }
    }
    let first = spans.first().map_or(0, |r| r.start);
    let from = if chars.len() <= SNIPPET_CHARS {
        0
    } else {
        first
            .saturating_sub(SNIPPET_CHARS / 4)
            .min(chars.len() - SNIPPET_CHARS)
    };
    let to = (from + SNIPPET_CHARS).min(chars.len());
    let mut parts: Vec<SnippetPart> = Vec::new();
    let mut push = |text: String, highlight: bool| {
        if text.is_empty() {
            return;
        }
        match parts.last_mut() {
            Some(last) if last.highlight == highlight => last.text.push_str(&text),
            _ => parts.push(SnippetPart { text, highlight }),
        }
    };
    if from > 0 {
        push("…".into(), false);
    }
    let mut at = from;
    for span in spans.iter().filter(|r| r.start >= from && r.end <= to) {
        push(chars[at..span.start].iter().collect(), false);
        push(chars[span.clone()].iter().collect(), true);
        at = span.end;
    }
    push(chars[at..to].iter().collect(), false);
    if to < chars.len() {
        push("…".into(), false);
    }
    parts
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
    /// The words to find: all of them, the last as a prefix (see the [module docs](self)).
    pub query: String,
    /// Only this room; otherwise every room the caller can read.
    #[serde(default)]
    pub room_id: Option<RoomId>,
    /// Most results (default 50, at most 100).
    #[serde(default)]
    pub limit: crate::PageSize,
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

    #[test]
    fn the_last_word_is_a_prefix_when_long_enough() {
        let t = SearchTerms::from_tokens(query_tokens("meet boat"));
        assert_eq!(
            (t.words.clone(), t.prefix.as_deref()),
            (vec!["meet".to_owned()], Some("boat"))
        );
        assert!(t.matches("Meet at the BOATHOUSE"));
        assert!(!t.matches("meet at the pier"));
        let short = SearchTerms::from_tokens(query_tokens("at"));
        assert_eq!(short.prefix, None, "two letters match whole words only");
        assert!(short.matches("meet at noon") && !short.matches("attic"));
        let long = SearchTerms::from_tokens(query_tokens("supercalifragilistic"));
        assert_eq!(long.indexed_prefix(), Some("supercalifragili"));
        assert!(long.matches("supercalifragilisticexpialidocious"));
        assert!(!long.matches("supercalifragilisx"));
    }

    #[test]
    fn prefixes_cover_three_to_sixteen_characters() {
        let p = prefixes("Boathouse ok");
        assert!(p.contains(&"boa".to_owned()) && p.contains(&"boathouse".to_owned()));
        assert!(!p.iter().any(|x| x == "bo" || x == "ok"));
        let long = prefixes(&"é".repeat(30));
        assert_eq!(long.len(), 14);
        assert!(long.iter().all(|x| x.chars().count() <= 16));
    }

    #[test]
    fn snippets_highlight_the_matching_words() {
        let t = SearchTerms::from_tokens(query_tokens("boat"));
        let parts = snippet(
            "Meet at the Boathouse, @[Sarah Chen](01a2b3c4-0000-7000-8000-000000000000)!",
            &t,
        );
        let shown: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(shown, "Meet at the Boathouse, @Sarah Chen!");
        assert_eq!(
            parts
                .iter()
                .filter(|p| p.highlight)
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>(),
            ["Boathouse"]
        );
        let long = format!("{} boathouse {}", "x ".repeat(200), "y ".repeat(200));
        let parts = snippet(&long, &t);
        let shown: String = parts.iter().map(|p| p.text.as_str()).collect();
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert!(shown.chars().count() <= SNIPPET_CHARS + 2);
        assert!(parts.iter().any(|p| p.highlight && p.text == "boathouse"));
    }
}
