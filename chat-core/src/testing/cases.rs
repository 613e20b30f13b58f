//! The conformance cases. Each one builds its own world on the given store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use super::harness::{Harness, text};
use crate::{
    Account, AttachmentInput, ChangeKind, Delivery, Error, EventRole, HistoryCursor, Limits,
    NewEvent, NewRoom, ProfileInput, RoomFilter, RoomKind, RoomPatch, RoomRole, RoomSeq,
    SearchRequest, SendMessage, Store, UserId, Visibility, assert_err,
};

fn relaxed() -> Limits {
    Limits {
        send_rate_max: 1_000_000,
        ..Limits::default()
    }
}

fn attachment(size: u64) -> AttachmentInput {
    AttachmentInput {
        file_name: "photo.png".into(),
        content_type: "image/png".into(),
        size,
        checksum: Some("sha256:abc".into()),
    }
}

fn search(query: &str, room: Option<crate::RoomId>) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        room_id: room,
        limit: None,
    }
}

/// Profiles: upsert creates then updates (keeping `created_at`); bad input is refused.
pub async fn profile_upsert_and_get(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let id = UserId::new();
    let p = |n: &str| ProfileInput {
        display_name: n.into(),
        avatar_url: None,
    };
    let first = h.chat.upsert_profile(id, p("  Sarah Chen ")).await.unwrap();
    assert_eq!(first.display_name, "Sarah Chen");
    h.advance_secs(5);
    let second = h
        .chat
        .upsert_profile(
            id,
            ProfileInput {
                display_name: "Sarah C".into(),
                avatar_url: Some("https://a.test/s.png".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(second.created_at, first.created_at);
    assert!(second.updated_at > first.updated_at);
    assert_eq!(h.chat.get_profile(id, id).await.unwrap(), second);
    assert_err!(
        h.chat.get_profile(id, UserId::new()).await,
        Error::NotFound { .. }
    );
    for bad in ["", "   ", "a\0b", "line\nbreak"] {
        assert_err!(
            h.chat.upsert_profile(id, p(bad)).await,
            Error::Validation { .. }
        );
    }
    assert_err!(
        h.chat.upsert_profile(id, p(&"x".repeat(65))).await,
        Error::Validation { .. }
    );
    assert!(h.chat.upsert_profile(id, p(&"é".repeat(64))).await.is_ok());
    let bad_avatar = ProfileInput {
        display_name: "S".into(),
        avatar_url: Some("javascript:alert(1)".into()),
    };
    assert_err!(
        h.chat.upsert_profile(id, bad_avatar).await,
        Error::Validation { .. }
    );
    assert_eq!(
        h.chat.get_profile(id, id).await.unwrap().display_name,
        "é".repeat(64)
    );
}

/// Events: the creator becomes owner; only members see an event.
pub async fn events_create_list_and_hide(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let alice = h.user("Alice").await;
    let bob = h.user("Bob").await;
    let e1 = h.event(alice).await;
    let e2 = h
        .chat
        .create_event(
            alice,
            NewEvent {
                name: "Trip".into(),
                kind: String::new(),
            },
        )
        .await
        .unwrap();
    let mine = h.chat.list_my_events(alice).await.unwrap();
    assert_eq!(
        mine.iter().map(|s| s.event.id).collect::<Vec<_>>(),
        vec![e1, e2.id]
    );
    assert!(mine.iter().all(|s| s.role == EventRole::Owner));
    assert!(h.chat.list_my_events(bob).await.unwrap().is_empty());
    assert_err!(h.chat.get_event(bob, e1).await, Error::NotFound { .. });
    assert_err!(h.chat.event_members(bob, e1).await, Error::NotFound { .. });
    assert_eq!(
        h.chat.get_event(alice, e1).await.unwrap().role,
        EventRole::Owner
    );
    let bad = NewEvent {
        name: " ".into(),
        kind: "party".into(),
    };
    assert_err!(
        h.chat.create_event(alice, bad).await,
        Error::Validation { .. }
    );
    let long = NewEvent {
        name: "n".repeat(101),
        kind: "party".into(),
    };
    assert_err!(
        h.chat.create_event(alice, long).await,
        Error::Validation { .. }
    );
    let nobody = UserId::new();
    let ok = NewEvent {
        name: "Party".into(),
        kind: "party".into(),
    };
    assert_err!(
        h.chat.create_event(nobody, ok).await,
        Error::NotFound { .. }
    );
}

/// Event membership: admins manage it, the owner is fixed, removal ends room access.
pub async fn event_members_and_roles(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let admin = h.user("Admin").await;
    let member = h.user("Member").await;
    let outsider = h.user("Outsider").await;
    h.chat
        .add_event_member(owner, event, admin, EventRole::Admin)
        .await
        .unwrap();
    h.chat
        .add_event_member(admin, event, member, EventRole::Member)
        .await
        .unwrap();
    assert_err!(
        h.chat
            .add_event_member(member, event, outsider, EventRole::Member)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .add_event_member(outsider, event, outsider, EventRole::Member)
            .await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat
            .add_event_member(owner, event, outsider, EventRole::Owner)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .add_event_member(owner, event, member, EventRole::Member)
            .await,
        Error::Conflict { .. }
    );
    assert_err!(
        h.chat
            .add_event_member(owner, event, UserId::new(), EventRole::Member)
            .await,
        Error::NotFound { .. }
    );

    let members = h.chat.event_members(member, event).await.unwrap();
    assert_eq!(
        members.iter().map(|m| m.user_id).collect::<Vec<_>>(),
        vec![owner, admin, member]
    );

    let promoted = h
        .chat
        .set_event_role(admin, event, member, EventRole::Admin)
        .await
        .unwrap();
    assert_eq!(promoted.role, EventRole::Admin);
    h.chat
        .set_event_role(owner, event, member, EventRole::Member)
        .await
        .unwrap();
    assert_err!(
        h.chat
            .set_event_role(member, event, admin, EventRole::Member)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .set_event_role(admin, event, owner, EventRole::Member)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .set_event_role(admin, event, member, EventRole::Owner)
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .set_event_role(admin, event, outsider, EventRole::Admin)
            .await,
        Error::NotFound { .. }
    );

    h.chat.join_room(member, room).await.unwrap();
    h.send(member, room, "before removal").await;
    assert_err!(
        h.chat.remove_event_member(member, event, admin).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.remove_event_member(admin, event, owner).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.remove_event_member(owner, event, owner).await,
        Error::Forbidden { .. }
    );
    h.chat
        .remove_event_member(admin, event, member)
        .await
        .unwrap();
    assert_err!(
        h.chat
            .history(member, room, HistoryCursor::LATEST, None)
            .await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.send_message(member, room, text("hi")).await,
        Error::NotFound { .. }
    );
    assert!(
        h.store
            .get_room_member(room, member)
            .await
            .unwrap()
            .is_none(),
        "room memberships go with the event"
    );
    assert_err!(
        h.chat.remove_event_member(admin, event, member).await,
        Error::NotFound { .. }
    );
    // Leaving is removing oneself.
    h.chat
        .remove_event_member(admin, event, admin)
        .await
        .unwrap();
    assert!(h.chat.list_my_events(admin).await.unwrap().is_empty());
}

/// Rooms: who may create which kind, unique names, and who sees what in listings.
pub async fn rooms_create_list_and_filter(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, main) = h.owner_event_room().await;
    let member = h.user("Member").await;
    let outsider = h.user("Outsider").await;
    h.chat
        .add_event_member(owner, event, member, EventRole::Member)
        .await
        .unwrap();

    let topic = NewRoom {
        name: "Food Trucks".into(),
        kind: RoomKind::Topic,
        visibility: Visibility::Public,
    };
    let food = h
        .chat
        .create_room(member, event, topic.clone())
        .await
        .unwrap();
    assert_eq!(food.last_seq, RoomSeq::ZERO);
    let creator = h.chat.room_members(member, food.id).await.unwrap();
    assert_eq!(creator.len(), 1);
    assert_eq!(creator[0].role, RoomRole::Moderator);
    let same_name = NewRoom {
        name: "FOOD trucks".into(),
        ..topic.clone()
    };
    assert_err!(
        h.chat.create_room(owner, event, same_name).await,
        Error::Conflict { .. }
    );
    let announce = NewRoom {
        name: "News".into(),
        kind: RoomKind::Announcement,
        visibility: Visibility::Public,
    };
    assert_err!(
        h.chat.create_room(member, event, announce.clone()).await,
        Error::Forbidden { .. }
    );
    h.chat.create_room(owner, event, announce).await.unwrap();
    assert_err!(
        h.chat.create_room(outsider, event, topic.clone()).await,
        Error::NotFound { .. }
    );
    let blank = NewRoom {
        name: "".into(),
        ..topic.clone()
    };
    assert_err!(
        h.chat.create_room(owner, event, blank).await,
        Error::Validation { .. }
    );
    let secret = NewRoom {
        name: "Secret".into(),
        kind: RoomKind::Topic,
        visibility: Visibility::Private,
    };
    let secret = h.chat.create_room(owner, event, secret).await.unwrap();

    let names =
        |views: Vec<crate::RoomView>| views.into_iter().map(|v| v.room.name).collect::<Vec<_>>();
    let all = RoomFilter::default();
    assert_eq!(
        names(h.chat.list_rooms(owner, all.clone()).await.unwrap()),
        ["Main", "Food Trucks", "News", "Secret"]
    );
    assert_eq!(
        names(h.chat.list_rooms(member, all.clone()).await.unwrap()),
        ["Main", "Food Trucks", "News"]
    );
    assert!(h.chat.list_rooms(outsider, all).await.unwrap().is_empty());
    let filtered = RoomFilter {
        event_id: Some(event),
        name_contains: Some("TRUCK".into()),
    };
    assert_eq!(
        names(h.chat.list_rooms(member, filtered).await.unwrap()),
        ["Food Trucks"]
    );
    let views = h
        .chat
        .list_rooms(member, RoomFilter::default())
        .await
        .unwrap();
    assert!(
        views
            .iter()
            .find(|v| v.room.id == main)
            .unwrap()
            .membership
            .is_none()
    );
    assert!(
        views
            .iter()
            .find(|v| v.room.id == food.id)
            .unwrap()
            .membership
            .is_some()
    );

    assert_err!(
        h.chat.get_room(member, secret.id).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.get_room(outsider, main).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.get_room(owner, crate::RoomId::new()).await,
        Error::NotFound { .. }
    );
    assert_eq!(
        h.chat.get_room(member, main).await.unwrap().room.name,
        "Main"
    );
}

/// Room settings: moderators rename, archive (read-only) and set slow mode.
pub async fn room_settings_rename_archive_slow_mode(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, room).await;
    h.room(owner, event, "Other", Visibility::Public).await;

    let renamed = h
        .chat
        .rename_room(owner, room, "Lobby".into())
        .await
        .unwrap();
    assert_eq!(renamed.name, "Lobby");
    assert_err!(
        h.chat.rename_room(member, room, "Mine".into()).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.rename_room(owner, room, "other".into()).await,
        Error::Conflict { .. }
    );
    assert_err!(
        h.chat.rename_room(owner, room, "".into()).await,
        Error::Validation { .. }
    );
    let too_slow = RoomPatch {
        slow_mode_secs: Some(u32::MAX),
        ..RoomPatch::default()
    };
    assert_err!(
        h.chat.update_room(owner, room, too_slow).await,
        Error::Validation { .. }
    );

    let archived = h.chat.set_archived(owner, room, true).await.unwrap();
    assert!(archived.archived);
    assert_err!(
        h.chat.send_message(member, room, text("hello")).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.rename_room(owner, room, "Archive".into()).await,
        Error::Forbidden { .. }
    );
    assert!(
        h.chat
            .history(member, room, HistoryCursor::LATEST, None)
            .await
            .is_ok()
    );
    let restored = h.chat.set_archived(owner, room, false).await.unwrap();
    assert!(!restored.archived);
    h.send(member, room, "back").await;
    assert_eq!(
        h.chat.get_room(member, room).await.unwrap().room.name,
        "Lobby"
    );
}

/// Joining, inviting, leaving and banning.
pub async fn room_membership_join_invite_leave_ban(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.user("Alice").await;
    let bob = h.user("Bob").await;
    let outsider = h.user("Outsider").await;
    for u in [alice, bob] {
        h.chat
            .add_event_member(owner, event, u, EventRole::Member)
            .await
            .unwrap();
    }
    let secret = h.room(owner, event, "Secret", Visibility::Private).await;

    let joined = h.chat.join_room(alice, room).await.unwrap();
    assert_eq!(joined.role, RoomRole::Member);
    assert_eq!(
        h.chat.join_room(alice, room).await.unwrap().joined_at,
        joined.joined_at
    );
    assert_err!(
        h.chat.join_room(alice, secret).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.join_room(outsider, room).await,
        Error::NotFound { .. }
    );

    assert_err!(
        h.chat.invite(alice, secret, bob).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.invite(alice, room, bob).await,
        Error::Forbidden { .. }
    );
    h.chat.invite(owner, secret, alice).await.unwrap();
    assert_err!(
        h.chat.invite(owner, secret, alice).await,
        Error::Conflict { .. }
    );
    assert_err!(
        h.chat.invite(owner, secret, outsider).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.invite(owner, secret, UserId::new()).await,
        Error::NotFound { .. }
    );
    h.send(alice, secret, "inside").await;

    h.chat.leave_room(alice, secret).await.unwrap();
    assert_err!(h.chat.get_room(alice, secret).await, Error::NotFound { .. });
    assert_err!(h.chat.leave_room(bob, room).await, Error::NotFound { .. });

    h.chat.join_room(bob, room).await.unwrap();
    let banned = h.chat.ban_member(owner, room, bob, true).await.unwrap();
    assert!(banned.banned);
    assert_err!(
        h.chat.history(bob, room, HistoryCursor::LATEST, None).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.send_message(bob, room, text("let me in")).await,
        Error::Forbidden { .. }
    );
    assert_err!(h.chat.join_room(bob, room).await, Error::Forbidden { .. });
    assert_err!(h.chat.leave_room(bob, room).await, Error::Forbidden { .. });
    assert_err!(
        h.chat.ban_member(alice, room, owner, true).await,
        Error::Forbidden { .. }
    );
    // A pre-emptive ban of an event member who never joined.
    let carol = h.user("Carol").await;
    h.chat
        .add_event_member(owner, event, carol, EventRole::Member)
        .await
        .unwrap();
    h.chat.ban_member(owner, room, carol, true).await.unwrap();
    assert_err!(h.chat.join_room(carol, room).await, Error::Forbidden { .. });
    assert_err!(
        h.chat.ban_member(owner, room, outsider, true).await,
        Error::NotFound { .. }
    );

    h.chat.ban_member(owner, room, bob, false).await.unwrap();
    h.send(bob, room, "thanks").await;
}

/// Mutes expire with the clock; moderators delete; admins cannot be muted.
pub async fn mute_and_room_roles(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let until = h.chat.now().saturating_add(Duration::from_secs(600));
    let muted = h
        .chat
        .mute_member(owner, room, alice, Some(until))
        .await
        .unwrap();
    assert_eq!(muted.muted_until, Some(until));
    assert_err!(
        h.chat.send_message(alice, room, text("shh")).await,
        Error::Forbidden { .. }
    );
    assert!(
        h.chat
            .history(alice, room, HistoryCursor::LATEST, None)
            .await
            .is_ok()
    );
    assert_err!(
        h.chat.mute_member(bob, room, alice, None).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .mute_member(owner, room, UserId::new(), Some(until))
            .await,
        Error::NotFound { .. }
    );
    h.advance_secs(600);
    h.send(alice, room, "free again").await;

    let msg = h.send(alice, room, "delete me").await;
    assert_err!(
        h.chat.delete_message(bob, msg.id).await,
        Error::Forbidden { .. }
    );
    let promoted = h
        .chat
        .set_member_role(owner, room, bob, RoomRole::Moderator)
        .await
        .unwrap();
    assert_eq!(promoted.role, RoomRole::Moderator);
    assert!(h.chat.delete_message(bob, msg.id).await.unwrap().is_deleted);
    assert_err!(
        h.chat
            .set_member_role(alice, room, bob, RoomRole::Member)
            .await,
        Error::Forbidden { .. }
    );

    let admin = h.user("Admin").await;
    h.chat
        .add_event_member(owner, event, admin, EventRole::Admin)
        .await
        .unwrap();
    h.chat.join_room(admin, room).await.unwrap();
    let until = h.chat.now().saturating_add(Duration::from_secs(600));
    assert_err!(
        h.chat.mute_member(bob, room, admin, Some(until)).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.ban_member(bob, room, admin, true).await,
        Error::Forbidden { .. }
    );
}

/// History pages: newest-first `before`, oldest-first `after`, no gap, no overlap.
pub async fn history_pages_in_both_directions(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let mut sent = Vec::new();
    for i in 0..120 {
        sent.push(h.send(owner, room, &format!("message {i}")).await.id);
    }
    let latest = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(latest.messages.len(), 50);
    assert!(latest.has_more);
    assert_eq!(latest.messages[0].id, sent[119]);

    let mut backwards = Vec::new();
    let mut cursor = HistoryCursor::LATEST;
    loop {
        let page = h.chat.history(owner, room, cursor, Some(7)).await.unwrap();
        let Some(last) = page.messages.last() else {
            break;
        };
        cursor = HistoryCursor::Before(last.seq);
        backwards.extend(page.messages.iter().map(|m| m.id));
        if !page.has_more {
            break;
        }
    }
    backwards.reverse();
    assert_eq!(backwards, sent);

    let mut forwards = Vec::new();
    let mut cursor = HistoryCursor::After(RoomSeq::ZERO);
    loop {
        let page = h
            .chat
            .history(owner, room, cursor, Some(100))
            .await
            .unwrap();
        forwards.extend(page.messages.iter().map(|m| m.id));
        match page.messages.last() {
            Some(last) if page.has_more => cursor = HistoryCursor::After(last.seq),
            _ => break,
        }
    }
    assert_eq!(forwards, sent);

    for bad in [0, -1, 101, i64::MAX] {
        assert_err!(
            h.chat
                .history(owner, room, HistoryCursor::LATEST, Some(bad))
                .await,
            Error::Validation { .. }
        );
    }
    let empty = h
        .chat
        .history(owner, room, HistoryCursor::Before(RoomSeq(1)), None)
        .await
        .unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more);
}

/// Paging backwards while others send: the pages cover exactly what existed, once each.
pub async fn keyset_pages_stable_under_concurrent_sends(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for i in 0..200 {
        h.send(owner, room, &format!("old {i}")).await;
    }
    let start = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, Some(1))
        .await
        .unwrap()
        .messages[0]
        .seq;
    let writer = {
        let h = h.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                h.send(owner, room, &format!("new {i}")).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor = HistoryCursor::Before(start.next());
    loop {
        let page = h.chat.history(owner, room, cursor, Some(9)).await.unwrap();
        seen.extend(page.messages.iter().map(|m| m.seq));
        match page.messages.last() {
            Some(last) if page.has_more => cursor = HistoryCursor::Before(last.seq),
            _ => break,
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    assert_eq!(seen.len(), 200);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly descending, no duplicates"
    );
    assert_eq!(seen[0], start);
}

/// 32 concurrent senders: seqs are strictly increasing and gap-free.
pub async fn seq_gap_free_under_32_concurrent_senders(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(h.joined(&format!("Sender {i}"), owner, event, room).await);
    }
    let before = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    let tasks = users.iter().map(|&u| {
        let h = h.clone();
        tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                seqs.push(h.send(u, room, &format!("{i}")).await.seq);
            }
            seqs
        })
    });
    let mut all: Vec<RoomSeq> = Vec::new();
    for seqs in join_all(tasks).await {
        let seqs = seqs.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one sender's seqs increase"
        );
        all.extend(seqs);
    }
    all.sort();
    let expected: Vec<RoomSeq> = (before.get() + 1..=before.get() + 320)
        .map(RoomSeq)
        .collect();
    assert_eq!(all, expected);
    let log = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, Some(100))
        .await
        .unwrap();
    assert_eq!(log.last_seq, RoomSeq(before.get() + 320));
    let mut seqs = Vec::new();
    let mut after = RoomSeq::ZERO;
    loop {
        let page = h.chat.changes(owner, room, after, Some(100)).await.unwrap();
        seqs.extend(page.changes.iter().map(|c| c.seq));
        match page.changes.last() {
            Some(c) if page.has_more => after = c.seq,
            _ => break,
        }
    }
    assert_eq!(
        seqs,
        (1..=before.get() + 320).map(RoomSeq).collect::<Vec<_>>()
    );
}

/// Catch-up from every seq returns exactly the rest of the log, edits and deletions included.
pub async fn catch_up_from_any_seq_includes_edits_and_deletes(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let a = h.send(alice, room, "first").await;
    let b = h.send(owner, room, "second").await;
    h.chat
        .edit_message(alice, a.id, "first, edited".into())
        .await
        .unwrap();
    h.chat.react(owner, a.id, "👍", true).await.unwrap();
    h.chat.delete_message(owner, b.id).await.unwrap();
    let full = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    let kinds: Vec<&str> = full.changes.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "member_joined",
            "message_posted",
            "message_posted",
            "message_edited",
            "reactions_changed",
            "message_deleted"
        ]
    );
    assert_eq!(full.last_seq, RoomSeq(6));
    for s in 0..=6 {
        let page = h.chat.changes(alice, room, RoomSeq(s), None).await.unwrap();
        assert_eq!(
            page.changes,
            full.changes[s as usize..],
            "catch-up after {s}"
        );
    }
    match &full.changes[3].kind {
        ChangeKind::MessageEdited(m) => assert!(m.is_edited && m.text == "first, edited"),
        other => panic!("expected an edit, got {other:?}"),
    }
    match &full.changes[5].kind {
        ChangeKind::MessageDeleted(m) => assert!(m.is_deleted && m.text.is_empty() && m.id == b.id),
        other => panic!("expected a deletion, got {other:?}"),
    }
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.changes(outsider, room, RoomSeq::ZERO, None).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.changes(owner, room, RoomSeq::ZERO, Some(0)).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.changes(owner, room, RoomSeq(999), None).await,
        Error::Validation { .. }
    );
}

/// A resent `client_msg_id` returns the original: no second message, fan-out or quota charge.
pub async fn idempotent_client_msg_id(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let mut sub = h.chat.subscribe(owner, room, None).await.unwrap();
    let with_id = |t: &str, id: &str| SendMessage {
        client_msg_id: Some(id.into()),
        ..text(t)
    };
    let first = h
        .chat
        .send_message(alice, room, with_id("hello", "c-1"))
        .await
        .unwrap();
    assert!(!first.replayed);
    let again = h
        .chat
        .send_message(alice, room, with_id("different text", "c-1"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.message, first.message);
    // Another author may use the same key.
    let other = h
        .chat
        .send_message(owner, room, with_id("mine", "c-1"))
        .await
        .unwrap();
    assert!(!other.replayed);
    assert_ne!(other.message.id, first.message.id);
    // Only two changes were fanned out.
    for expected in [first.message.id, other.message.id] {
        match sub.recv().await {
            Some(Delivery::Change(c)) => assert_eq!(c.kind.message().unwrap().id, expected),
            other => panic!("expected a change, got {other:?}"),
        }
    }
    // Quota: nine more fill alice's window; replaying still works; the next new one is refused.
    for i in 0..9 {
        h.chat
            .send_message(alice, room, with_id("fill", &format!("f-{i}")))
            .await
            .unwrap();
    }
    assert!(
        h.chat
            .send_message(alice, room, with_id("hello", "c-1"))
            .await
            .unwrap()
            .replayed
    );
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("new", "c-2"))
            .await,
        Error::RateLimited { .. }
    );
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 11);
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("x", &"k".repeat(65)))
            .await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat
            .send_message(alice, room, with_id("x", "has space"))
            .await,
        Error::Validation { .. }
    );
}

/// Sixteen racing sends with one `client_msg_id` store one message; all callers get it.
pub async fn racing_duplicate_client_msg_ids_store_one_message(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..16).map(|_| {
        let h = h.clone();
        tokio::spawn(async move {
            let msg = SendMessage {
                client_msg_id: Some("race-1".into()),
                ..text("once")
            };
            h.chat.send_message(owner, room, msg).await
        })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    let ids: HashSet<_> = results.iter().map(|s| s.message.id).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(results.iter().filter(|s| !s.replayed).count(), 1);
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 1);
}

/// 100 concurrent sends from one user admit exactly 10.
pub async fn rate_limit_exact_under_100_concurrent_sends(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let sends = (0..100).map(|i| {
        let h = h.clone();
        tokio::spawn(async move {
            h.chat
                .send_message(owner, room, text(&format!("burst {i}")))
                .await
        })
    });
    let results: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 10, "exactly the limit is admitted");
    for r in results.iter().filter(|r| r.is_err()) {
        match r {
            Err(Error::RateLimited { retry_after }) => {
                assert!(*retry_after > Duration::ZERO && *retry_after <= Duration::from_secs(60));
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
    }
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(history.messages.len(), 10);
    h.advance_secs(60);
    h.send(owner, room, "window passed").await;
}

/// Invalid and refused sends cost no quota.
pub async fn rejected_sends_cost_no_quota(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for _ in 0..20 {
        assert_err!(
            h.chat
                .send_message(owner, room, text(&"x".repeat(5001)))
                .await,
            Error::Validation { .. }
        );
    }
    for i in 0..10 {
        h.send(owner, room, &format!("{i}")).await;
    }
    for _ in 0..5 {
        assert_err!(
            h.chat.send_message(owner, room, text("more")).await,
            Error::RateLimited { .. }
        );
    }
    // Had the refused sends counted, the window would still be full after 60 s.
    h.advance_secs(60);
    for i in 0..10 {
        h.send(owner, room, &format!("again {i}")).await;
    }
}

/// Slow mode spaces one member's messages in one room; moderators are exempt.
pub async fn slow_mode_per_room(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let other = h.room(owner, event, "Other", Visibility::Public).await;
    h.chat.join_room(alice, other).await.unwrap();
    h.chat
        .update_room(
            owner,
            room,
            RoomPatch {
                slow_mode_secs: Some(30),
                ..RoomPatch::default()
            },
        )
        .await
        .unwrap();
    h.send(alice, room, "one").await;
    match h.chat.send_message(alice, room, text("two")).await {
        Err(Error::RateLimited { retry_after }) => assert_eq!(retry_after, Duration::from_secs(30)),
        other => panic!("expected slow mode, got {other:?}"),
    }
    h.send(alice, other, "elsewhere is fine").await;
    h.send(owner, room, "moderator one").await;
    h.send(owner, room, "moderator two").await;
    h.advance_secs(30);
    h.send(alice, room, "two").await;
}

/// The original design's first unit test: the 11th message within a minute fails.
pub async fn original_rate_limit_11th_message_fails(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for i in 0..10 {
        h.send(owner, room, &format!("Message {i}")).await;
        h.advance_secs(1);
    }
    let err = h
        .chat
        .send_message(owner, room, text("Too many messages"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().starts_with("rate limit exceeded"));
    // The first message leaves the window 60 s after it was sent: 50 s from now.
    match err {
        Error::RateLimited { retry_after } => assert_eq!(retry_after, Duration::from_secs(50)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

/// The original design's second unit test: 5001 characters is too long; 5000 is fine.
pub async fn original_message_too_long(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    match h
        .chat
        .send_message(owner, room, text(&"a".repeat(5001)))
        .await
    {
        Err(Error::Validation { field, reason }) => {
            assert_eq!(field, "text");
            assert!(reason.contains("too long"), "{reason}");
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    h.send(owner, room, &"a".repeat(5000)).await;
    h.send(owner, room, &"é".repeat(5000)).await;
}

/// The original design's third unit test: a mention of User Two is stored.
pub async fn original_mentions_stored(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let user1 = h.joined("User One", owner, event, room).await;
    let user2 = h.joined("User Two", owner, event, room).await;
    let stranger = h.user("Not Here").await;
    let sent = h
        .send(
            user1,
            room,
            &format!("Hey @[User Two]({user2}) check this out!"),
        )
        .await;
    assert_eq!(sent.mentions, vec![user2]);
    let stored = h
        .chat
        .history(user1, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(
        stored
            .messages
            .iter()
            .find(|m| m.id == sent.id)
            .unwrap()
            .mentions
            .contains(&user2)
    );
    // Mentions of non-members are kept as text but not as mentions.
    let sent = h
        .send(
            user1,
            room,
            &format!("@[Not Here]({stranger}) and @[User Two]({user2})"),
        )
        .await;
    assert_eq!(sent.mentions, vec![user2]);
}

/// Every invalid send gets a validation error and stores nothing.
pub async fn send_validation_stores_nothing(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let other_room = h.room(owner, event, "Other", Visibility::Public).await;
    let elsewhere = h.send(owner, other_room, "elsewhere").await;
    let many_mentions: String = (0..51)
        .map(|_| format!("@[U]({}) ", UserId::new()))
        .collect();
    let cases: Vec<(SendMessage, &str)> = vec![
        (text(""), "text"),
        (text(" \n\t "), "text"),
        (text("nul\0byte"), "text"),
        (text("escape\u{1b}[2J"), "text"),
        (text("del\u{7f}"), "text"),
        (text(&many_mentions), "text"),
        (
            SendMessage {
                attachments: vec![attachment(1); 11],
                ..text("x")
            },
            "attachments",
        ),
        (
            SendMessage {
                attachments: vec![attachment(5 * 1024 * 1024 + 1)],
                ..text("x")
            },
            "attachments[0].size",
        ),
        (
            SendMessage {
                attachments: vec![AttachmentInput {
                    file_name: "../etc/passwd".into(),
                    ..attachment(1)
                }],
                ..text("x")
            },
            "attachments[0].file_name",
        ),
        (
            SendMessage {
                attachments: vec![AttachmentInput {
                    content_type: "nonsense".into(),
                    ..attachment(1)
                }],
                ..text("x")
            },
            "attachments[0].content_type",
        ),
    ];
    for (msg, field) in cases {
        match h.chat.send_message(owner, room, msg).await {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected validation error on {field}, got {other:?}"),
        }
    }
    let reply_elsewhere = SendMessage {
        reply_to: Some(elsewhere.id),
        ..text("reply")
    };
    assert_err!(
        h.chat.send_message(owner, room, reply_elsewhere).await,
        Error::NotFound { .. }
    );
    let reply_unknown = SendMessage {
        reply_to: Some(crate::MessageId::new()),
        ..text("reply")
    };
    assert_err!(
        h.chat.send_message(owner, room, reply_unknown).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat
            .send_message(owner, crate::RoomId::new(), text("x"))
            .await,
        Error::NotFound { .. }
    );
    let history = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(history.messages.is_empty());
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq::ZERO
    );
}

/// Whitespace beside an attachment is fine; replies point into the same room.
pub async fn attachments_and_replies(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    let photo = h
        .chat
        .send_message(
            owner,
            room,
            SendMessage {
                attachments: vec![attachment(5 * 1024 * 1024)],
                ..text("  ")
            },
        )
        .await
        .unwrap()
        .message;
    assert_eq!(photo.attachments.len(), 1);
    assert_eq!(photo.attachments[0].uploader, owner);
    assert_eq!(photo.attachments[0].size, 5 * 1024 * 1024);
    let reply = h
        .chat
        .send_message(
            owner,
            room,
            SendMessage {
                reply_to: Some(photo.id),
                ..text("nice")
            },
        )
        .await
        .unwrap()
        .message;
    assert_eq!(reply.reply_to, Some(photo.id));
    let page = h
        .chat
        .history(owner, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(page.messages[1], photo);
    assert_eq!(page.messages[0].author_name, "Owner");
}

/// Editing: own messages only, not deleted ones, validated like a send.
pub async fn edit_rules(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.user("Bob").await;
    h.chat
        .add_event_member(owner, event, bob, EventRole::Member)
        .await
        .unwrap();
    let msg = h.send(alice, room, "helo").await;
    h.advance_secs(1);
    let edited = h
        .chat
        .edit_message(
            alice,
            msg.id,
            format!("hello @[Bob]({bob}) @[Owner]({owner})"),
        )
        .await
        .unwrap();
    assert!(edited.is_edited);
    assert_eq!(edited.edited_at, Some(h.chat.now()));
    assert_eq!(edited.seq, msg.seq, "a message keeps its seq");
    assert_eq!(edited.mentions, vec![owner], "bob is not in the room");
    assert_err!(
        h.chat.edit_message(owner, msg.id, "hijack".into()).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.edit_message(alice, msg.id, " ".into()).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.edit_message(alice, msg.id, "a".repeat(5001)).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat
            .edit_message(alice, crate::MessageId::new(), "x".into())
            .await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.edit_message(bob, msg.id, "x".into()).await,
        Error::Forbidden { .. }
    );
    h.chat.delete_message(alice, msg.id).await.unwrap();
    assert_err!(
        h.chat.edit_message(alice, msg.id, "undead".into()).await,
        Error::Conflict { .. }
    );
    let history = h
        .chat
        .history(alice, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert!(history.messages[0].is_deleted);
}

/// Deleting: own or as moderator; tombstones stay in history; repeat deletes are harmless.
pub async fn delete_rules_and_tombstones(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let admin = h.user("Admin").await;
    h.chat
        .add_event_member(owner, event, admin, EventRole::Admin)
        .await
        .unwrap();
    let secret = h.room(owner, event, "Secret", Visibility::Private).await;
    let hidden = h.send(owner, secret, "private").await;

    let a = h.send(alice, room, "mine").await;
    let b = h.send(alice, room, "also mine").await;
    assert_err!(
        h.chat.delete_message(bob, a.id).await,
        Error::Forbidden { .. }
    );
    let tomb = h.chat.delete_message(alice, a.id).await.unwrap();
    assert!(tomb.is_deleted && tomb.text.is_empty() && tomb.deleted_at.is_some());
    assert_eq!(h.chat.delete_message(alice, a.id).await.unwrap(), tomb);
    // Event admins moderate public rooms without joining them.
    assert!(h.chat.delete_message(admin, b.id).await.unwrap().is_deleted);
    assert_err!(
        h.chat.delete_message(alice, hidden.id).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.delete_message(admin, hidden.id).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.delete_message(alice, crate::MessageId::new()).await,
        Error::NotFound { .. }
    );
    let page = h
        .chat
        .history(alice, room, HistoryCursor::LATEST, None)
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 2);
    assert!(
        page.messages
            .iter()
            .all(|m| m.is_deleted && m.text.is_empty())
    );
    let log = h
        .chat
        .changes(alice, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    assert_eq!(
        log.changes
            .iter()
            .filter(|c| c.kind.name() == "message_deleted")
            .count(),
        2
    );
}

/// Reactions toggle per user and key; only real changes are logged.
pub async fn reactions(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let msg = h.send(owner, room, "party!").await;
    let seq0 = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    let m = h.chat.react(alice, msg.id, "🎉", true).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![alice]);
    let m = h.chat.react(owner, msg.id, "🎉", true).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![alice, owner]);
    let same = h.chat.react(owner, msg.id, "🎉", true).await.unwrap();
    assert_eq!(same.reactions["🎉"], vec![alice, owner]);
    let m = h.chat.react(alice, msg.id, "🎉", false).await.unwrap();
    assert_eq!(m.reactions["🎉"], vec![owner]);
    let m = h.chat.react(owner, msg.id, "🎉", false).await.unwrap();
    assert!(m.reactions.is_empty());
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(seq0.get() + 4)
    );
    assert_err!(
        h.chat.react(alice, msg.id, "", true).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.react(alice, msg.id, &"x".repeat(33), true).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.react(alice, msg.id, "a b", true).await,
        Error::Validation { .. }
    );
    h.chat.delete_message(owner, msg.id).await.unwrap();
    assert_err!(
        h.chat.react(alice, msg.id, "🎉", true).await,
        Error::Conflict { .. }
    );
}

/// The permission matrix: roles against post, read, edit own, delete others', search, manage.
pub async fn permission_matrix(store: Arc<dyn Store>) {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Outcome {
        Ok,
        NotFound,
        Forbidden,
    }
    use Outcome::{Forbidden as F, NotFound as N, Ok as Y};
    fn outcome<T>(r: &crate::Result<T>) -> Outcome {
        match r {
            Ok(_) => Y,
            Err(Error::NotFound { .. }) => N,
            Err(Error::Forbidden { .. }) => F,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    for visibility in [Visibility::Private, Visibility::Public] {
        let h = Harness::new(Arc::clone(&store)).await;
        let owner = h.user("Owner").await;
        let event = h.event(owner).await;
        let room = h.room(owner, event, "Room", visibility).await;
        let user = |n: &'static str| {
            let h = h.clone();
            async move {
                let u = h.user(n).await;
                h.chat
                    .add_event_member(owner, event, u, EventRole::Member)
                    .await
                    .unwrap();
                u
            }
        };
        let outsider = h.user("Outsider").await;
        let non_member = user("NonMember").await;
        let member = user("Member").await;
        let muted = user("Muted").await;
        let banned = user("Banned").await;
        let moderator = user("Moderator").await;
        let admin = user("Admin").await;
        h.chat
            .set_event_role(owner, event, admin, EventRole::Admin)
            .await
            .unwrap();
        for u in [member, muted, banned, moderator, admin] {
            h.chat.invite(owner, room, u).await.unwrap();
        }
        h.chat
            .set_member_role(owner, room, moderator, RoomRole::Moderator)
            .await
            .unwrap();
        let victim = h.send(owner, room, "owner's message").await;
        let own: Vec<_> = {
            let mut v = Vec::new();
            for u in [member, muted, banned, moderator, admin] {
                v.push((u, h.send(u, room, "own message").await.id));
            }
            v
        };
        let own_msg = |u: UserId| {
            own.iter()
                .find(|(x, _)| *x == u)
                .map(|(_, m)| *m)
                .unwrap_or(victim.id)
        };
        let until = h.chat.now().saturating_add(Duration::from_secs(3600));
        h.chat
            .mute_member(owner, room, muted, Some(until))
            .await
            .unwrap();
        h.chat.ban_member(owner, room, banned, true).await.unwrap();

        let private = visibility == Visibility::Private;
        let hidden = if private { N } else { F };
        let banned_read = if private { N } else { F };
        // (name, user, post, read, edit own, delete other's, search room, manage)
        let table = [
            ("outsider", outsider, N, N, N, N, N, N),
            (
                "non-member",
                non_member,
                hidden,
                hidden,
                hidden,
                hidden,
                hidden,
                if private { N } else { F },
            ),
            ("member", member, Y, Y, Y, F, Y, F),
            ("muted", muted, F, Y, F, F, Y, F),
            (
                "banned",
                banned,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
                banned_read,
            ),
            ("moderator", moderator, Y, Y, Y, Y, Y, Y),
            ("admin", admin, Y, Y, Y, Y, Y, Y),
        ];
        for (name, u, post, read, edit, delete, search_room, manage) in table {
            let ctx = format!("{visibility:?} room, {name}");
            assert_eq!(
                outcome(&h.chat.send_message(u, room, text("hi")).await),
                post,
                "post: {ctx}"
            );
            assert_eq!(
                outcome(&h.chat.history(u, room, HistoryCursor::LATEST, None).await),
                read,
                "read: {ctx}"
            );
            // Outsiders and non-members own no message; they try the owner's, which hides or forbids.
            let edit_target = own_msg(u);
            let got = outcome(&h.chat.edit_message(u, edit_target, "edited".into()).await);
            assert_eq!(got, edit, "edit own: {ctx}");
            let d = h.send(owner, room, "to delete").await;
            assert_eq!(
                outcome(&h.chat.delete_message(u, d.id).await),
                delete,
                "delete other's: {ctx}"
            );
            let s = h.chat.search(u, search("message", Some(room))).await;
            assert_eq!(outcome(&s), search_room, "search: {ctx}");
            let m = h
                .chat
                .rename_room(u, room, format!("Renamed by {name}"))
                .await;
            assert_eq!(outcome(&m), manage, "manage: {ctx}");
        }
    }
}

/// Search never returns messages from rooms the caller cannot read, nor deleted ones.
pub async fn search_respects_permissions_and_deletions(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, main) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, main).await;
    let secret = h.room(owner, event, "Secret", Visibility::Private).await;
    let unjoined = h.room(owner, event, "Unjoined", Visibility::Public).await;
    let other_owner = h.user("Elsewhere").await;
    let other_event = h.event(other_owner).await;
    let other_room = h
        .room(other_owner, other_event, "Main", Visibility::Public)
        .await;

    let visible = h.send(owner, main, "Pizza tonight at eight").await;
    let edited = h.send(alice, main, "tacos tomorrow").await;
    h.send(owner, secret, "pizza secret plan").await;
    h.send(owner, unjoined, "pizza in unjoined room").await;
    h.send(other_owner, other_room, "pizza elsewhere").await;
    let deleted = h.send(owner, main, "pizza deleted").await;
    h.chat.delete_message(owner, deleted.id).await.unwrap();
    h.chat
        .edit_message(alice, edited.id, "pizza tomorrow".into())
        .await
        .unwrap();

    let ids = |r: Vec<crate::Message>| r.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let found = ids(h.chat.search(alice, search("PIZZA", None)).await.unwrap());
    assert_eq!(
        found,
        vec![edited.id, visible.id],
        "newest first, readable rooms only"
    );
    assert!(ids(h.chat.search(alice, search("tacos", None)).await.unwrap()).is_empty());
    assert_eq!(
        ids(h
            .chat
            .search(alice, search("pizza eight", Some(main)))
            .await
            .unwrap()),
        vec![visible.id]
    );
    assert!(ids(h.chat.search(alice, search("deleted", None)).await.unwrap()).is_empty());
    assert!(
        ids(h
            .chat
            .search(alice, search("absentword", None))
            .await
            .unwrap())
        .is_empty()
    );
    assert_err!(
        h.chat.search(alice, search("pizza", Some(secret))).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.search(alice, search("pizza", Some(unjoined))).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .search(alice, search("pizza", Some(other_room)))
            .await,
        Error::NotFound { .. }
    );
    // The owner created (and so belongs to) every room of the event, but not the other event's.
    assert_eq!(
        h.chat
            .search(owner, search("pizza", None))
            .await
            .unwrap()
            .len(),
        4
    );
    let limited = SearchRequest {
        query: "pizza".into(),
        room_id: None,
        limit: Some(1),
    };
    assert_eq!(h.chat.search(owner, limited).await.unwrap().len(), 1);

    for bad in ["", "   ", "!!!", &"a".repeat(257), "nul\0"] {
        assert_err!(
            h.chat.search(alice, search(bad, None)).await,
            Error::Validation { .. }
        );
    }
    let bad_limit = SearchRequest {
        query: "pizza".into(),
        room_id: None,
        limit: Some(-5),
    };
    assert_err!(
        h.chat.search(alice, bad_limit).await,
        Error::Validation { .. }
    );

    h.chat.ban_member(owner, main, alice, true).await.unwrap();
    assert!(
        h.chat
            .search(alice, search("pizza", None))
            .await
            .unwrap()
            .is_empty()
    );
}

/// System metrics: admins only; counts follow the hour and day windows of the clock.
pub async fn system_metrics_across_hour_and_day_boundaries(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    assert_err!(h.chat.system_metrics(owner).await, Error::Forbidden { .. });
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!(
        (
            m.messages_last_hour,
            m.total_messages,
            m.total_rooms,
            m.total_events
        ),
        (0, 0, 1, 1)
    );

    h.send(owner, room, "at t0").await;
    h.send(alice, room, "at t0 too").await;
    h.advance_secs(30 * 60);
    h.send(owner, room, "at t0+30m").await;
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!(
        (
            m.messages_last_hour,
            m.messages_last_day,
            m.active_users_last_hour
        ),
        (3, 3, 2)
    );
    assert_eq!(m.timestamp, h.chat.now());

    h.advance_secs(30 * 60 - 1); // t0 + 59:59: everything is still inside the hour.
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!((m.messages_last_hour, m.active_users_last_hour), (3, 2));
    h.advance_secs(1); // t0 + 1h: the t0 messages leave the hour (strictly after now - 1h).
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!(
        (
            m.messages_last_hour,
            m.messages_last_day,
            m.active_users_last_hour
        ),
        (1, 3, 1)
    );

    h.advance_secs(23 * 3600 - 1); // t0 + 23:59:59
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!((m.messages_last_hour, m.messages_last_day), (0, 3));
    h.advance_secs(1); // t0 + 24h
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!((m.messages_last_day, m.total_messages), (1, 3));
    h.advance_secs(30 * 60);
    let m = h.chat.system_metrics(h.server_admin).await.unwrap();
    assert_eq!(
        (
            m.messages_last_day,
            m.total_messages,
            m.active_users_last_hour
        ),
        (0, 3, 0)
    );
}

/// Mention autocomplete: display-name prefix, ignoring case, literal wildcards, members only.
pub async fn member_prefix_lookup(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let sarah = h.joined("Sarah Chen", owner, event, room).await;
    let sam = h.joined("sam", owner, event, room).await;
    let pct = h.joined("100% Sure", owner, event, room).await;
    let under = h.joined("a_b", owner, event, room).await;
    let outsider = h.user("Sarah Outside").await;
    let names =
        |r: Vec<crate::MemberMatch>| r.into_iter().map(|m| m.display_name).collect::<Vec<_>>();
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "Sar", None)
                .await
                .unwrap()
        ),
        ["Sarah Chen"]
    );
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "sA", None)
                .await
                .unwrap()
        ),
        ["sam", "Sarah Chen"]
    );
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "s", Some(1))
                .await
                .unwrap()
        )
        .len(),
        1
    );
    assert!(
        h.chat
            .lookup_members(owner, room, "%", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.chat
            .lookup_members(owner, room, "_", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.chat
            .lookup_members(owner, room, "a%", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "100%", None)
                .await
                .unwrap()
        ),
        ["100% Sure"]
    );
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "a_", None)
                .await
                .unwrap()
        ),
        ["a_b"]
    );
    let _ = (pct, under, sam);
    // Renaming moves the member in the index.
    h.chat
        .upsert_profile(
            sarah,
            ProfileInput {
                display_name: "Zoe".into(),
                avatar_url: None,
            },
        )
        .await
        .unwrap();
    assert!(
        h.chat
            .lookup_members(owner, room, "Sar", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        names(
            h.chat
                .lookup_members(owner, room, "zo", None)
                .await
                .unwrap()
        ),
        ["Zoe"]
    );
    h.chat.ban_member(owner, room, sarah, true).await.unwrap();
    assert!(
        h.chat
            .lookup_members(owner, room, "zo", None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_err!(
        h.chat.lookup_members(outsider, room, "s", None).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.lookup_members(owner, room, "s", Some(0)).await,
        Error::Validation { .. }
    );
    assert_err!(
        h.chat.lookup_members(owner, room, "a\0", None).await,
        Error::Validation { .. }
    );
}

/// Typing: at most one signal per 2 s per user and room; fanned out, never stored.
pub async fn typing_is_throttled_and_fanned_out(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let mut sub = h.chat.subscribe(owner, room, None).await.unwrap();
    let seq = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    h.chat.typing(alice, room).await.unwrap();
    assert_err!(h.chat.typing(alice, room).await, Error::RateLimited { .. });
    h.advance_secs(2);
    h.chat.typing(alice, room).await.unwrap();
    for _ in 0..2 {
        match sub.recv().await {
            Some(Delivery::Typing(t)) => {
                assert_eq!((t.user_id, t.display_name.as_str()), (alice, "Alice"))
            }
            other => panic!("expected typing, got {other:?}"),
        }
    }
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        seq,
        "typing is not stored"
    );
    h.chat
        .mute_member(
            owner,
            room,
            alice,
            Some(h.chat.now().saturating_add(Duration::from_secs(60))),
        )
        .await
        .unwrap();
    h.advance_secs(2);
    assert_err!(h.chat.typing(alice, room).await, Error::Forbidden { .. });
}

/// Subscribe, replay from `since`, then live: every change exactly once, in order.
pub async fn live_subscription_resumes_without_gap_or_duplicate(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    for i in 0..5 {
        h.send(alice, room, &format!("before {i}")).await;
    }
    let since = RoomSeq(3);
    // Subscribe first, then replay: a change committed between the two arrives exactly once.
    let mut sub = h.chat.subscribe(alice, room, Some(since)).await.unwrap();
    let writer = {
        let h = h.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                h.send(owner, room, &format!("during {i}")).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut got: Vec<RoomSeq> = Vec::new();
    let mut after = since;
    loop {
        let page = h.chat.changes(alice, room, after, Some(10)).await.unwrap();
        got.extend(page.changes.iter().map(|c| c.seq));
        if let Some(last) = page.changes.last() {
            after = last.seq;
        }
        if !page.has_more {
            break;
        }
    }
    sub.advance_to(after);
    writer.await.unwrap();
    let last = h.chat.get_room(alice, room).await.unwrap().room.last_seq;
    while got.last().copied().unwrap_or(since) < last {
        match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
            Ok(Some(Delivery::Change(c))) => got.push(c.seq),
            other => panic!("expected a live change, got {other:?}"),
        }
    }
    let expected: Vec<RoomSeq> = (since.get() + 1..=last.get()).map(RoomSeq).collect();
    assert_eq!(got, expected);
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.subscribe(outsider, room, None).await,
        Error::NotFound { .. }
    );
}

/// Read markers only move forward and never past the room's last seq.
pub async fn mark_read_only_moves_forward(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    h.send(owner, room, "one").await;
    h.send(owner, room, "two").await;
    assert_eq!(
        h.chat
            .mark_read(alice, room, RoomSeq(3))
            .await
            .unwrap()
            .last_read_seq,
        RoomSeq(3)
    );
    assert_eq!(
        h.chat
            .mark_read(alice, room, RoomSeq(2))
            .await
            .unwrap()
            .last_read_seq,
        RoomSeq(3)
    );
    assert_err!(
        h.chat.mark_read(alice, room, RoomSeq(4)).await,
        Error::Validation { .. }
    );
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat.mark_read(outsider, room, RoomSeq(1)).await,
        Error::NotFound { .. }
    );
}

/// Membership and room changes take seqs too; `last_seq` always equals the log's length.
pub async fn room_log_records_every_visible_change(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    h.chat
        .rename_room(owner, room, "Lobby".into())
        .await
        .unwrap();
    h.chat
        .set_member_role(owner, room, alice, RoomRole::Moderator)
        .await
        .unwrap();
    h.chat.leave_room(alice, room).await.unwrap();
    let log = h
        .chat
        .changes(owner, room, RoomSeq::ZERO, None)
        .await
        .unwrap();
    let kinds: Vec<&str> = log.changes.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds,
        [
            "member_joined",
            "room_updated",
            "member_updated",
            "member_left"
        ]
    );
    match &log.changes[1].kind {
        ChangeKind::RoomUpdated(r) => {
            assert_eq!((r.name.as_str(), r.last_seq), ("Lobby", RoomSeq(2)))
        }
        other => panic!("expected a room update, got {other:?}"),
    }
    assert_eq!(log.last_seq, RoomSeq(4));
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(4)
    );
    // A no-op role change logs nothing.
    h.chat.join_room(alice, room).await.unwrap();
    h.chat
        .set_member_role(owner, room, alice, RoomRole::Member)
        .await
        .unwrap();
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.last_seq,
        RoomSeq(5)
    );
}

/// Racing creations of rooms with one name (ignoring case) in one event create exactly one.
pub async fn racing_room_names_create_one_room(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let owner = h.user("Owner").await;
    let event = h.event(owner).await;
    let attempts = (0..16).map(|i| {
        let h = h.clone();
        tokio::spawn(async move {
            let name = if i % 2 == 0 {
                "Afterparty"
            } else {
                "AFTERPARTY"
            };
            let room = NewRoom {
                name: name.into(),
                kind: RoomKind::Topic,
                visibility: Visibility::Public,
            };
            h.chat.create_room(owner, event, room).await
        })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(Error::Conflict { .. })), "{r:?}");
    }
    assert_eq!(
        h.chat
            .list_rooms(owner, RoomFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

fn profile(name: &str) -> ProfileInput {
    ProfileInput {
        display_name: name.into(),
        avatar_url: None,
    }
}

/// Accounts: created with their profile, found by any casing of the email; a taken email is
/// a conflict that stores nothing and leaves the first account as it was; bad input is
/// refused before anything is stored.
pub async fn accounts_create_find_and_refuse_duplicates(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (account, user) = h
        .chat
        .create_account(
            " Sarah@Example.com",
            "$hash$one".into(),
            profile(" Sarah Chen "),
        )
        .await
        .unwrap();
    assert_eq!(account.email, "sarah@example.com");
    assert_eq!(user.display_name, "Sarah Chen");
    assert_eq!(h.chat.get_profile(user.id, user.id).await.unwrap(), user);

    let found = h
        .chat
        .account_by_email("SARAH@example.COM")
        .await
        .unwrap()
        .expect("found by another casing");
    assert_eq!(found, account);
    assert_eq!(
        h.chat.account_by_email("nobody@example.com").await.unwrap(),
        None
    );
    assert_eq!(h.chat.account_by_email("not an email").await.unwrap(), None);

    assert_err!(
        h.chat
            .create_account("sarah@EXAMPLE.com", "$hash$two".into(), profile("Impostor"))
            .await,
        Error::Conflict { .. }
    );
    let still = h
        .chat
        .account_by_email("sarah@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.password_hash, "$hash$one");
    assert_eq!(still.user_id, user.id);

    assert_err!(
        h.chat
            .create_account("sarah", "$hash".into(), profile("Sarah"))
            .await,
        Error::Validation { ref field, .. } if field == "email"
    );
    assert_err!(
        h.chat
            .create_account("new@example.com", "$hash".into(), profile("  "))
            .await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_err!(
        h.chat
            .create_account("new@example.com", "$hash".into(), profile("Bad\u{0}Name"))
            .await,
        Error::Validation { ref field, .. } if field == "display_name"
    );
    assert_eq!(
        h.chat.account_by_email("new@example.com").await.unwrap(),
        None
    );
}

/// Sixteen racing sign-ups with one email store one account and one profile; the others get
/// [`Error::Conflict`] and leave no profile behind.
pub async fn racing_sign_ups_create_one_account(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let now = h.chat.now();
    let ids: Vec<UserId> = (0..16).map(|_| UserId::new()).collect();
    let attempts = ids.iter().map(|&id| {
        let store = Arc::clone(&h.store);
        let account = Account {
            user_id: id,
            email: "race@example.com".into(),
            password_hash: format!("$hash${id}"),
            created_at: now,
        };
        let user = crate::User {
            id,
            display_name: "Racer".into(),
            avatar_url: None,
            created_at: now,
            updated_at: now,
        };
        tokio::spawn(async move { store.create_account(account, user).await })
    });
    let results: Vec<_> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let stored = h
        .chat
        .account_by_email("race@example.com")
        .await
        .unwrap()
        .unwrap();
    for (id, result) in ids.iter().zip(&results) {
        match result {
            Ok(user) => {
                assert_eq!(user.id, *id);
                assert_eq!(stored.user_id, *id);
            }
            Err(e) => {
                assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
                assert_eq!(h.store.get_user(*id).await.unwrap(), None, "orphan profile");
            }
        }
    }
}
