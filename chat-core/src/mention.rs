//! Mentions: `@[Display Name](userId)` tokens in message text.
//!
//! # Syntax
//!
//! A mention is `@[`, the display name, `](`, a hyphenated UUID, and `)`. Inside the name a
//! backslash escapes the next character, and the brackets and the backslash must be escaped:
//! a name containing `[`, `]` or `\` is written with `\[`, `\]` and `\\`. The user "A]B\C" is
//! mentioned as `@[A\]B\\C](…)`. [`render`] writes this form; [`parse`] reads it. Requiring
//! `[` to be escaped means `@[oops @[Real](…)` mentions "Real", as a reader would expect.
//!
//! Anything that does not fit the syntax exactly (a bad UUID, a missing bracket, an empty name,
//! a control character or a name over [`MAX_NAME_CHARS`]) is not a mention and stays plain text.
//!
//! # Names come from the server
//!
//! The name in a token is whatever the sender typed, so `@[Server Admin](<Sarah's id>)` would
//! show everyone "@Server Admin" aimed at Sarah. [`resolve`] rewrites every token before a
//! message is stored: a mention of a room member carries the member's current display name,
//! and any other token becomes plain text. The service runs it on every send and edit.
//!
//! # Cost
//!
//! Parsing is linear in the input and never panics: an attempt that fails gives up after at most
//! [`MAX_NAME_CHARS`] name characters plus the 38 of `(uuid)`, so no input makes it quadratic.

use std::collections::HashSet;
use std::ops::Range;

use uuid::Uuid;

use crate::id::UserId;

/// The longest display name, in scalar values, that a mention may carry. It bounds the work of
/// a failed parse attempt; it is well above the default display-name limit of 64.
pub const MAX_NAME_CHARS: usize = 256;

/// One mention found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mention {
    /// The mentioned user.
    pub user_id: UserId,
    /// The display name, unescaped.
    pub name: String,
    /// Where the token sits in the text, in bytes.
    pub range: Range<usize>,
}

/// A piece of message text: plain text or a mention. Clients render text as text and mentions
/// as highlighted names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Plain text, exactly as written.
    Text(&'a str),
    /// A mention token.
    Mention(Mention),
}

/// Writes the mention token for `name` and `user_id`, escaping `[`, `]` and `\` in the name.
#[must_use]
pub fn render(name: &str, user_id: UserId) -> String {
    let mut out = String::with_capacity(name.len() + 42);
    out.push_str("@[");
    for c in name.chars() {
        if matches!(c, '\\' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("](");
    out.push_str(&user_id.to_string());
    out.push(')');
    out
}

/// Every well-formed mention in `text`, in order.
pub fn parse(text: &str) -> impl Iterator<Item = Mention> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        while let Some(found) = text.get(pos..).and_then(|rest| rest.find("@[")) {
            let start = pos + found;
            match parse_at(text, start) {
                Some(mention) => {
                    pos = mention.range.end;
                    return Some(mention);
                }
                // Resume right after the '@': a later '@[' inside the failed attempt may start
                // a real mention. The bounded attempt keeps this linear overall.
                None => pos = start + 1,
            }
        }
        pos = text.len();
        None
    })
}

/// The distinct mentioned user ids in first-seen order, at most `max`.
#[must_use]
pub fn mentioned_user_ids(text: &str, max: usize) -> Vec<UserId> {
    let mut seen = HashSet::new();
    parse(text)
        .map(|m| m.user_id)
        .filter(|id| seen.insert(*id))
        .take(max)
        .collect()
}

/// How many rewriting passes [`resolve`] makes before it gives up.
const RESOLVE_PASSES: usize = 4;

/// Rewrites every mention in `text` with the name `name_of` gives its user: a known user's
/// token is rendered with that name, an unknown user's token becomes plain text (`@` and the
/// name, its brackets turned into parentheses so it cannot form a token again).
///
/// Turning a token into text could join it with its neighbours into a new token
/// (`@[a@](x)[b](y)`), so the rewrite repeats until nothing changes. Each pass removes
/// brackets or leaves the text as it is, so it settles quickly; `None` when it has not
/// settled after a few passes, which only crafted input does.
#[must_use]
pub fn resolve<'a>(text: &str, name_of: impl Fn(UserId) -> Option<&'a str>) -> Option<String> {
    let mut current = text.to_owned();
    for _ in 0..RESOLVE_PASSES {
        let mut out = String::with_capacity(current.len());
        for segment in segments(&current) {
            match segment {
                Segment::Text(t) => out.push_str(t),
                Segment::Mention(m) => match name_of(m.user_id) {
                    Some(name) => out.push_str(&render(name, m.user_id)),
                    None => {
                        out.push('@');
                        out.extend(m.name.chars().map(|c| match c {
                            '[' => '(',
                            ']' => ')',
                            c => c,
                        }));
                    }
                },
            }
        }
        if out == current {
            return Some(out);
        }
        current = out;
    }
    None
}

/// Splits `text` into plain-text and mention segments, for rendering.
#[must_use]
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut last = 0;
    for m in parse(text) {
        if m.range.start > last {
            out.push(Segment::Text(&text[last..m.range.start]));
        }
        last = m.range.end;
        out.push(Segment::Mention(m));
    }
    if last < text.len() {
        out.push(Segment::Text(&text[last..]));
    }
    out
}

/// Tries to read one mention starting at byte `start` (which holds `@[`).
fn parse_at(text: &str, start: usize) -> Option<Mention> {
    let body = &text[start + 2..];
    let mut name = String::new();
    let mut chars = body.char_indices();
    let mut count = 0;
    let close = loop {
        let (i, c) = chars.next()?;
        let c = match c {
            ']' => break i,
            '[' => return None,
            '\\' => chars.next()?.1,
            c => c,
        };
        count += 1;
        if count > MAX_NAME_CHARS || c.is_control() {
            return None;
        }
        name.push(c);
    };
    if name.trim().is_empty() {
        return None;
    }
    let after = &body[close + 1..];
    let id_text = after.strip_prefix('(')?.get(..36)?;
    if after.as_bytes().get(37) != Some(&b')') {
        return None;
    }
    // Only the hyphenated form: it is what `render` writes, and it keeps the token length fixed.
    if id_text.as_bytes().get(8) != Some(&b'-') {
        return None;
    }
    let user_id = UserId::from_uuid(Uuid::try_parse(id_text).ok()?);
    let end = start + 2 + close + 1 + 38;
    Some(Mention {
        user_id,
        name,
        range: start..end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_original_designs_mention() {
        let id = UserId::new();
        let text = format!("Hey @[User Two]({id}) check this out!");
        let found: Vec<_> = parse(&text).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].user_id, id);
        assert_eq!(found[0].name, "User Two");
        assert_eq!(&text[found[0].range.clone()], format!("@[User Two]({id})"));
    }

    #[test]
    fn escaped_names_round_trip() {
        let id = UserId::new();
        let name = r"A]B\C [x]";
        let token = render(name, id);
        assert_eq!(token, format!(r"@[A\]B\\C \[x\]]({id})"));
        let m = parse(&token).next().unwrap();
        assert_eq!(m.name, name);
        assert_eq!(m.range, 0..token.len());
    }

    #[test]
    fn malformed_tokens_stay_text() {
        let id = UserId::new();
        for text in [
            format!("@[]({id})"),
            format!("@[Name]({})", &id.to_string()[..35]),
            format!("@[Name] ({id})"),
            format!("@[Name]({id}"),
            format!("@[Na\nme]({id})"),
            "@[Name](not-a-uuid-at-all-but-36-characters)".to_owned(),
            format!("@[Name]({})", id.as_uuid().simple()),
            "@[".to_owned(),
            "@[\\".to_owned(),
        ] {
            assert_eq!(parse(&text).count(), 0, "{text}");
            assert_eq!(segments(&text), vec![Segment::Text(&text)]);
        }
    }

    #[test]
    fn a_failed_attempt_does_not_hide_a_later_mention() {
        let id = UserId::new();
        let text = format!("@[broken @[Real]({id})");
        let m: Vec<_> = parse(&text).collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "Real");
    }

    #[test]
    fn ids_are_distinct_first_seen_and_capped() {
        let a = UserId::new();
        let b = UserId::new();
        let text = format!(
            "{} {} {}",
            render("A", a),
            render("B", b),
            render("A again", a)
        );
        assert_eq!(mentioned_user_ids(&text, 50), vec![a, b]);
        assert_eq!(mentioned_user_ids(&text, 1), vec![a]);
    }

    #[test]
    fn resolve_takes_names_from_the_server_and_unknown_ids_become_text() {
        let sarah = UserId::new();
        let stranger = UserId::new();
        let text = format!(
            "{} and {}",
            render("Server Admin", sarah),
            render("[Evil]", stranger)
        );
        let names = |id: UserId| (id == sarah).then_some("Sarah Chen");
        let out = resolve(&text, names).unwrap();
        assert_eq!(out, format!("{} and @(Evil)", render("Sarah Chen", sarah)));
        assert_eq!(mentioned_user_ids(&out, 50), vec![sarah]);
    }

    #[test]
    fn resolve_leaves_no_token_formed_by_unwrapping_another() {
        let sarah = UserId::new();
        let stranger = UserId::new();
        // Unwrapping the stranger's token leaves `@a@` before `[b](sarah)`: a new token.
        let text = format!("{}[b]({sarah})", render("a@", stranger));
        let out = resolve(&text, |id| (id == sarah).then_some("Sarah Chen")).unwrap();
        let found: Vec<_> = parse(&out).collect();
        assert!(found.iter().all(|m| m.name == "Sarah Chen"), "{out}");
        let out = resolve(&text, |_| None).unwrap();
        assert_eq!(parse(&out).count(), 0, "{out}");
    }

    #[test]
    fn segments_split_text_and_mentions() {
        let id = UserId::new();
        let text = format!("hi {} !", render("Sarah Chen", id));
        let segs = segments(&text);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0], Segment::Text("hi "));
        assert!(matches!(&segs[1], Segment::Mention(m) if m.name == "Sarah Chen"));
        assert_eq!(segs[2], Segment::Text(" !"));
    }
}
