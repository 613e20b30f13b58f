//! The conformance cases, one file per area. Each one builds its own world on the given store.
//! This file holds what the areas share.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use super::harness::{Harness, text};
use crate::{
    Account, ChangeKind, Delivery, Error, EventRole, HistoryCursor, Limits, NewEvent, NewRoom,
    ProfileInput, RoomFilter, RoomKind, RoomPatch, RoomRole, RoomSeq, SearchRequest, SendMessage,
    Store, UserId, Visibility, assert_err,
};

mod attachments;
mod bots;
mod direct;
mod events;
mod feed;
mod host;
mod images;
mod messages;
mod permissions;
mod polls;
mod presence;
mod profiles;
mod rooms;
mod search;
mod sends;
mod threads;
mod timeline;
mod unread;
mod webhooks;

pub use attachments::*;
pub use bots::*;
pub use direct::*;
pub use events::*;
pub use feed::*;
pub use host::*;
pub use images::*;
pub use messages::*;
pub use permissions::*;
pub use polls::*;
pub use presence::*;
pub use profiles::*;
pub use rooms::*;
pub use search::*;
pub use sends::*;
pub use threads::*;
pub use timeline::*;
pub use unread::*;
pub use webhooks::*;

pub(super) fn relaxed() -> Limits {
    Limits {
        send_rate_max: 1_000_000,
        ..Limits::default()
    }
}

pub(super) fn search(query: &str, room: Option<crate::RoomId>) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        room_id: room,
        limit: crate::PageSize::DEFAULT,
    }
}
