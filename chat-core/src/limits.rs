//! [`Limits`]: every bound the core enforces, in one value.

use std::time::Duration;

/// The bounds on input and activity. [`Limits::default`] holds the defaults from the design.
///
/// ```
/// use chat_core::Limits;
/// let limits = Limits { max_text_chars: 2000, ..Limits::default() };
/// assert_eq!(limits.send_rate_max, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most Unicode scalar values in a message's text.
    pub max_text_chars: usize,
    /// Largest attachment, in bytes.
    pub max_attachment_bytes: u64,
    /// Most attachments on one message.
    pub max_attachments: usize,
    /// Most other people in one direct room.
    pub max_direct_others: usize,
    /// Most people whose presence one request or connection follows.
    pub max_presence_users: usize,
    /// Most distinct users mentioned in one message.
    pub max_mentions: usize,
    /// Longest event or room name, in scalar values (the shortest is 1).
    pub max_name_chars: usize,
    /// Longest display name, in scalar values (the shortest is 1).
    pub max_display_name_chars: usize,
    /// Longest free-text event kind ("party", "conference"), in scalar values.
    pub max_event_kind_chars: usize,
    /// Longest avatar URL, in bytes.
    pub max_avatar_url_bytes: usize,
    /// Longest attachment file name, in scalar values.
    pub max_file_name_chars: usize,
    /// Longest reaction key, in bytes.
    pub max_reaction_key_bytes: usize,
    /// Longest `client_msg_id`, in characters.
    pub max_client_msg_id_chars: usize,
    /// Largest history, change-log, search or lookup page.
    pub max_page_size: u32,
    /// The page size used when the caller names none.
    pub default_page_size: u32,
    /// Longest search query, in scalar values.
    pub max_search_query_chars: usize,
    /// Longest per-room slow-mode interval a moderator may set.
    pub max_slow_mode: Duration,
    /// Sends admitted per user within [`send_rate_window`](Self::send_rate_window).
    pub send_rate_max: u32,
    /// The sliding window of the per-user send rate.
    pub send_rate_window: Duration,
    /// Shortest interval between two typing signals of one user in one room.
    pub typing_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_chars: 5000,
            max_attachment_bytes: 5 * 1024 * 1024,
            max_attachments: 10,
            max_direct_others: 8,
            max_presence_users: 256,
            max_mentions: 50,
            max_name_chars: 100,
            max_display_name_chars: 64,
            max_event_kind_chars: 32,
            max_avatar_url_bytes: 2048,
            max_file_name_chars: 255,
            max_reaction_key_bytes: 32,
            max_client_msg_id_chars: 64,
            max_page_size: 100,
            default_page_size: 50,
            max_search_query_chars: 256,
            max_slow_mode: Duration::from_secs(6 * 60 * 60),
            send_rate_max: 10,
            send_rate_window: Duration::from_secs(60),
            typing_interval: Duration::from_secs(2),
        }
    }
}
