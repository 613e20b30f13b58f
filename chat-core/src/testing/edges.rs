//! Conformance cases for the guarantees at their edges: what a hostile member or a client far
//! behind tries first. Each one was a defect once; each asserts the exact error variant.

use std::sync::Arc;
use std::time::Duration;

use super::harness::{Harness, text};
use crate::{
    ChangeKind, Error, EventRole, HistoryCursor, ProfileInput, RoomRole, RoomSeq, SearchRequest,
    SendMessage, Store, UserId, assert_err, mention,
};

/// Every word of `needle` that must not appear anywhere in `haystack`'s JSON.
#[track_caller]
fn assert_absent<T: serde::Serialize>(haystack: &T, needles: &[&str], path: &str) {
    let json = serde_json::to_string(haystack).expect("serializable");
    for needle in needles {
        assert!(
            !json.contains(needle),
            "{path} still returns {needle:?}: {json}"
        );
    }
}

/// After a deletion, no read path returns the message's text, mentions or attachments; after
/// an edit, none returns the replaced text. The log keeps one entry per seq.
pub async fn deleted_and_replaced_text_is_gone_from_every_read_path(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let sarah = h.joined("Sarah Chen", owner, event, room).await;
    let plans = h
        .upload(alice, room, "vault-plans.pdf", super::fixtures::pdf(100))
        .await;
    let secret = h
        .chat
        .send_message(
            alice,
            room,
            SendMessage {
                text: format!(
                    "the door code is swordfish {}",
                    mention::render("Sarah Chen", sarah)
                ),
                attachment_ids: vec![plans.id],
                ..SendMessage::default()
            },
        )
        .await
        .unwrap()
        .message;
    assert_eq!(secret.mentions, vec![sarah]);
    h.chat.react(owner, secret.id, "👀", true).await.unwrap();
    let reply = h
        .chat
        .send_message(
            owner,
            room,
            SendMessage {
                reply_to: Some(secret.id),
                ..text("noted")
            },
        )
        .await
        .unwrap()
        .message;
    let typo = h.send(alice, room, "meet at the boathuose").await;
    h.chat
        .edit_message(alice, typo.id, "meet at the pier".into())
        .await
        .unwrap();
    h.chat.delete_message(alice, secret.id).await.unwrap();

    // A member who joins afterwards replays the whole log.
    let late = h.joined("Late", owner, event, room).await;
    let log = h
        .chat
        .changes(late, room, RoomSeq::ZERO, Some(100))
        .await
        .unwrap();
    let secret_words = ["swordfish", "vault-plans", "👀", "boathuose"];
    assert_absent(&log, &secret_words, "the change log");
    for change in &log.changes {
        if let Some(m) = change.kind.message() {
            assert!(
                !m.mentions.contains(&sarah),
                "a mention survived: {change:?}"
            );
        }
    }
    // Still one entry per seq: the posting, the reaction and the thread update of the deleted
    // message are there, showing the tombstone.
    let seqs: Vec<u64> = log.changes.iter().map(|c| c.seq.get()).collect();
    assert_eq!(seqs, (1..=log.last_seq.get()).collect::<Vec<_>>());
    let about_secret: Vec<_> = log
        .changes
        .iter()
        .filter_map(|c| {
            c.kind
                .message()
                .filter(|m| m.id == secret.id)
                .map(|m| (c, m))
        })
        .collect();
    assert_eq!(
        about_secret.len(),
        4,
        "posted, reaction, its thread (the reply), deletion"
    );
    for (change, message) in about_secret {
        assert!(
            message.is_deleted,
            "{} shows a tombstone",
            change.kind.name()
        );
        assert!(message.text.is_empty() && message.attachments.is_empty());
        assert!(message.reactions.is_empty());
    }
    for change in &log.changes {
        if let ChangeKind::MessagePosted(m) | ChangeKind::MessageEdited(m) = &change.kind
            && m.id == typo.id
        {
            assert_eq!(m.text, "meet at the pier", "every entry shows the edit");
        }
    }
    // Every page boundary renders the same.
    for after in 0..log.last_seq.get() {
        let page = h
            .chat
            .changes(late, room, RoomSeq(after), Some(3))
            .await
            .unwrap();
        assert_absent(&page, &secret_words, "a change-log page");
    }

    let history = h
        .chat
        .history(late, room, HistoryCursor::LATEST, Some(100))
        .await
        .unwrap();
    assert_absent(&history, &secret_words, "history");
    for word in ["swordfish", "boathuose"] {
        let found = h
            .chat
            .search(
                owner,
                SearchRequest {
                    query: word.into(),
                    room_id: None,
                    limit: crate::PageSize::DEFAULT,
                },
            )
            .await
            .unwrap();
        assert!(found.is_empty(), "search still finds {word:?}");
    }
    // The reply keeps pointing at the tombstone, which returns nothing of the secret.
    let target = h
        .store
        .get_message(reply.reply_to.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(target.is_deleted);
    assert_absent(&target, &secret_words, "the reply target");
}

/// A mention carries the member's current display name, whatever name the sender typed; a
/// mention of someone outside the room is plain text. The same on edit.
pub async fn mentions_carry_the_members_current_name(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let sarah = h.joined("Sarah Chen", owner, event, room).await;
    let outsider = h.user("Outsider").await;
    let spoof = format!(
        "ping {} and {}",
        mention::render("Server Admin", sarah),
        mention::render("Server Admin", outsider)
    );
    let sent = h.send(alice, room, &spoof).await;
    assert_eq!(
        sent.text,
        format!(
            "ping {} and @Server Admin",
            mention::render("Sarah Chen", sarah)
        )
    );
    assert_eq!(sent.mentions, vec![sarah]);
    let stored = h.store.get_message(sent.id).await.unwrap().unwrap();
    assert_eq!(stored.text, sent.text);

    let edited = h
        .chat
        .edit_message(
            alice,
            sent.id,
            format!("again {}", mention::render("The CEO", sarah)),
        )
        .await
        .unwrap();
    assert_eq!(
        edited.text,
        format!("again {}", mention::render("Sarah Chen", sarah))
    );
    assert_eq!(edited.mentions, vec![sarah]);

    // A display name longer than the one typed still has to fit the text limit.
    let long_name = "N".repeat(60);
    h.chat
        .upsert_profile(
            sarah,
            ProfileInput {
                display_name: long_name,
                avatar_url: None,
            },
        )
        .await
        .unwrap();
    let max = h.chat.limits().max_text_chars;
    let token = mention::render("S", sarah);
    let filler = "x".repeat(max - token.chars().count());
    assert_err!(
        h.chat
            .send_message(alice, room, text(&format!("{token}{filler}")))
            .await,
        Error::Validation { field, .. } if field == "text"
    );
}

/// Acting on another member needs a higher standing (owner > admin > moderator > member), and
/// no one lifts their own mute or ban.
pub async fn moderation_needs_a_higher_standing(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let admin = h.joined("Admin", owner, event, room).await;
    h.chat
        .set_event_role(owner, event, admin, EventRole::Admin)
        .await
        .unwrap();
    let moderator = h.joined("Mod", owner, event, room).await;
    let other_mod = h.joined("Mod Two", owner, event, room).await;
    let member = h.joined("Member", owner, event, room).await;
    for m in [moderator, other_mod] {
        h.chat
            .set_member_role(owner, room, m, RoomRole::Moderator)
            .await
            .unwrap();
    }
    let until = h.chat.now().saturating_add(Duration::from_secs(600));

    // A muted moderator cannot unmute themself, nor be unmuted by a peer.
    h.chat
        .mute_member(admin, room, moderator, Some(until))
        .await
        .unwrap();
    assert_err!(
        h.chat.mute_member(moderator, room, moderator, None).await,
        Error::Forbidden { .. }
    );
    let earlier = h.chat.now().saturating_add(Duration::from_secs(1));
    assert_err!(
        h.chat
            .mute_member(moderator, room, moderator, Some(earlier))
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.mute_member(other_mod, room, moderator, None).await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat.send_message(moderator, room, text("free?")).await,
        Error::Forbidden { .. }
    );
    // A moderator cannot touch the owner's or an admin's room role, nor a peer's.
    for target in [owner, admin, other_mod] {
        assert_err!(
            h.chat
                .set_member_role(moderator, room, target, RoomRole::Member)
                .await,
            Error::Forbidden { .. }
        );
    }
    // An admin cannot change the owner's room role.
    assert_err!(
        h.chat
            .set_member_role(admin, room, owner, RoomRole::Member)
            .await,
        Error::Forbidden { .. }
    );
    // A moderator acts on a plain member; the member gains nothing.
    h.chat
        .ban_member(other_mod, room, member, true)
        .await
        .unwrap();
    assert_err!(
        h.chat.ban_member(member, room, member, false).await,
        Error::Forbidden { .. }
    );
    // A moderator can step down, not up again.
    let stepped = h
        .chat
        .set_member_role(other_mod, room, other_mod, RoomRole::Member)
        .await
        .unwrap();
    assert_eq!(stepped.role, RoomRole::Member);
    assert_err!(
        h.chat
            .set_member_role(other_mod, room, other_mod, RoomRole::Moderator)
            .await,
        Error::Forbidden { .. }
    );
    // The admin lifts the moderator's mute; the owner may act on the admin's room role.
    h.chat
        .mute_member(admin, room, moderator, None)
        .await
        .unwrap();
    h.send(moderator, room, "free").await;
    h.chat
        .set_member_role(owner, room, admin, RoomRole::Moderator)
        .await
        .unwrap();
    // Nothing refused above changed anything.
    let members = h.chat.room_members(owner, room).await.unwrap();
    let role_of = |u: UserId| members.iter().find(|m| m.user_id == u).unwrap().role;
    assert_eq!(role_of(owner), RoomRole::Moderator);
    assert_eq!(role_of(moderator), RoomRole::Moderator);
    assert!(members.iter().any(|m| m.user_id == member && m.banned));
}

/// A profile is visible to its user and to people who share an event with them; to anyone
/// else it does not exist.
pub async fn profiles_are_visible_only_to_people_who_share_an_event(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let stranger = h.user("Stranger").await;
    assert_eq!(
        h.chat.get_profile(owner, alice).await.unwrap().display_name,
        "Alice"
    );
    assert_eq!(
        h.chat
            .get_profile(stranger, stranger)
            .await
            .unwrap()
            .display_name,
        "Stranger"
    );
    assert_err!(
        h.chat.get_profile(stranger, alice).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.get_profile(alice, stranger).await,
        Error::NotFound { .. }
    );
    assert_err!(
        h.chat.get_profile(alice, UserId::new()).await,
        Error::NotFound { .. }
    );
    // Sharing an event is enough, whatever the rooms.
    let other_event = h.event(stranger).await;
    h.chat
        .add_event_member(stranger, other_event, alice, EventRole::Member)
        .await
        .unwrap();
    assert_eq!(
        h.chat
            .get_profile(stranger, alice)
            .await
            .unwrap()
            .display_name,
        "Alice"
    );
}

/// A position beyond the room's last seq was never seen by anyone: resuming from it is refused,
/// never answered with a subscription that stays silent.
pub async fn resume_beyond_the_last_seq_is_refused(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    h.send(owner, room, "one").await;
    let last = h.chat.get_room(owner, room).await.unwrap().room.last_seq;
    for beyond in [last.get() + 1, u64::MAX / 2, u64::MAX] {
        assert_err!(
            h.chat.subscribe(owner, room, Some(RoomSeq(beyond))).await,
            Error::Validation { field, .. } if field == "since_seq"
        );
        assert_err!(
            h.chat.changes(owner, room, RoomSeq(beyond), None).await,
            Error::Validation { field, .. } if field == "after"
        );
    }
    // The last seq itself is a valid position, and the next change arrives.
    let mut sub = h.chat.subscribe(owner, room, Some(last)).await.unwrap();
    assert!(
        h.chat
            .changes(owner, room, last, None)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    let next = h.send(owner, room, "two").await;
    match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
        Ok(Some(crate::Delivery::Change(c))) => assert_eq!(c.seq, next.seq),
        other => panic!("expected the next change, got {other:?}"),
    }
}

/// Names (display, event, room and file names) refuse characters that disguise them:
/// bidirectional overrides and zero-width characters. Message text keeps them.
pub async fn names_refuse_invisible_and_direction_changing_characters(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, _event, room) = h.owner_event_room().await;
    for bad in [
        "Admin\u{202e}\u{200b}",
        "Sa\u{200d}rah",
        "\u{2066}x\u{2069}",
        "a\u{feff}",
    ] {
        assert_err!(
            h.chat
                .upsert_profile(
                    owner,
                    ProfileInput {
                        display_name: bad.into(),
                        avatar_url: None,
                    },
                )
                .await,
            Error::Validation { field, .. } if field == "display_name"
        );
        assert_err!(
            h.chat.rename_room(owner, room, bad.into()).await,
            Error::Validation { field, .. } if field == "name"
        );
    }
    assert_err!(
        h.chat
            .create_event(
                owner,
                crate::NewEvent {
                    name: "Party\u{202e}".into(),
                    kind: "party".into(),
                },
            )
            .await,
        Error::Validation { field, .. } if field == "name"
    );
    assert_err!(
        h.chat
            .upload(
                owner,
                room,
                crate::UploadInput {
                    file_name: "invoice\u{202e}fdp.exe".into(),
                    declared_type: None,
                    body: crate::blob::once(super::fixtures::pdf(100).into()),
                },
            )
            .await,
        Error::Validation { field, .. } if field == "file_name"
    );
    // Nothing refused was stored; text may still carry a zero-width joiner (emoji sequences).
    assert_eq!(
        h.chat.get_profile(owner, owner).await.unwrap().display_name,
        "Owner"
    );
    assert_eq!(
        h.chat.get_room(owner, room).await.unwrap().room.name,
        "Main"
    );
    assert_eq!(h.chat.list_my_events(owner).await.unwrap().len(), 1);
    let family = h.send(owner, room, "👩\u{200d}👩\u{200d}👧").await;
    assert!(family.text.contains('\u{200d}'));
}
