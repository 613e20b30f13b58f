//! Rooms: listing, settings, membership, roles, member lookup.

use super::*;

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
