//! Group commit: concurrent sends of one store, gathered into one transaction and one WAL
//! flush.
//!
//! A send is a message that neither replies nor attaches (those take the one-send path in
//! `messages`, which locks the parent message and claims uploads). Each send is queued to
//! this store's committer task; the committer takes **whatever is queued** (up to
//! [`MAX_BATCH`]) and commits it in four round trips, however many sends it holds:
//!
//! 1. `BEGIN`, then `FOR NO KEY UPDATE` on the batch's authors and then its rooms, each in id
//!    order (the lock order of the crate docs: authors, messages, rooms; sorted, so two
//!    batches on two servers cannot deadlock);
//! 2. one read of what admission needs for every send (the author's standing in the room, the
//!    duplicate check, the author's profile, their recent sends, their last send in the room
//!    for slow mode);
//! 3. admission in Rust (`Admission::authorize`, then the rate-limit policy), send by send in
//!    arrival order, each seeing the batch-mates admitted
//!    before it (an author's third send in a batch counts the first two); then one statement
//!    that takes each room's seqs for the whole batch (`last_seq + n`), inserts every message
//!    and its log entry from arrays (`unnest`), and bumps the unread counters;
//! 4. `COMMIT`: one WAL flush for the batch.
//!
//! So a batch never waits for company: when the database is idle a send goes alone, and under
//! load the batch is whatever arrived during the previous flush. A refused send (not allowed
//! to post, rate limit, missing room or author) is answered on its own and stores nothing;
//! only a failure of the transaction itself (a lost connection) fails every send in it. The
//! guarantees hold as before: the author locks serialise admission across every connection
//! and server, the room locks make seqs gap-free and keep each send and any ban or mute in
//! the room in one order (those log a change, so they hold the room's row too), and the
//! duplicate check runs after the author lock.
//!
//! A caller that stops waiting (its future dropped) does not take its send back: like a
//! client that disconnects after sending, the message may be stored, and resending with the
//! same `client_msg_id` returns it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chat_core::{
    Admission, Appended, AuthorSnapshot, ChangeKind, Error, Message, MessageChange, MessageId,
    NewMessage, Result, RoomChange, RoomId, RoomSeq, RoomStanding, SendHistory, Timestamp, UserId,
    search,
};
use serde_json::json;
use sqlx::postgres::PgPool;
use sqlx::types::Json;
use sqlx::{Connection, Row};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::db_err;
use crate::rows::{
    MESSAGE_COLS, MessageRow, STANDING_COLS, message_change_json, room_cols_of, standing,
    standing_joins,
};
use crate::{distinct_tokens, dt, uuids};

/// The most sends one transaction takes. Large enough that a busy instance flushes hundreds of
/// sends at once; small enough that one batch's statement stays a few hundred kilobytes.
pub(crate) const MAX_BATCH: usize = 256;

/// How many sends may wait for the committer before senders wait to queue theirs.
const QUEUE: usize = 4 * MAX_BATCH;

/// A send waiting for its batch.
struct Queued {
    msg: NewMessage,
    admission: Admission,
    answer: oneshot::Sender<Result<Appended>>,
}

/// The queue to a store's committer task, started on the first send (and again if the
/// runtime it ran on has gone, as when a test's runtime ends).
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Option<mpsc::Sender<Queued>>>,
    counts: Arc<Counts>,
    /// The committer, for `shutdown` to wait for.
    committer: tokio_util::task::TaskTracker,
}

/// What the committer has done, for [`GroupCommitStats`].
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    sends: AtomicU64,
    largest: AtomicU64,
}

/// How a store's sends were grouped, since it was made: see
/// [`PostgresStore::group_commit_stats`](crate::PostgresStore::group_commit_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Transactions committed (or failed) for plain sends.
    pub batches: u64,
    /// Sends they carried, refused ones included.
    pub sends: u64,
    /// The most sends one batch carried.
    pub largest: u64,
}

impl GroupCommit {
    /// Sends `msg` in the next batch and waits for its answer.
    pub(crate) async fn append(
        &self,
        pool: &PgPool,
        msg: NewMessage,
        admission: Admission,
    ) -> Result<Appended> {
        let (answer, answered) = oneshot::channel();
        let mut queued = Queued {
            msg,
            admission,
            answer,
        };
        // At most twice: a queue whose committer died with its runtime is replaced once.
        for _ in 0..2 {
            let queue = self.queue(pool);
            match queue.send(queued).await {
                Ok(()) => {
                    return answered
                        .await
                        .map_err(|_| Error::unavailable("the send committer stopped"))?;
                }
                Err(mpsc::error::SendError(back)) => {
                    queued = back;
                    self.forget(&queue);
                }
            }
        }
        Err(Error::unavailable("the send committer cannot start"))
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            batches: self.counts.batches.load(Ordering::Relaxed),
            sends: self.counts.sends.load(Ordering::Relaxed),
            largest: self.counts.largest.load(Ordering::Relaxed),
        }
    }

    fn queue(&self, pool: &PgPool) -> mpsc::Sender<Queued> {
        let mut slot = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(queue) = slot.as_ref().filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, receiver) = mpsc::channel(QUEUE);
        self.committer
            .spawn(run(pool.clone(), receiver, Arc::clone(&self.counts)));
        *slot = Some(queue.clone());
        queue
    }

    /// Closes the queue and waits until the committer has answered what was queued and ended.
    /// A later send starts a new one.
    pub(crate) async fn shutdown(&self) {
        let queue = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // The committer ends once every sender is gone: this one, and those of sends still
        // queueing (they drop theirs as soon as they are queued).
        drop(queue);
        self.committer.close();
        self.committer.wait().await;
        self.committer.reopen();
    }

    fn forget(&self, dead: &mpsc::Sender<Queued>) {
        let mut slot = self
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.as_ref().is_some_and(|q| q.same_channel(dead)) {
            *slot = None;
        }
    }
}

/// The committer: one batch at a time, each whatever is queued when the previous one is done.
///
/// One committer per store, one batch in flight: four committers taking turns at the queue
/// were measured slower on this two-core machine (8 senders 1,906/s against 2,180/s, 64
/// senders in one room 4,920/s against 7,188/s; BENCHMARKS.md): smaller batches cost more
/// statements per send, and the database was already busy.
async fn run(pool: PgPool, mut receiver: mpsc::Receiver<Queued>, counts: Arc<Counts>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let sends: Vec<Queued> = std::mem::take(&mut batch);
        let n = sends.len() as u64;
        counts.batches.fetch_add(1, Ordering::Relaxed);
        counts.sends.fetch_add(n, Ordering::Relaxed);
        counts.largest.fetch_max(n, Ordering::Relaxed);
        let answers = match commit(&pool, &sends).await {
            Ok(answers) => answers,
            Err(err) => sends.iter().map(|_| Err(shared(&err))).collect(),
        };
        tracing::trace!(sends = sends.len(), "send batch committed");
        for (send, answer) in sends.into_iter().zip(answers) {
            // A caller that stopped waiting is not an error (see the module docs).
            let _ = send.answer.send(answer);
        }
    }
}

/// The error of a failed batch, for each of its sends: the same kind, the cause as text.
fn shared(err: &Error) -> Error {
    match err {
        Error::Unavailable { source } => Error::unavailable(source.to_string()),
        Error::Internal { source } => Error::internal(source.to_string()),
        other => Error::internal(other.to_string()),
    }
}

/// What step 2 reads for one send.
struct Facts {
    /// The room, and the author's standing in it.
    standing: RoomStanding,
    replay_of: Option<Uuid>,
    author: Option<(String, Option<String>, bool)>,
    /// Ascending, as [`SendHistory::recent_sends`] wants them.
    recent: Vec<Timestamp>,
    last_in_room: Option<Timestamp>,
}

/// What became of one send before the write.
enum Decision {
    Refused(Error),
    /// A send with a `client_msg_id` stored before this batch.
    ReplayOfStored(Uuid),
    /// A send with the `client_msg_id` of a batch-mate admitted before it (index).
    ReplayOfBatchMate(usize),
    /// Admitted: its author's profile, whether the author is a bot (a bot's messages are
    /// marked whichever call sent them), and its place among the batch's messages of its room.
    Admitted {
        author_name: String,
        author_avatar: Option<String>,
        by_bot: bool,
        nth_in_room: i64,
    },
}

/// Commits one batch; an answer per send, in order.
async fn commit(pool: &PgPool, sends: &[Queued]) -> Result<Vec<Result<Appended>>> {
    let authors: BTreeSet<Uuid> = sends.iter().map(|s| s.msg.author_id.as_uuid()).collect();
    let rooms: BTreeSet<Uuid> = sends.iter().map(|s| s.msg.room_id.as_uuid()).collect();
    let mut conn = pool.acquire().await.map_err(db_err)?;
    // Step 1. The ids are UUIDs we format, so inlining them is safe; it saves a round trip.
    let mut tx = conn
        .begin_with(format!(
            // The admission read has subqueries with per-send limits; plan it once (see the
            // one-send path in `messages`).
            "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan;
             SELECT 1 FROM users WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE;
             SELECT 1 FROM rooms WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
            quoted(&authors),
            quoted(&rooms)
        ))
        .await
        .map_err(db_err)?;
    let facts = read_facts(&mut tx, sends).await?;
    let decisions = admit(sends, &facts);
    let seqs = write(&mut tx, sends, &decisions).await?;
    // Read before the commit, so that a failure here fails the batch with nothing stored,
    // rather than answering an error for sends that were stored.
    let originals = replayed(&mut tx, &decisions).await?;
    tx.commit().await.map_err(db_err)?;
    answers(sends, decisions, &seqs, &originals)
}

fn quoted(ids: &BTreeSet<Uuid>) -> String {
    ids.iter()
        .map(|id| format!("'{}'", id.hyphenated()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Step 2: one statement reads, for every send, what its admission needs.
async fn read_facts(
    tx: &mut sqlx::PgConnection,
    sends: &[Queued],
) -> Result<HashMap<usize, Facts>> {
    let column = |f: &dyn Fn(&Queued) -> Uuid| sends.iter().map(f).collect::<Vec<_>>();
    let rooms = column(&|s| s.msg.room_id.as_uuid());
    let authors = column(&|s| s.msg.author_id.as_uuid());
    let keys: Vec<Option<&str>> = sends
        .iter()
        .map(|s| s.msg.client_msg_id.as_deref())
        .collect();
    let since: Vec<OffsetDateTime> = sends
        .iter()
        .map(|s| {
            dt(s.msg
                .created_at
                .saturating_sub(s.admission.policy.lookback()))
        })
        .collect();
    let limits: Vec<i64> = sends
        .iter()
        .map(|s| i64::try_from(s.admission.policy.history_limit()).unwrap_or(i64::MAX))
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT b.i, {}, {STANDING_COLS},
             (SELECT m.id FROM messages m
              WHERE m.author_id = b.author_id AND m.client_msg_id = b.client_msg_id) AS replay_of,
             u.display_name AS author_name, u.avatar_url AS author_avatar, u.is_bot AS author_is_bot,
             ARRAY(SELECT m.created_at FROM messages m
                   WHERE m.author_id = b.author_id AND m.created_at > b.since
                   ORDER BY m.created_at DESC LIMIT b.lim) AS recent,
             CASE WHEN r.slow_mode_secs > 0 THEN
                 (SELECT max(m.created_at) FROM messages m
                  WHERE m.author_id = b.author_id AND m.room_id = b.room_id)
             END AS last_in_room
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::bigint[])
              WITH ORDINALITY AS b(room_id, author_id, client_msg_id, since, lim, i)
         JOIN rooms r ON r.id = b.room_id
         {}
         LEFT JOIN users u ON u.id = b.author_id",
        room_cols_of("r"),
        standing_joins("b.author_id")
    ))
    .bind(&rooms)
    .bind(&authors)
    .bind(&keys)
    .bind(&since)
    .bind(&limits)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut facts = HashMap::with_capacity(rows.len());
    for row in rows {
        let i: i64 = row.try_get("i").map_err(db_err)?;
        let standing = standing(&row)?;
        let author_name: Option<String> = row.try_get("author_name").map_err(db_err)?;
        let author = match author_name {
            Some(name) => Some((
                name,
                row.try_get("author_avatar").map_err(db_err)?,
                row.try_get::<Option<bool>, _>("author_is_bot")
                    .map_err(db_err)?
                    .unwrap_or(false),
            )),
            None => None,
        };
        let mut recent: Vec<OffsetDateTime> = row.try_get("recent").map_err(db_err)?;
        recent.reverse();
        let last_in_room: Option<OffsetDateTime> = row.try_get("last_in_room").map_err(db_err)?;
        facts.insert(
            usize::try_from(i - 1).map_err(Error::internal)?,
            Facts {
                standing,
                replay_of: row.try_get("replay_of").map_err(db_err)?,
                author,
                recent: recent.into_iter().map(Timestamp::from).collect(),
                last_in_room: last_in_room.map(Timestamp::from),
            },
        );
    }
    Ok(facts)
}

/// Step 3a: each send's fate, in arrival order, batch-mates counting for each other.
fn admit(sends: &[Queued], facts: &HashMap<usize, Facts>) -> Vec<Decision> {
    // Per author: the admitted batch-mates' times; per (author, room): the latest of them;
    // per (author, key): the first admitted send with that key; per room: messages so far.
    let mut sent_by: HashMap<UserId, Vec<Timestamp>> = HashMap::new();
    let mut last_by_in: HashMap<(UserId, RoomId), Timestamp> = HashMap::new();
    let mut keys: HashMap<(UserId, &str), usize> = HashMap::new();
    let mut per_room: HashMap<RoomId, i64> = HashMap::new();
    let mut decisions = Vec::with_capacity(sends.len());
    for (i, send) in sends.iter().enumerate() {
        let msg = &send.msg;
        let Some(fact) = facts.get(&i) else {
            decisions.push(Decision::Refused(Error::NotFound { what: "room" }));
            continue;
        };
        let Some((name, avatar, by_bot)) = &fact.author else {
            decisions.push(Decision::Refused(Error::NotFound { what: "user" }));
            continue;
        };
        let is_moderator = match send.admission.authorize(&fact.standing, msg.created_at) {
            Ok(is_moderator) => is_moderator,
            Err(refused) => {
                decisions.push(Decision::Refused(refused));
                continue;
            }
        };
        if let Some(original) = fact.replay_of {
            decisions.push(Decision::ReplayOfStored(original));
            continue;
        }
        if let Some(&first) = msg
            .client_msg_id
            .as_deref()
            .and_then(|k| keys.get(&(msg.author_id, k)))
        {
            decisions.push(Decision::ReplayOfBatchMate(first));
            continue;
        }
        let mates = sent_by.get(&msg.author_id).map_or(&[][..], Vec::as_slice);
        let mut recent: Vec<Timestamp> = fact.recent.iter().chain(mates).copied().collect();
        recent.sort_unstable();
        let keep = send.admission.policy.history_limit();
        if recent.len() > keep {
            recent.drain(..recent.len() - keep);
        }
        let last_in_room = fact
            .last_in_room
            .max(last_by_in.get(&(msg.author_id, msg.room_id)).copied());
        let verdict = send.admission.check(&SendHistory {
            now: msg.created_at,
            room: &fact.standing.room,
            is_moderator,
            recent_sends: &recent,
            last_send_in_room: last_in_room,
        });
        if let Err(refused) = verdict {
            decisions.push(Decision::Refused(refused));
            continue;
        }
        sent_by
            .entry(msg.author_id)
            .or_default()
            .push(msg.created_at);
        last_by_in.insert((msg.author_id, msg.room_id), msg.created_at);
        if let Some(key) = msg.client_msg_id.as_deref() {
            keys.insert((msg.author_id, key), i);
        }
        let nth = per_room.entry(msg.room_id).or_default();
        *nth += 1;
        decisions.push(Decision::Admitted {
            author_name: name.clone(),
            author_avatar: avatar.clone(),
            by_bot: *by_bot,
            nth_in_room: *nth,
        });
    }
    decisions
}

/// An admitted send as step 3b stores it.
struct Stored<'a> {
    msg: &'a NewMessage,
    author_name: &'a str,
    author_avatar: Option<&'a str>,
    ai: bool,
    nth: i64,
}

/// Step 3b: one statement stores every admitted send. Returns each stored message's seq.
async fn write(
    tx: &mut sqlx::PgConnection,
    sends: &[Queued],
    decisions: &[Decision],
) -> Result<HashMap<Uuid, i64>> {
    let admitted: Vec<Stored<'_>> = sends
        .iter()
        .zip(decisions)
        .filter_map(|(s, d)| match d {
            Decision::Admitted {
                author_name,
                author_avatar,
                by_bot,
                nth_in_room,
            } => Some(Stored {
                msg: &s.msg,
                author_name,
                author_avatar: author_avatar.as_deref(),
                ai: s.msg.is_ai_generated || *by_bot,
                nth: *nth_in_room,
            }),
            _ => None,
        })
        .collect();
    if admitted.is_empty() {
        return Ok(HashMap::new());
    }
    let col = |f: &dyn Fn(&Stored<'_>) -> Uuid| admitted.iter().map(f).collect::<Vec<Uuid>>();
    let ids = col(&|a| a.msg.id.as_uuid());
    let rooms = col(&|a| a.msg.room_id.as_uuid());
    let authors = col(&|a| a.msg.author_id.as_uuid());
    let names: Vec<&str> = admitted.iter().map(|a| a.author_name).collect();
    let avatars: Vec<Option<&str>> = admitted.iter().map(|a| a.author_avatar).collect();
    let texts: Vec<&str> = admitted.iter().map(|a| a.msg.text.as_str()).collect();
    let keys: Vec<Option<&str>> = admitted
        .iter()
        .map(|a| a.msg.client_msg_id.as_deref())
        .collect();
    let ai: Vec<bool> = admitted.iter().map(|a| a.ai).collect();
    let at: Vec<OffsetDateTime> = admitted.iter().map(|a| dt(a.msg.created_at)).collect();
    let payloads: Vec<Option<Json<&chat_core::Payload>>> = admitted
        .iter()
        .map(|a| a.msg.payload.as_ref().map(Json))
        .collect();
    let nth: Vec<i64> = admitted.iter().map(|a| a.nth).collect();
    // The ragged columns (words, mentions, prefixes) travel as one JSON array per message:
    // PostgreSQL arrays must be rectangular.
    let ragged: Vec<Json<serde_json::Value>> = admitted
        .iter()
        .map(|a| {
            Json(json!([
                distinct_tokens(&a.msg.text),
                uuids(&a.msg.mentions),
                search::prefixes(&a.msg.text),
            ]))
        })
        .collect();
    // The unread counters of migration 0010, summed per membership: the author's own
    // messages, and the mentioned members' mentions.
    let mut counters: HashMap<(Uuid, Uuid), (i32, i32)> = HashMap::new();
    for Stored { msg, .. } in &admitted {
        let room = msg.room_id.as_uuid();
        counters
            .entry((room, msg.author_id.as_uuid()))
            .or_default()
            .0 += 1;
        for user in msg.mentions.iter().filter(|u| **u != msg.author_id) {
            counters.entry((room, user.as_uuid())).or_default().1 += 1;
        }
    }
    let (c_rooms, c_users): (Vec<Uuid>, Vec<Uuid>) = counters.keys().copied().unzip();
    let (c_own, c_mentions): (Vec<i32>, Vec<i32>) = counters.values().copied().unzip();
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "WITH batch AS (
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::bool[], $9::timestamptz[], $10::jsonb[], $11::bigint[],
                 $12::jsonb[])
             AS b(id, room_id, author_id, author_name, author_avatar, text, client_msg_id,
                  is_ai_generated, created_at, payload, nth, ragged)
         ), per_room AS (
             SELECT room_id, count(*) AS n, max(created_at) AS at FROM batch GROUP BY room_id
         ), bumped AS (
             -- Each room's seqs and message ordinals for the whole batch (rows locked in
             -- step 1): the batch's messages of a room take the n numbers after the old ones.
             UPDATE rooms r SET last_seq = r.last_seq + p.n, message_count = r.message_count + p.n,
                 last_message_at = p.at
             FROM per_room p WHERE r.id = p.room_id
             RETURNING r.id, r.last_seq - p.n AS seq_base, r.message_count - p.n AS ordinal_base
         ), inserted AS (
             INSERT INTO messages (id, room_id, seq, author_id, author_name, author_avatar, text,
                 tokens, mentions, attachments, reactions, client_msg_id, is_ai_generated,
                 created_at, prefixes, ordinal, payload)
             SELECT b.id, b.room_id, r.seq_base + b.nth, b.author_id, b.author_name,
                 b.author_avatar, b.text,
                 ARRAY(SELECT jsonb_array_elements_text(b.ragged -> 0)),
                 ARRAY(SELECT jsonb_array_elements_text(b.ragged -> 1))::uuid[],
                 '[]'::jsonb, '{}'::jsonb, b.client_msg_id, b.is_ai_generated, b.created_at,
                 ARRAY(SELECT jsonb_array_elements_text(b.ragged -> 2)),
                 r.ordinal_base + b.nth, b.payload
             FROM batch b JOIN bumped r ON r.id = b.room_id
             RETURNING id, room_id, seq, created_at
         ), logged AS (
             INSERT INTO room_changes (room_id, seq, at, change, message_id)
             SELECT room_id, seq, created_at, $13, id FROM inserted
         ), counted AS (
             UPDATE room_members rm SET own_after_read = rm.own_after_read + c.own,
                 mentions_after_read = rm.mentions_after_read + c.mentions
             FROM unnest($14::uuid[], $15::uuid[], $16::int[], $17::int[])
                 AS c(room_id, user_id, own, mentions)
             WHERE rm.room_id = c.room_id AND rm.user_id = c.user_id
         )
         SELECT id, seq FROM inserted",
    )
    .bind(&ids)
    .bind(&rooms)
    .bind(&authors)
    .bind(&names)
    .bind(&avatars)
    .bind(&texts)
    .bind(&keys)
    .bind(&ai)
    .bind(&at)
    .bind(&payloads)
    .bind(&nth)
    .bind(&ragged)
    .bind(Json(message_change_json(MessageChange::Posted)))
    .bind(&c_rooms)
    .bind(&c_users)
    .bind(&c_own)
    .bind(&c_mentions)
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(rows.into_iter().collect())
}

/// The messages that sends with a stored `client_msg_id` replay, read in one statement (rare).
async fn replayed(
    tx: &mut sqlx::PgConnection,
    decisions: &[Decision],
) -> Result<HashMap<MessageId, Message>> {
    let stored: Vec<Uuid> = decisions
        .iter()
        .filter_map(|d| match d {
            Decision::ReplayOfStored(id) => Some(*id),
            _ => None,
        })
        .collect();
    let originals: HashMap<MessageId, Message> = if stored.is_empty() {
        HashMap::new()
    } else {
        sqlx::query_as::<_, MessageRow>(&format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE id = ANY($1)"
        ))
        .bind(&stored)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|row| {
            let m = Message::from(row);
            (m.id, m)
        })
        .collect()
    };
    Ok(originals)
}

/// Step 5, after the commit: each send's answer.
fn answers(
    sends: &[Queued],
    decisions: Vec<Decision>,
    seqs: &HashMap<Uuid, i64>,
    originals: &HashMap<MessageId, Message>,
) -> Result<Vec<Result<Appended>>> {
    let mut made: Vec<Option<Message>> = Vec::with_capacity(sends.len());
    let mut out = Vec::with_capacity(sends.len());
    for (send, decision) in sends.iter().zip(decisions) {
        let answer = match decision {
            Decision::Refused(err) => {
                made.push(None);
                Err(err)
            }
            Decision::ReplayOfStored(id) => {
                made.push(None);
                originals
                    .get(&MessageId::from(id))
                    .cloned()
                    .map(Appended::Replayed)
                    .ok_or(Error::NotFound { what: "message" })
            }
            Decision::ReplayOfBatchMate(first) => {
                made.push(None);
                made[first]
                    .clone()
                    .map(Appended::Replayed)
                    .ok_or_else(|| Error::internal("a replayed batch-mate was not stored"))
            }
            Decision::Admitted {
                author_name,
                author_avatar,
                by_bot,
                ..
            } => {
                let seq = seqs
                    .get(&send.msg.id.as_uuid())
                    .copied()
                    .ok_or_else(|| Error::internal("an admitted send was not stored"))?;
                let seq = RoomSeq(u64::try_from(seq).unwrap_or(0));
                let author = AuthorSnapshot {
                    display_name: author_name,
                    avatar_url: author_avatar,
                    is_bot: by_bot,
                };
                let message = send.msg.clone().into_message(seq, author);
                made.push(Some(message.clone()));
                Ok(Appended::Created {
                    posted: RoomChange {
                        room_id: message.room_id,
                        seq,
                        at: message.created_at,
                        kind: ChangeKind::MessagePosted(message),
                    },
                    thread: None,
                })
            }
        };
        out.push(answer);
    }
    Ok(out)
}
