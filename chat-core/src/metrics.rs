//! System metrics for server operators: the shape of the original `getSystemMetrics`.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;

/// Activity counts at one moment. The windows are half-open: a message counts in "the last
/// hour" when it was posted strictly after `timestamp - 1h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SystemMetrics {
    /// Messages posted in the last hour (deleted ones included: they were sent).
    pub messages_last_hour: u64,
    /// Messages posted in the last 24 hours.
    pub messages_last_day: u64,
    /// Distinct authors of the messages of the last hour.
    pub active_users_last_hour: u64,
    /// All messages ever posted.
    pub total_messages: u64,
    /// All rooms.
    pub total_rooms: u64,
    /// All events.
    pub total_events: u64,
    /// When these were counted.
    pub timestamp: Timestamp,
}
