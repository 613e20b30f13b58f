//! Outgoing webhooks: registration rules, delivery in order from the change logs, backoff,
//! dead letters, restarts and removal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;

use super::*;
use crate::webhook::WebhookPolicy;
use crate::{
    ChatService, DeliveryFailure, OutboundPolicy, RoomChange, RoomId, WebhookId,
    WebhookRegistration, WebhookSender,
};

/// Records what it is given; fails the next `failing` attempts.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(WebhookId, RoomId, RoomSeq)>>,
    failing: AtomicU32,
}

#[async_trait]
impl WebhookSender for Recorder {
    async fn send(
        &self,
        hook: &crate::webhook::Webhook,
        change: &RoomChange,
    ) -> std::result::Result<(), DeliveryFailure> {
        if self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(DeliveryFailure::status(503));
        }
        self.got
            .lock()
            .unwrap()
            .push((hook.id, change.room_id, change.seq));
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<(RoomId, RoomSeq)> {
        self.got
            .lock()
            .unwrap()
            .drain(..)
            .map(|(_, r, s)| (r, s))
            .collect()
    }
}

fn policy() -> WebhookPolicy {
    WebhookPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
    }
}

/// Webhooks: only owners and admins register, list (without secrets), remove them and read
/// their dead letters; a bad URL is refused; deliveries start after registration, in seq order
/// per room, rooms created later from their start; a failure waits out its backoff, blocks the
/// room's later changes, and after the last attempt becomes a dead letter; a new service on the
/// same store resumes without repeating; a removed webhook gets nothing more.
pub async fn webhooks_deliver_in_order_with_backoff_and_dead_letters(store: Arc<dyn Store>) {
    let h = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let member = h.joined("Member", owner, event, main).await;
    let outsider = h.user("Outsider").await;
    h.send(owner, main, "before the webhook").await;

    assert_err!(
        h.chat
            .create_webhook(member, event, "https://example.com/hook")
            .await,
        Error::Forbidden { .. }
    );
    assert_err!(
        h.chat
            .create_webhook(outsider, event, "https://example.com/hook")
            .await,
        Error::NotFound { what: "event" }
    );
    assert_err!(
        h.chat.create_webhook(owner, event, "ftp://example.com/hook").await,
        Error::Validation { ref field, .. } if field == "url"
    );
    let hook = h
        .chat
        .create_webhook(owner, event, "https://example.com/hook")
        .await
        .unwrap();
    assert!(
        hook.secret.starts_with("whsec_") && hook.secret.len() == 70,
        "{}",
        hook.secret.len()
    );
    let listed = h.chat.webhooks(owner, event).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].secret.is_empty(), "secrets are shown once");
    assert_err!(
        h.chat.webhooks(member, event).await,
        Error::Forbidden { .. }
    );

    // Deliveries: what commits after registration, in order; a new room from its start.
    let one = h.send(owner, main, "one").await;
    let two = h.send(member, main, "two").await;
    let side = h.room(owner, event, "Side", Visibility::Public).await;
    h.send(owner, side, "in side").await;
    let sender = Recorder::default();
    let stats = h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    let got = sender.take();
    let side_log: Vec<(RoomId, RoomSeq)> = h
        .store
        .changes_after(side, RoomSeq::ZERO, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.room_id, c.seq))
        .collect();
    let main_got: Vec<_> = got.iter().filter(|(r, _)| *r == main).copied().collect();
    assert_eq!(main_got, vec![(main, one.seq), (main, two.seq)]);
    let side_got: Vec<_> = got.iter().filter(|(r, _)| *r == side).copied().collect();
    assert_eq!(side_got, side_log);
    assert_eq!(stats.delivered as usize, got.len());
    assert_eq!(
        h.chat
            .dispatch_webhooks(&sender, &policy())
            .await
            .unwrap()
            .delivered,
        0
    );

    // A failure: the room waits out the backoff, its later change behind the failed one.
    let three = h.send(owner, main, "three").await;
    let four = h.send(owner, main, "four").await;
    sender.failing.store(1, Ordering::SeqCst);
    let stats = h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    assert_eq!(
        h.chat
            .dispatch_webhooks(&sender, &policy())
            .await
            .unwrap()
            .delivered,
        0,
        "not before the backoff"
    );
    h.advance_secs(10);
    h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    assert_eq!(sender.take(), vec![(main, three.seq), (main, four.seq)]);

    // Three failures: a dead letter, and the room goes on.
    let lost = h.send(owner, main, "lost").await;
    let after = h.send(owner, main, "after").await;
    sender.failing.store(3, Ordering::SeqCst);
    h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    h.advance_secs(10);
    h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    h.advance_secs(20);
    let stats = h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    assert_eq!(stats.dead, 1);
    let letters = h
        .chat
        .dead_letters(owner, event, hook.id, None)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].room_id, letters[0].seq, letters[0].attempts),
        (main, lost.seq, 3)
    );
    assert_eq!(letters[0].last_error, "answered 5xx");
    assert_err!(
        h.chat.dead_letters(member, event, hook.id, None).await,
        Error::Forbidden { .. }
    );
    h.chat.dispatch_webhooks(&sender, &policy()).await.unwrap();
    assert_eq!(sender.take(), vec![(main, after.seq)]);

    // A restart: a new service on the same store delivers only what is new.
    let restarted = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let five = h.send(owner, main, "five").await;
    restarted
        .chat
        .dispatch_webhooks(&sender, &policy())
        .await
        .unwrap();
    assert_eq!(sender.take(), vec![(main, five.seq)]);

    // Removed: nothing more, its letters gone, a second removal is not found.
    h.chat.delete_webhook(owner, event, hook.id).await.unwrap();
    h.send(owner, main, "after removal").await;
    assert_eq!(
        h.chat
            .dispatch_webhooks(&sender, &policy())
            .await
            .unwrap()
            .delivered,
        0
    );
    assert!(h.store.dead_letters(hook.id, 10).await.unwrap().is_empty());
    assert_err!(
        h.chat.delete_webhook(owner, event, hook.id).await,
        Error::NotFound { what: "webhook" }
    );
}

/// Who may register webhooks is the host's decision (off unless turned on, or limited to the
/// accounts it grants), and a URL must point outside the host's network: every loopback,
/// private, link-local, metadata and reserved form is refused as `Validation` on `url`, unless
/// the host's allow-list opens it. A webhook stored under a wider policy is never sent to once
/// the policy no longer permits it: its changes become dead letters saying only that the
/// address is not allowed.
pub async fn webhook_registration_and_addresses_are_the_hosts_to_allow(store: Arc<dyn Store>) {
    let h = Harness::with_limits(Arc::clone(&store), relaxed()).await;
    let (owner, event, main) = h.owner_event_room().await;
    let service = |who: WebhookRegistration, outbound: OutboundPolicy| {
        Arc::new(
            ChatService::builder(Arc::clone(&store))
                .clock(h.clock.clone())
                .limits(relaxed())
                .server_admin(h.server_admin)
                .webhook_registration(who)
                .outbound_policy(outbound)
                .build(),
        )
    };
    let public = OutboundPolicy::public_only;
    let url = "https://example.com/hook";

    let off = ChatService::builder(Arc::clone(&store)).build();
    assert_err!(
        off.create_webhook(owner, event, url).await,
        Error::Forbidden { .. }
    );
    let granted = service(WebhookRegistration::ServerAdmins, public());
    assert_err!(
        granted.create_webhook(owner, event, url).await,
        Error::Forbidden { .. }
    );
    h.chat
        .add_event_member(owner, event, h.server_admin, EventRole::Admin)
        .await
        .unwrap();
    let by_admin = granted
        .create_webhook(h.server_admin, event, url)
        .await
        .unwrap();
    h.chat
        .delete_webhook(owner, event, by_admin.id)
        .await
        .unwrap();

    let open = service(WebhookRegistration::EventAdmins, public());
    for inside in [
        "http://127.0.0.1:9/h",
        "http://localhost/h",
        "http://2130706433/h",
        "http://0x7f.1/h",
        "http://127.1/h",
        "http://0.0.0.0/h",
        "http://[::1]/h",
        "http://[::ffff:127.0.0.1]/h",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/h",
        "http://192.168.0.1/h",
        "http://172.16.0.1/h",
        "http://100.64.0.1/h",
        "http://[fd00::1]/h",
        "http://[fe80::1]/h",
        "http://user:secret@example.com/h",
        "https://example.com/\u{202e}h",
    ] {
        assert_err!(
            open.create_webhook(owner, event, inside).await,
            Error::Validation { ref field, .. } if field == "url"
        );
    }
    assert!(open.webhooks(owner, event).await.unwrap().is_empty());

    // Allowed by a host's list, then no longer: nothing is sent, the change is dead-lettered.
    let loopback = public().allow("127.0.0.0/8".parse().unwrap());
    let wide = service(WebhookRegistration::EventAdmins, loopback);
    let hook = wide
        .create_webhook(owner, event, "http://2130706433:9/h")
        .await
        .unwrap();
    assert_eq!(hook.url, "http://127.0.0.1:9/h", "kept as parsed");
    h.send(owner, main, "after").await;
    let sender = Recorder::default();
    for _ in 0..policy().max_attempts {
        open.dispatch_webhooks(&sender, &policy()).await.unwrap();
        h.clock.advance(Duration::from_secs(120));
    }
    assert!(sender.take().is_empty(), "never sent");
    let dead = open
        .dead_letters(owner, event, hook.id, None)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error, "address not allowed");
}
