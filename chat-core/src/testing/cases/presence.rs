//! Presence: per user across connections, visible only to people who share an event.

use super::*;
use crate::{PresenceStatus, UserId};

/// One user's connections add up to one presence; only contacts see it; the last-active time
/// survives going offline; requests are bounded, with exact errors.
pub async fn presence_is_per_user_and_only_for_contacts(store: Arc<dyn Store>) {
    let h = Harness::new(store).await;
    let (owner, event, room) = h.owner_event_room().await;
    let alice = h.joined("Alice", owner, event, room).await;
    let bob = h.joined("Bob", owner, event, room).await;
    let stranger = h.user("Stranger").await;
    let status = |h: Harness, who: UserId| async move {
        h.chat.presence(alice, &[who]).await.unwrap()[0].status
    };

    assert_eq!(status(h.clone(), bob).await, PresenceStatus::Offline);
    let mut watch = h.chat.watch_presence(alice, &[bob]).await.unwrap();
    assert_eq!(watch.current()[0].status, PresenceStatus::Offline);

    // Two tabs, one closed: still online.
    let tab1 = h.chat.connect_presence(bob);
    let mut tab2 = h.chat.connect_presence(bob);
    let seen = tokio::time::timeout(Duration::from_secs(5), watch.changed())
        .await
        .expect("a change")
        .expect("open");
    assert_eq!((seen.user_id, seen.status), (bob, PresenceStatus::Online));
    drop(tab1);
    assert_eq!(status(h.clone(), bob).await, PresenceStatus::Online);
    h.advance_secs(120);
    tab2.set_away(true, h.chat.now());
    assert_eq!(status(h.clone(), bob).await, PresenceStatus::Away);
    let went_away_at = h.chat.now();
    drop(tab2);
    let gone = h.chat.presence(alice, &[bob]).await.unwrap()[0];
    assert_eq!(gone.status, PresenceStatus::Offline);
    assert!(
        gone.last_active_at.is_some_and(|t| t <= went_away_at),
        "{gone:?}"
    );

    // Several at once, in the order asked, repeats once; one's own presence too.
    let _mine = h.chat.connect_presence(alice);
    let both = h.chat.presence(alice, &[bob, alice, bob]).await.unwrap();
    assert_eq!(
        both.iter()
            .map(|p| (p.user_id, p.status))
            .collect::<Vec<_>>(),
        [
            (bob, PresenceStatus::Offline),
            (alice, PresenceStatus::Online)
        ]
    );

    // Only people who share an event see each other, and nobody learns who exists.
    assert_err!(
        h.chat.presence(stranger, &[bob]).await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        h.chat.watch_presence(alice, &[bob, stranger]).await,
        Error::NotFound { what: "user" }
    );
    assert_err!(
        h.chat.presence(alice, &[UserId::new()]).await,
        Error::NotFound { what: "user" }
    );
    // A direct room is shared too.
    let (_dm, _) = h.chat.open_direct_room(alice, &[bob]).await.unwrap();
    h.chat.remove_event_member(owner, event, bob).await.unwrap();
    assert_eq!(status(h.clone(), bob).await, PresenceStatus::Offline);
    assert_err!(
        h.chat.presence(owner, &[bob]).await,
        Error::NotFound { what: "user" }
    );

    assert_err!(
        h.chat.presence(alice, &[]).await,
        Error::Validation { field, .. } if field == "user_ids"
    );
    let many: Vec<UserId> = (0..=h.chat.limits().max_presence_users)
        .map(|_| UserId::new())
        .collect();
    assert_err!(
        h.chat.presence(alice, &many).await,
        Error::Validation { field, .. } if field == "user_ids"
    );
}
