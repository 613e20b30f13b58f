//! The broker suite: what every [`Broker`] must do, alone or as several instances over one
//! store (see [`crate::relay`]). A backend provides a [`BrokerCluster`]; each case builds its
//! own world on it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::fanout::GAP_TIMEOUT;
use crate::testing::Harness;
use crate::{
    Broker, ChatService, Delivery, Limits, RoomId, RoomSeq, SendMessage, Store, Subscription,
    UserId,
};

/// Server instances sharing one store, each with its own broker, as a backend provides them.
#[async_trait]
pub trait BrokerCluster: Send + Sync {
    /// The store every instance shares.
    fn store(&self) -> Arc<dyn Store>;

    /// A new instance's broker.
    async fn broker(&self) -> Arc<dyn Broker>;

    /// Cuts every instance's connection to the engine, as an engine restart would. A single
    /// process hub has none and does nothing.
    async fn cut_connections(&self);

    /// Whether instances share changes through an engine (a relay), as opposed to one hub.
    /// Relays read a missed change from the store at once; a lone hub can only say resync
    /// after [`GAP_TIMEOUT`].
    fn distributed(&self) -> bool;
}

/// One instance: a service over the shared store with its own broker.
async fn instance(cluster: &dyn BrokerCluster) -> Arc<ChatService> {
    Arc::new(unlimited(
        ChatService::builder(cluster.store()).broker(cluster.broker().await),
    ))
}

/// The service `builder` makes, with sends never rate limited (what these cases send is not
/// about rate limits).
fn unlimited(builder: crate::ChatServiceBuilder) -> ChatService {
    builder
        .limits(Limits {
            send_rate_max: 1_000_000,
            ..Limits::default()
        })
        .build()
}

/// A subscriber that does what a client does: takes changes in order, and on a resync reads
/// the missing ones from the store.
struct Follower {
    sub: Subscription,
    store: Arc<dyn Store>,
    room: RoomId,
    seen: Vec<u64>,
    resyncs: usize,
}

impl Follower {
    async fn new(chat: &ChatService, user: UserId, room: RoomId) -> Self {
        let sub = chat.subscribe(user, room, None).await.expect("subscribe");
        let start = sub.last_seq().get();
        Self {
            sub,
            store: Arc::clone(chat.store()),
            room,
            seen: vec![start],
            resyncs: 0,
        }
    }

    fn last(&self) -> u64 {
        *self.seen.last().unwrap_or(&0)
    }

    fn take(&mut self, seq: u64) {
        assert_eq!(
            seq,
            self.last() + 1,
            "in order, no gap, no repeat: {:?}",
            self.seen
        );
        self.seen.push(seq);
    }

    /// Follows until `through` has been received; panics after `within`.
    async fn until(&mut self, through: u64, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.last() < through {
            let delivery = tokio::time::timeout_at(deadline, self.sub.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("reached {} of {through} within {within:?}", self.last())
                })
                .expect("the broker is there");
            match delivery {
                Delivery::Change(change) => self.take(change.seq.get()),
                Delivery::Typing(_) | Delivery::Read(_) => {}
                Delivery::Resync { from_seq, .. } => {
                    self.resyncs += 1;
                    let mut after = from_seq;
                    loop {
                        let page = self
                            .store
                            .changes_after(self.room, after, 100)
                            .await
                            .expect("changes");
                        let Some(last) = page.last().map(|c| c.seq) else {
                            break;
                        };
                        for change in &page {
                            self.take(change.seq.get());
                        }
                        after = last;
                    }
                    self.sub.advance_to(after);
                }
            }
        }
    }
}

/// An owner, a room, and `n` members; every instance's service can act for all of them.
async fn world(chat: &ChatService, members: usize) -> (RoomId, Vec<UserId>) {
    let h = Harness::new(Arc::clone(chat.store())).await;
    let (owner, event, room) = h.owner_event_room().await;
    let mut users = vec![owner];
    for i in 0..members {
        users.push(h.joined(&format!("Member {i}"), owner, event, room).await);
    }
    (room, users)
}

fn text(t: String) -> SendMessage {
    SendMessage {
        text: t,
        ..SendMessage::default()
    }
}

async fn last_seq(chat: &ChatService, user: UserId, room: RoomId) -> u64 {
    chat.get_room(user, room).await.unwrap().room.last_seq.get()
}

/// Messages sent through three instances at once reach a subscriber on each instance,
/// every one exactly once and in order.
pub async fn changes_reach_every_instance_in_order_exactly_once(cluster: &dyn BrokerCluster) {
    let instances = [
        instance(cluster).await,
        instance(cluster).await,
        instance(cluster).await,
    ];
    let (room, users) = world(&instances[0], 3).await;
    let mut followers = Vec::new();
    for (i, chat) in instances.iter().enumerate() {
        followers.push(Follower::new(chat, users[i], room).await);
    }
    // Give relays the moment their engine needs to confirm the new subscriptions.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_sender = 20;
    let mut sends = Vec::new();
    for (i, chat) in instances.iter().enumerate() {
        let chat = Arc::clone(chat);
        let user = users[i + 1];
        sends.push(tokio::spawn(async move {
            for n in 0..per_sender {
                chat.send_message(user, room, text(format!("{i}:{n}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for send in sends {
        send.await.unwrap();
    }
    let through = last_seq(&instances[0], users[0], room).await;
    for follower in &mut followers {
        follower.until(through, Duration::from_secs(10)).await;
    }
}

/// A committed change that no broker carried (its publish was lost) reaches subscribers on
/// every instance once a later change shows the gap: read from the store at once by a relay,
/// or through a resync by a lone hub.
pub async fn a_change_no_broker_carried_is_recovered_from_the_store(cluster: &dyn BrokerCluster) {
    let sender = instance(cluster).await;
    let receiver = instance(cluster).await;
    let (room, users) = world(&sender, 1).await;
    let mut follower = Follower::new(&receiver, users[0], room).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The same store, a broker nobody listens to: the change is committed, never announced.
    let silent = unlimited(ChatService::builder(cluster.store()));
    let took = unheard_then_next(&silent, &sender, &mut follower, users[1], room).await;
    if cluster.distributed() {
        assert!(
            took < GAP_TIMEOUT,
            "a relay reads a missed change at once, not after the gap timeout ({took:?})"
        );
    }
}

/// `unheard` commits a change nobody is told of, then `next` commits one after it; returns how
/// long `follower` took to have both, in order, from the second commit.
async fn unheard_then_next(
    unheard: &ChatService,
    next: &ChatService,
    follower: &mut Follower,
    user: UserId,
    room: RoomId,
) -> Duration {
    let seq = |sent: crate::Sent| sent.message.seq.get();
    let lost = seq(unheard
        .send_message(user, room, text("unheard".into()))
        .await
        .unwrap());
    let started = tokio::time::Instant::now();
    let after = seq(next
        .send_message(user, room, text("next".into()))
        .await
        .unwrap());
    assert_eq!(after, lost + 1);
    follower.until(after, Duration::from_secs(5)).await;
    started.elapsed()
}

/// A link to an engine that went down after the relay joined: joins are confirmed (they
/// were, before the outage), and nothing sent arrives anywhere, not even back here.
#[derive(Debug)]
struct EngineDown;

#[async_trait]
impl crate::relay::RelayLink for EngineDown {
    fn attach(&self, _: std::sync::Weak<dyn crate::relay::RelayHandler>) {}

    fn send(&self, _: crate::relay::RelayEnvelope) {}

    async fn join(&self, _: RoomId) -> crate::Result<()> {
        Ok(())
    }

    async fn leave(&self, _: RoomId) {}
}

/// While the engine is down, a change committed on another instance is never announced;
/// this instance's next commit reveals the gap, and the relay fills it from the store at once
/// for its own subscribers, in order, instead of leaving them to wait out the gap timeout.
pub async fn a_gap_a_local_commit_reveals_is_filled_at_once(cluster: &dyn BrokerCluster) {
    let relay = crate::relay::Relay::new(cluster.store(), Arc::new(EngineDown));
    let instance_a = unlimited(ChatService::builder(cluster.store()).broker(relay));
    let (room, users) = world(&instance_a, 1).await;
    let mut follower = Follower::new(&instance_a, users[0], room).await;
    // The join is confirmed at once; let the relay read the room's head.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another instance, whose change nobody hears of while the engine is down.
    let instance_b = unlimited(ChatService::builder(cluster.store()));
    let took = unheard_then_next(&instance_b, &instance_a, &mut follower, users[1], room).await;
    assert_eq!(
        follower.resyncs, 0,
        "filled by the relay, not left to a resync"
    );
    assert!(
        took < GAP_TIMEOUT,
        "filled at once, not after the gap timeout ({took:?})"
    );
}

/// A relay's tasks (its presence beat and expiry, which would run forever, and its joins)
/// belong to it: `shutdown` stops them all and returns once none is left.
pub async fn a_relay_shuts_down_its_tasks(cluster: &dyn BrokerCluster) {
    let relay = crate::relay::Relay::new(cluster.store(), Arc::new(EngineDown));
    let chat = unlimited(ChatService::builder(cluster.store()).broker(Arc::clone(&relay) as _));
    let (room, users) = world(&chat, 0).await;
    let _follower = Follower::new(&chat, users[0], room).await;
    assert!(relay.running_tasks() >= 2, "{}", relay.running_tasks());
    tokio::time::timeout(Duration::from_secs(5), relay.shutdown())
        .await
        .expect("every task stops");
    assert_eq!(relay.running_tasks(), 0);
}

/// When the engine connection drops, live delivery resumes by itself and nothing sent
/// meanwhile is lost.
pub async fn delivery_resumes_after_the_engine_connection_drops(cluster: &dyn BrokerCluster) {
    let sender = instance(cluster).await;
    let receiver = instance(cluster).await;
    let (room, users) = world(&sender, 1).await;
    let mut follower = Follower::new(&receiver, users[0], room).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sender
        .send_message(users[1], room, text("before".into()))
        .await
        .unwrap();
    cluster.cut_connections().await;
    for n in 0..10 {
        sender
            .send_message(users[1], room, text(format!("during {n}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let through = last_seq(&sender, users[0], room).await;
    follower.until(through, Duration::from_secs(15)).await;
    // And it is live again: a new message arrives without any further help.
    let after = sender
        .send_message(users[1], room, text("after".into()))
        .await
        .unwrap()
        .message
        .seq
        .get();
    follower.until(after, Duration::from_secs(10)).await;
}

/// Publishing never waits for subscribers or the engine: a burst with a subscriber that reads
/// nothing completes, and the subscriber is told to resync rather than holding anyone back.
pub async fn publishing_never_blocks(cluster: &dyn BrokerCluster) {
    let chat = instance(cluster).await;
    let (room, users) = world(&chat, 0).await;
    let broker = Arc::clone(chat.broker());
    let _stalled = broker.subscribe(room, RoomSeq::ZERO);
    let base = last_seq(&chat, users[0], room).await;
    let started = std::time::Instant::now();
    for seq in 1..=20_000u64 {
        broker.publish(Arc::new(crate::RoomChange {
            room_id: room,
            seq: RoomSeq(base + seq),
            at: chat.now(),
            kind: crate::ChangeKind::MemberLeft {
                user_id: UserId::MIN,
            },
        }));
    }
    // A loose bound: it separates "returns at once" from "waits on a reader or the network".
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "20,000 publishes took {:?}",
        started.elapsed()
    );
}

/// A change larger than an engine's payload limit (PostgreSQL NOTIFY takes under 8,000 bytes)
/// still reaches other instances: links send a wake-up and the relay reads it from the store.
pub async fn changes_larger_than_a_payload_cross_instances(cluster: &dyn BrokerCluster) {
    let sender = instance(cluster).await;
    let receiver = instance(cluster).await;
    let (room, users) = world(&sender, 1).await;
    let mut follower = Follower::new(&receiver, users[0], room).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // 5,000 three-byte characters: 15,000 bytes of text alone.
    let big = "€".repeat(sender.limits().max_text_chars);
    let started = tokio::time::Instant::now();
    let seq = sender
        .send_message(users[1], room, text(big.clone()))
        .await
        .unwrap()
        .message
        .seq
        .get();
    let delivery = tokio::time::timeout(Duration::from_secs(5), follower.sub.recv())
        .await
        .expect("the large change arrives");
    match delivery {
        Some(Delivery::Change(change)) => {
            assert_eq!(change.seq.get(), seq);
            assert_eq!(
                change.kind.message().map(|m| m.text.as_str()),
                Some(big.as_str())
            );
        }
        // A lone hub's subscriber sees every change directly; resyncing is not expected.
        other => panic!("expected the change itself, got {other:?}"),
    }
    assert!(
        started.elapsed() < GAP_TIMEOUT,
        "at once, not after the gap timeout"
    );
}

/// Typing signals cross instances, once each, and are not stored.
pub async fn typing_crosses_instances_once(cluster: &dyn BrokerCluster) {
    let a = instance(cluster).await;
    let b = instance(cluster).await;
    let (room, users) = world(&a, 1).await;
    let mut follower = Follower::new(&b, users[0], room).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = last_seq(&a, users[0], room).await;
    a.typing(users[1], room).await.unwrap();
    let signal = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match follower.sub.recv().await {
                Some(Delivery::Typing(t)) => return t,
                Some(_) => {}
                None => panic!("the broker went away"),
            }
        }
    })
    .await
    .expect("the typing signal crosses");
    assert_eq!(signal.user_id, users[1]);
    // No second copy: the next thing the subscriber gets is the next change.
    let next = a
        .send_message(users[1], room, text("hi".into()))
        .await
        .unwrap()
        .message
        .seq
        .get();
    assert_eq!(next, before + 1, "typing is not stored");
    match tokio::time::timeout(Duration::from_secs(5), follower.sub.recv()).await {
        Ok(Some(Delivery::Change(c))) => assert_eq!(c.seq.get(), next),
        Ok(Some(Delivery::Resync { .. })) => {}
        other => panic!("expected the next change, got {other:?}"),
    }
}

/// Waits (up to 5 s) until `user`'s presence, as `viewer` sees it through `chat`, is `status`.
async fn presence_becomes(
    chat: &ChatService,
    viewer: UserId,
    user: UserId,
    status: crate::PresenceStatus,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = chat.presence(viewer, &[user]).await.unwrap()[0].status;
        if now == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "presence stayed {now:?}, expected {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_update(feed: &mut crate::UnreadFeed) -> crate::UnreadUpdate {
    tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .expect("an update within 5 s")
        .expect("the feed is open")
        .expect("no store error")
}

/// Presence is per user across instances: a connection on one instance shows on the others,
/// a second connection elsewhere keeps the user online when the first closes, and the last
/// one closing shows offline everywhere. Signals addressed to a user (their unread feed
/// hearing of a read or a new room) cross instances too.
pub async fn presence_and_user_signals_cross_instances(cluster: &dyn BrokerCluster) {
    use crate::PresenceStatus::{Offline, Online};
    let a = instance(cluster).await;
    let b = instance(cluster).await;
    let (room, users) = world(&a, 2).await;
    let (alice, bob) = (users[1], users[2]);
    // Give the instances a moment to follow the signal channel.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let on_a = a.connect_presence(bob);
    presence_becomes(&b, alice, bob, Online).await;
    let on_b = b.connect_presence(bob);
    drop(on_a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    presence_becomes(&a, alice, bob, Online).await;
    presence_becomes(&b, alice, bob, Online).await;
    drop(on_b);
    presence_becomes(&a, alice, bob, Offline).await;
    presence_becomes(&b, alice, bob, Offline).await;

    // Alice's unread feed on B hears of a message sent on A, of her reading on A, and of a
    // direct room opened on A.
    let mut feed = Arc::clone(&b).unread_feed(alice).await.unwrap();
    let first = feed.next().await.unwrap().unwrap();
    assert!(first.rooms.iter().any(|u| u.room_id == room));
    let sent = a
        .send_message(bob, room, text("across".into()))
        .await
        .unwrap()
        .message;
    let mut unread = next_update(&mut feed).await;
    while !unread
        .rooms
        .iter()
        .any(|u| u.room_id == room && u.last_seq >= sent.seq && u.messages >= 1)
    {
        unread = next_update(&mut feed).await;
    }
    a.mark_read(alice, room, sent.seq).await.unwrap();
    let mut read = next_update(&mut feed).await;
    while !read
        .rooms
        .iter()
        .any(|u| u.room_id == room && u.last_read_seq == sent.seq && u.messages == 0)
    {
        read = next_update(&mut feed).await;
    }
    let (dm, _) = a.open_direct_room(bob, &[alice]).await.unwrap();
    let mut listed = next_update(&mut feed).await;
    while !listed.rooms.iter().any(|u| u.room_id == dm.room.id) {
        listed = next_update(&mut feed).await;
    }
}

/// Calls `callback! { [args] case_a case_b … }` with the name of every broker case.
#[macro_export]
macro_rules! for_each_broker_case {
    ([$($callback:tt)*] $($args:tt)*) => {
        $($callback)*! { [$($args)*]
            changes_reach_every_instance_in_order_exactly_once
            a_change_no_broker_carried_is_recovered_from_the_store
            a_gap_a_local_commit_reveals_is_filled_at_once
            a_relay_shuts_down_its_tasks
            delivery_resumes_after_the_engine_connection_drops
            publishing_never_blocks
            changes_larger_than_a_payload_cross_instances
            typing_crosses_instances_once
            presence_and_user_signals_cross_instances
        }
    };
}
