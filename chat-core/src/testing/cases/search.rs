//! Search and system metrics.

use super::*;

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

    let ids = |r: Vec<crate::SearchHit>| r.into_iter().map(|h| h.message.id).collect::<Vec<_>>();
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
        limit: crate::PageSize::of(1),
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
        limit: crate::PageSize::requested(-5),
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

/// The last word is a prefix ("boat" finds "boathouse"), from three characters on; results
/// carry their room's name and a snippet with the matching words marked; edits and deletions
/// move the prefixes with the text.
pub async fn prefix_search_with_room_names_and_snippets(store: Arc<dyn Store>) {
    let h = Harness::with_limits(store, relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    let boathouse = h.send(owner, main, "meet at the boathouse").await;
    let trip = h.send(owner, side, "Boat trip at noon").await;
    h.send(owner, main, "a boa constrictor").await;
    let closed = h.send(owner, side, "The BOATHOUSE is closed").await;
    let long = h
        .send(owner, main, "supercalifragilisticexpialidocious indeed")
        .await;
    let find = |q: &str| {
        let h = h.clone();
        let q = q.to_owned();
        async move {
            h.chat
                .search(owner, search(&q, None))
                .await
                .unwrap()
                .into_iter()
                .map(|hit| hit.message.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("boat").await, vec![closed.id, trip.id, boathouse.id]);
    assert_eq!(find("meet boat").await, vec![boathouse.id]);
    assert_eq!(find("boathouse").await, vec![closed.id, boathouse.id]);
    assert!(find("boathouses").await.is_empty());
    assert!(
        find("bo").await.is_empty(),
        "two letters match whole words only"
    );
    assert_eq!(find("a").await.len(), 1, "the whole word \"a\"");
    assert_eq!(find("supercalifragilistic").await, vec![long.id]);
    assert!(find("supercalifragilisx").await.is_empty());

    let hits = h.chat.search(owner, search("boat", None)).await.unwrap();
    assert_eq!(hits[0].room_name, "Side");
    assert_eq!(hits[2].room_name, "Main");
    let marked: Vec<&str> = hits[0]
        .snippet
        .iter()
        .filter(|p| p.highlight)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(marked, ["BOATHOUSE"]);
    let shown: String = hits[0].snippet.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(shown, "The BOATHOUSE is closed");

    h.chat
        .edit_message(owner, trip.id, "Car trip at noon".into())
        .await
        .unwrap();
    h.chat.delete_message(owner, closed.id).await.unwrap();
    assert_eq!(find("boat").await, vec![boathouse.id]);
    assert_eq!(find("car").await, vec![trip.id]);
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
