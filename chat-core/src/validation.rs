//! Validation of every input the core accepts. Each failure is an
//! [`Error::Validation`] naming the field and the reason.
//!
//! Lengths of human text are counted in Unicode scalar values (`char`s), never bytes, so a
//! limit means the same for "é" and "e"; a combining sequence counts each of its scalars.

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::page::PageSize;

/// The first control character in `s` (Unicode's `Cc` class: U+0000–U+001F and
/// U+007F–U+009F), skipping `\n`, `\r` and `\t` when `allow_line_breaks`. Those are refused
/// because they corrupt terminals, logs and some databases.
///
/// It scans bytes rather than decoding chars: in UTF-8 the C0 controls and DEL are single
/// bytes, and the C1 controls are exactly `0xC2 0x80..=0x9F`, so a byte scan finds the same
/// characters several times faster.
fn first_control(s: &str, allow_line_breaks: bool) -> Option<char> {
    let bytes = s.as_bytes();
    // Almost all text has no candidate byte at all. This branch-free pass over 64-byte chunks
    // vectorises, and only text that has one pays for the exact scan below.
    let suspicious = bytes.chunks(64).any(|chunk| {
        chunk.iter().fold(false, |acc, &b| {
            let line_break = (b == b'\n') | (b == b'\r') | (b == b'\t');
            acc | ((b < 0x20) & !(allow_line_breaks & line_break)) | (b == 0x7F) | (b == 0xC2)
        })
    });
    if !suspicious {
        return None;
    }
    bytes.iter().enumerate().find_map(|(i, &b)| match b {
        b'\n' | b'\r' | b'\t' if allow_line_breaks => None,
        0x00..=0x1F | 0x7F => Some(char::from(b)),
        0xC2 => bytes
            .get(i + 1)
            .filter(|n| (0x80..=0x9F).contains(*n))
            .map(|&n| char::from(n)),
        _ => None,
    })
}

/// Whether `s` has more than `max` scalar values. Byte length bounds the count from above, so
/// most texts are decided without counting.
fn longer_than(s: &str, max: usize) -> bool {
    s.len() > max && s.chars().count() > max
}

fn reject_controls(field: &str, s: &str, allow_line_breaks: bool) -> Result<()> {
    match first_control(s, allow_line_breaks) {
        Some('\0') => Err(Error::validation(field, "must not contain NUL characters")),
        Some(c) => Err(Error::validation(
            field,
            format!("must not contain control character U+{:04X}", u32::from(c)),
        )),
        None => Ok(()),
    }
}

/// Validates a message's text. `has_attachments` allows empty or whitespace-only text beside
/// an attachment.
///
/// # Errors
/// [`Error::Validation`] on field `text` when the text is too long, contains NUL or other
/// control characters (other than `\n`, `\r`, `\t`), or is empty or whitespace-only without an
/// attachment.
pub fn validate_text(text: &str, has_attachments: bool, limits: &Limits) -> Result<()> {
    if longer_than(text, limits.max_text_chars) {
        return Err(Error::validation(
            "text",
            format!("too long (max {} characters)", limits.max_text_chars),
        ));
    }
    reject_controls("text", text, true)?;
    if !has_attachments && text.trim().is_empty() {
        return Err(Error::validation(
            "text",
            "message needs text or at least one attachment",
        ));
    }
    Ok(())
}

/// The first character in `s` that changes how the text around it is shown without being seen:
/// bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the
/// directional marks (U+200E, U+200F, U+061C), zero-width characters (U+200B–U+200D, U+2060,
/// U+FEFF) and the soft hyphen (U+00AD).
///
/// In a name they let "Admin\u{202E}" pass for someone else, or `invoice\u{202E}fdp.exe` show
/// as `invoiceexe.pdf`. Message text may contain them: scripts such as Arabic and Persian and
/// emoji sequences need them there, and text is shown inside its own bubble.
#[must_use]
pub fn first_invisible_format_char(s: &str) -> Option<char> {
    s.chars().find(|c| {
        matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200B}'..='\u{200F}'
                | '\u{061C}'
                | '\u{2060}'
                | '\u{FEFF}'
                | '\u{00AD}'
        )
    })
}

fn reject_invisible_format_chars(field: &str, s: &str) -> Result<()> {
    match first_invisible_format_char(s) {
        Some(c) => Err(Error::validation(
            field,
            format!(
                "must not contain invisible or direction-changing character U+{:04X}",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// Validates and trims a short name (event, room or display name): after trimming it must have
/// 1 to `max` scalar values, no control characters, and no invisible or direction-changing
/// characters (see [`first_invisible_format_char`]).
///
/// # Errors
/// [`Error::Validation`] on `field` when the name is empty, too long or contains a control,
/// invisible or direction-changing character.
pub fn validate_name(field: &str, name: &str, max: usize) -> Result<String> {
    reject_controls(field, name, false)?;
    reject_invisible_format_chars(field, name)?;
    // The limit holds for the name as sent, surrounding spaces included, as the API document
    // states it; the spaces are then dropped.
    if longer_than(name, max) {
        return Err(Error::validation(
            field,
            format!("too long (max {max} characters)"),
        ));
    }
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    Ok(trimmed.to_owned())
}

/// Validates a `client_msg_id`: 1 to the limit of printable ASCII characters (a UUID, a ULID
/// or a counter all fit), so it is safe in logs, URLs and every database collation.
///
/// # Errors
/// [`Error::Validation`] on field `client_msg_id`.
pub fn validate_client_msg_id(id: &str, limits: &Limits) -> Result<()> {
    if id.is_empty() {
        return Err(Error::validation("client_msg_id", "must not be empty"));
    }
    if id.len() > limits.max_client_msg_id_chars {
        return Err(Error::validation(
            "client_msg_id",
            format!(
                "too long (max {} characters)",
                limits.max_client_msg_id_chars
            ),
        ));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::validation(
            "client_msg_id",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// Resolves a requested page size: `None` gives the default, anything from 1 to the maximum is
/// accepted as is.
///
/// # Errors
/// [`Error::Validation`] on field `limit` for 0 (or a negative size, see
/// [`PageSize::requested`]) or a larger-than-maximum size.
pub fn validate_page_size(requested: PageSize, limits: &Limits) -> Result<u32> {
    match requested.get() {
        None => Ok(limits.default_page_size),
        Some(n) if n >= 1 && n <= limits.max_page_size => Ok(n),
        Some(_) => Err(Error::validation(
            "limit",
            format!("must be between 1 and {}", limits.max_page_size),
        )),
    }
}

/// Validates a search query and splits it into search tokens (see [`crate::search`]).
///
/// # Errors
/// [`Error::Validation`] on field `query` when it is too long, has control characters or holds
/// no searchable word.
pub fn validate_search_query(query: &str, limits: &Limits) -> Result<Vec<String>> {
    if query
        .chars()
        .take(limits.max_search_query_chars + 1)
        .count()
        > limits.max_search_query_chars
    {
        return Err(Error::validation(
            "query",
            format!(
                "too long (max {} characters)",
                limits.max_search_query_chars
            ),
        ));
    }
    reject_controls("query", query, false)?;
    let tokens = crate::search::query_tokens(query);
    if tokens.is_empty() {
        return Err(Error::validation(
            "query",
            "must contain at least one letter or digit",
        ));
    }
    Ok(tokens)
}

/// Validates an optional avatar URL: bounded, no control characters, and `http(s)` only, so a
/// client rendering it cannot be handed a `javascript:` URL.
///
/// # Errors
/// [`Error::Validation`] on field `avatar_url`.
pub fn validate_avatar_url(url: Option<&str>, limits: &Limits) -> Result<()> {
    let Some(url) = url else { return Ok(()) };
    if url.len() > limits.max_avatar_url_bytes {
        return Err(Error::validation(
            "avatar_url",
            format!("too long (max {} bytes)", limits.max_avatar_url_bytes),
        ));
    }
    reject_controls("avatar_url", url, false)?;
    if !(url.starts_with("https://") || url.starts_with("http://"))
        || url.contains(char::is_whitespace)
    {
        return Err(Error::validation(
            "avatar_url",
            "must be an http or https URL",
        ));
    }
    Ok(())
}

/// Validates a reaction key (an emoji or a short name): 1 to the limit in bytes, with no
/// whitespace or control characters.
///
/// # Errors
/// [`Error::Validation`] on field `reaction`.
pub fn validate_reaction_key(key: &str, limits: &Limits) -> Result<()> {
    if key.is_empty() {
        return Err(Error::validation("reaction", "must not be empty"));
    }
    if key.len() > limits.max_reaction_key_bytes {
        return Err(Error::validation(
            "reaction",
            format!("too long (max {} bytes)", limits.max_reaction_key_bytes),
        ));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::validation(
            "reaction",
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: Error) -> String {
        match err {
            Error::Validation { field, .. } => field,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn text_rules() {
        let l = Limits::default();
        assert!(validate_text("hi\n\tthere\r\n", false, &l).is_ok());
        assert_eq!(
            field_of(validate_text("   ", false, &l).unwrap_err()),
            "text"
        );
        assert!(validate_text("   ", true, &l).is_ok());
        assert!(validate_text("", true, &l).is_ok());
        assert!(validate_text("", false, &l).is_err());
        assert!(
            validate_text("a\0b", false, &l)
                .unwrap_err()
                .to_string()
                .contains("NUL")
        );
        assert!(validate_text("a\u{1b}[31m", false, &l).is_err());
        assert!(validate_text("a\u{85}", false, &l).is_err());
    }

    #[test]
    fn the_byte_scan_finds_exactly_the_control_characters() {
        for cp in 0..0x3000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let s = format!("a{c}b");
            let breaks = matches!(c, '\n' | '\r' | '\t');
            assert_eq!(
                first_control(&s, false),
                c.is_control().then_some(c),
                "U+{cp:04X}"
            );
            assert_eq!(
                first_control(&s, true),
                (c.is_control() && !breaks).then_some(c),
                "U+{cp:04X}"
            );
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("name", "  Main  ", 100).unwrap(), "Main");
        assert!(validate_name("name", " \t ", 100).is_err());
        assert!(validate_name("name", "a\nb", 100).is_err());
        assert!(validate_name("name", &"é".repeat(100), 100).is_ok());
        assert!(validate_name("name", &"é".repeat(101), 100).is_err());
        // Spaces count towards the limit: what the API document says of the field.
        assert!(validate_name("name", &format!("a{}", " ".repeat(100)), 100).is_err());
        assert_eq!(validate_name("name", " a ", 3).unwrap(), "a");
    }

    #[test]
    fn page_sizes() {
        let l = Limits::default();
        assert_eq!(validate_page_size(PageSize::DEFAULT, &l).unwrap(), 50);
        assert_eq!(validate_page_size(PageSize::of(100), &l).unwrap(), 100);
        for bad in [0, -1, 101, i64::MAX, i64::MIN] {
            assert_eq!(
                field_of(validate_page_size(PageSize::requested(bad), &l).unwrap_err()),
                "limit"
            );
        }
    }

    #[test]
    fn client_msg_ids_and_avatars() {
        let l = Limits::default();
        assert!(validate_client_msg_id("0190a7b2-4c1e-7d3f-9a00-1234567890ab", &l).is_ok());
        assert!(validate_client_msg_id("", &l).is_err());
        assert!(validate_client_msg_id(&"x".repeat(65), &l).is_err());
        assert!(validate_client_msg_id("has space", &l).is_err());
        assert!(validate_avatar_url(Some("https://x.test/a.png"), &l).is_ok());
        assert!(validate_avatar_url(Some("javascript:alert(1)"), &l).is_err());
    }
}
