//! Events and their members.

use super::*;

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
    // The limits hold for what was sent, spaces included (as the API document says), also
    // for a kind that is blank.
    for padded in [
        NewEvent {
            name: format!("n{}", " ".repeat(100)),
            kind: String::new(),
        },
        NewEvent {
            name: "Party".into(),
            kind: " ".repeat(33),
        },
    ] {
        assert_err!(
            h.chat.create_event(alice, padded).await,
            Error::Validation { .. }
        );
    }
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

/// Adding by email: admins add whoever signs in with the address (any casing); the answer to
/// anyone else is `Forbidden` whether or not the address has an account, so members cannot
/// probe addresses; an unknown address is `NotFound user`; a member twice is a conflict.
pub async fn event_members_added_by_email(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let owner = h.user("Owner").await;
    let event = h.event(owner).await;
    let (_, sarah) = h
        .chat
        .create_account(
            "sarah@example.com",
            "$hash".into(),
            ProfileInput {
                display_name: "Sarah".into(),
                avatar_url: None,
            },
        )
        .await
        .unwrap();
    let member = h.user("Member").await;
    h.chat
        .add_event_member(owner, event, member, EventRole::Member)
        .await
        .unwrap();

    for email in ["sarah@example.com", "nobody@example.com"] {
        assert_err!(
            h.chat
                .add_event_member_by_email(member, event, email, EventRole::Member)
                .await,
            Error::Forbidden { .. }
        );
    }
    let outsider = h.user("Outsider").await;
    assert_err!(
        h.chat
            .add_event_member_by_email(outsider, event, "sarah@example.com", EventRole::Member)
            .await,
        Error::NotFound { what: "event" }
    );
    assert_err!(
        h.chat
            .add_event_member_by_email(owner, event, "nobody@example.com", EventRole::Member)
            .await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        h.chat
            .add_event_member_by_email(owner, event, "not an address", EventRole::Member)
            .await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        h.chat
            .add_event_member_by_email(owner, event, "sarah@example.com", EventRole::Owner)
            .await,
        Error::Forbidden { .. }
    );
    let added = h
        .chat
        .add_event_member_by_email(owner, event, " SARAH@example.com", EventRole::Admin)
        .await
        .unwrap();
    assert_eq!((added.user_id, added.role), (sarah.id, EventRole::Admin));
    assert_err!(
        h.chat
            .add_event_member_by_email(owner, event, "sarah@example.com", EventRole::Member)
            .await,
        Error::Conflict { .. }
    );
    let members = h.chat.event_members(owner, event).await.unwrap();
    assert_eq!(members.iter().filter(|m| m.user_id == sarah.id).count(), 1);
}
