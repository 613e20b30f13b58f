//! What a file is, decided from its first bytes, never from what the client says.

/// How many leading bytes [`sniff`] reads. Office formats are zip files whose tell-tale
/// entries (`word/`, `xl/`, `ppt/`) follow the content-types entry, so a few KiB are not
/// always enough.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The MIME type of a file from its first [`SNIFF_BYTES`] (or all of it, if shorter).
///
/// Binary formats are recognised by their signatures (the `infer` crate). Anything else that
/// is UTF-8 without control characters is `text/plain`, unless it opens like markup: text
/// starting with an SVG or HTML tag is `image/svg+xml` or `text/html`, which the default
/// allow-list refuses, so script-carrying documents cannot pass as text. The rest is
/// `application/octet-stream`.
#[must_use]
pub fn sniff(prefix: &[u8], complete: bool) -> &'static str {
    if let Some(kind) = infer::get(prefix) {
        return kind.mime_type();
    }
    let text = match std::str::from_utf8(prefix) {
        Ok(text) => text,
        // A prefix may end inside a character; only an error before the last 3 bytes counts.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return "application/octet-stream",
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
    {
        return "application/octet-stream";
    }
    let head = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with('<') {
        if head.contains("<svg") {
            return "image/svg+xml";
        }
        if head.contains("<html") || head.starts_with("<!doctype html") || head.contains("<script")
        {
            return "text/html";
        }
    }
    "text/plain"
}

/// A client's declared type reduced to `type/subtype`, lowercase, with the common aliases
/// mapped (`image/jpg` is `image/jpeg`). `None` when the client declared nothing useful
/// (empty, or the generic `application/octet-stream` browsers send for unknown files).
#[must_use]
pub fn normalize_declared(declared: &str) -> Option<String> {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/octet-stream" | "binary/octet-stream" => None,
        "image/jpg" | "image/pjpeg" => Some("image/jpeg".to_owned()),
        "application/x-pdf" => Some("application/pdf".to_owned()),
        _ => Some(essence),
    }
}

/// Whether a declared type agrees with the sniffed one. Plain-text flavours (Markdown, CSV,
/// logs) all sniff as `text/plain` and are served as that.
#[must_use]
pub fn declared_matches(declared: &str, sniffed: &str) -> bool {
    declared == sniffed
        || (sniffed == "text/plain"
            && matches!(
                declared,
                "text/markdown"
                    | "text/x-markdown"
                    | "text/csv"
                    | "text/tab-separated-values"
                    | "text/x-log"
            ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_win_over_everything() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", true), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n", true), "application/pdf");
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF", true), "image/jpeg");
    }

    #[test]
    fn text_and_markup() {
        assert_eq!(sniff("héllo\nworld\t".as_bytes(), true), "text/plain");
        assert_eq!(
            sniff(b"  <svg xmlns='http://www.w3.org/2000/svg'>", true),
            "image/svg+xml"
        );
        assert_eq!(sniff(b"<!DOCTYPE html><p>hi", true), "text/html");
        assert_eq!(sniff(b"<p><script>alert(1)</script>", true), "text/html");
        assert_eq!(sniff(b"a\0b", true), "application/octet-stream");
        assert_eq!(sniff(b"\x1b[31mred", true), "application/octet-stream");
        // A prefix cut inside "é" is still text; a whole file ending so is not.
        assert_eq!(sniff(&"abcé".as_bytes()[..4], false), "text/plain");
        assert_eq!(
            sniff(&"abcé".as_bytes()[..4], true),
            "application/octet-stream"
        );
    }

    #[test]
    fn declared_types_are_normalized() {
        assert_eq!(
            normalize_declared("Image/JPG; q=1").as_deref(),
            Some("image/jpeg")
        );
        assert_eq!(normalize_declared("application/octet-stream"), None);
        assert_eq!(normalize_declared(" "), None);
        assert!(declared_matches("text/csv", "text/plain"));
        assert!(!declared_matches("text/html", "text/plain"));
        assert!(!declared_matches("image/png", "image/jpeg"));
    }
}
