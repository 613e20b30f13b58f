//! The indexed state behind [`MemoryStore`](crate::MemoryStore)'s lock, and the mutations that
//! keep its indexes consistent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chat_core::{
    Account, AttachmentId, AuthorSnapshot, ChangeKind, Event, EventId, EventMember, Message,
    MessageChange, MessageId, NewMessage, Room, RoomChange, RoomId, RoomMember, RoomSeq,
    RoomStanding, SearchTerms, SystemMetrics, Timestamp, UNREAD_CAP, Unread, Upload, User, UserId,
    search,
};

/// key → room → the messages with that key (a token, or a token prefix).
type Postings = HashMap<String, HashMap<RoomId, BTreeSet<MessageId>>>;

const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// One room: its settings, members, messages and change log.
#[derive(Debug)]
pub(crate) struct RoomState {
    pub(crate) room: Room,
    pub(crate) members: HashMap<UserId, RoomMember>,
    /// (lowercased display name, user) of every member, for prefix lookup in O(log n + page).
    pub(crate) name_index: BTreeSet<(String, UserId)>,
    pub(crate) messages: BTreeMap<RoomSeq, Message>,
    /// The change log; seq n is at index n - 1, which makes catch-up a slice.
    pub(crate) changes: Vec<LoggedChange>,
    /// Each author's latest send here, for slow mode.
    pub(crate) last_send: HashMap<UserId, Timestamp>,
    /// message → the seqs of its replies: threads in O(log n + page).
    pub(crate) replies: HashMap<MessageId, BTreeSet<RoomSeq>>,
}

impl RoomState {
    pub(crate) fn new(room: Room) -> Self {
        Self {
            room,
            members: HashMap::new(),
            name_index: BTreeSet::new(),
            messages: BTreeMap::new(),
            changes: Vec::new(),
            last_send: HashMap::new(),
            replies: HashMap::new(),
        }
    }

    /// Takes the next seq for a change about to be logged.
    pub(crate) fn advance(&mut self) -> RoomSeq {
        self.room.last_seq = self.room.last_seq.next();
        self.room.last_seq
    }

    /// Appends a change under the seq from [`advance`](Self::advance).
    pub(crate) fn push(&mut self, seq: RoomSeq, at: Timestamp, kind: ChangeKind) -> RoomChange {
        debug_assert_eq!(
            seq.get(),
            self.changes.len() as u64 + 1,
            "room log must stay gap-free"
        );
        let change = RoomChange {
            room_id: self.room.id,
            seq,
            at,
            kind,
        };
        self.changes.push(match change.kind.message_change() {
            Some((change, message)) => LoggedChange::Message {
                at,
                change,
                posted_seq: message.seq,
            },
            None => LoggedChange::Other(Box::new(change.clone())),
        });
        change
    }

    /// The log entry under `seq` as readers see it, or `None` past the end.
    pub(crate) fn change(&self, seq: u64) -> Option<RoomChange> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        Some(match self.changes.get(index)? {
            LoggedChange::Other(change) => RoomChange::clone(change),
            LoggedChange::Message {
                at,
                change,
                posted_seq,
            } => RoomChange {
                room_id: self.room.id,
                seq: RoomSeq(seq),
                at: *at,
                kind: change.with(self.messages.get(posted_seq)?.clone()),
            },
        })
    }
}

/// One entry of a room's log as kept. A message change names the message (by the seq it was
/// posted under) instead of copying it, so reading the log renders the message as it is now
/// and deleted or replaced text is gone from every entry (chat_core's change-log rule).
#[derive(Debug)]
pub(crate) enum LoggedChange {
    Message {
        at: Timestamp,
        change: MessageChange,
        posted_seq: RoomSeq,
    },
    /// Membership and room changes are rarer than message changes; boxed, they do not make
    /// every message entry as large as a room snapshot.
    Other(Box<RoomChange>),
}

/// Everything the store holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: HashMap<UserId, User>,
    /// Accounts by normalized email.
    pub(crate) accounts: HashMap<String, Account>,
    pub(crate) events: HashMap<EventId, Event>,
    pub(crate) event_members: HashMap<EventId, HashMap<UserId, EventMember>>,
    /// A user's events; UUIDv7 order is creation order.
    pub(crate) user_events: HashMap<UserId, BTreeSet<EventId>>,
    pub(crate) rooms: HashMap<RoomId, RoomState>,
    pub(crate) event_rooms: HashMap<EventId, BTreeSet<RoomId>>,
    pub(crate) user_rooms: HashMap<UserId, BTreeSet<RoomId>>,
    /// Where each message lives.
    message_locations: HashMap<MessageId, (RoomId, RoomSeq)>,
    pub(crate) client_msg_ids: HashMap<(UserId, String), MessageId>,
    /// Each author's sends by time, for rate-limit admission.
    sends_by_author: HashMap<UserId, BTreeSet<(Timestamp, MessageId)>>,
    /// Every send by time, for the hour and day counts of system metrics.
    sends_by_time: BTreeMap<(Timestamp, MessageId), UserId>,
    /// token → room → messages containing it. Per-room lists keep a one-room search from
    /// touching other rooms' postings.
    postings: Postings,
    /// The same for the token prefixes of prefix search (`chat_core::search::prefixes`).
    prefix_postings: Postings,
    /// Upload records by attachment id.
    pub(crate) uploads: HashMap<AttachmentId, Upload>,
    /// Direct rooms by the key of their set of people.
    pub(crate) direct_rooms: HashMap<String, RoomId>,
    /// user → the live messages that mention them (UUIDv7 ids: time order), for the
    /// mention feed.
    mentioned_in: HashMap<UserId, BTreeSet<MessageId>>,
    /// Webhooks by id (UUIDv7: creation order).
    pub(crate) webhooks: BTreeMap<chat_core::WebhookId, chat_core::webhook::Webhook>,
    /// Each webhook's position per room.
    pub(crate) webhook_positions:
        HashMap<(chat_core::WebhookId, RoomId), chat_core::webhook::WebhookPosition>,
    /// Dead letters by id (UUIDv7: time order).
    pub(crate) dead_letters: BTreeMap<chat_core::DeadLetterId, chat_core::webhook::DeadLetter>,
    /// Bots' tokens by id (UUIDv7: issue order).
    pub(crate) bot_tokens: BTreeMap<chat_core::BotTokenId, chat_core::BotToken>,
}

impl State {
    /// `user`'s standing in `room`, if the room exists.
    pub(crate) fn standing(&self, room: RoomId, user: UserId) -> Option<RoomStanding> {
        let r = self.rooms.get(&room)?;
        Some(RoomStanding {
            room: r.room.clone(),
            event_role: self
                .event_members
                .get(&r.room.event_id)
                .and_then(|m| m.get(&user))
                .map(|m| m.role),
            member: r.members.get(&user).cloned(),
        })
    }

    pub(crate) fn upsert_user(&mut self, mut user: User) -> User {
        if let Some(old) = self.users.get(&user.id) {
            user.created_at = old.created_at;
            // Set when the profile is created, kept by every update.
            user.is_bot = old.is_bot;
            let (old_key, new_key) = (
                old.display_name.to_lowercase(),
                user.display_name.to_lowercase(),
            );
            if old_key != new_key {
                for room in self.user_rooms.get(&user.id).into_iter().flatten() {
                    if let Some(r) = self.rooms.get_mut(room) {
                        r.name_index.remove(&(old_key.clone(), user.id));
                        r.name_index.insert((new_key.clone(), user.id));
                    }
                }
            }
        }
        self.users.insert(user.id, user.clone());
        user
    }

    pub(crate) fn insert_event_member(&mut self, mut member: EventMember) -> EventMember {
        let members = self.event_members.entry(member.event_id).or_default();
        if let Some(old) = members.get(&member.user_id) {
            member.joined_at = old.joined_at;
        }
        members.insert(member.user_id, member.clone());
        self.user_events
            .entry(member.user_id)
            .or_default()
            .insert(member.event_id);
        member
    }

    pub(crate) fn room_name_taken(
        &self,
        event: EventId,
        name: &str,
        except: Option<RoomId>,
    ) -> bool {
        let name = name.to_lowercase();
        self.event_rooms
            .get(&event)
            .into_iter()
            .flatten()
            .any(|id| {
                Some(*id) != except
                    && self
                        .rooms
                        .get(id)
                        .is_some_and(|r| r.room.name.to_lowercase() == name)
            })
    }

    /// Inserts or updates a membership; returns what is stored and whether it existed.
    pub(crate) fn insert_room_member(&mut self, mut member: RoomMember) -> (RoomMember, bool) {
        let name_key = self
            .users
            .get(&member.user_id)
            .map(|u| u.display_name.to_lowercase())
            .unwrap_or_default();
        let Some(r) = self.rooms.get_mut(&member.room_id) else {
            return (member, false);
        };
        let existed = match r.members.get(&member.user_id) {
            Some(old) => {
                member.joined_at = old.joined_at;
                member.last_read_seq = old.last_read_seq;
                true
            }
            None => false,
        };
        r.members.insert(member.user_id, member.clone());
        r.name_index.insert((name_key, member.user_id));
        self.user_rooms
            .entry(member.user_id)
            .or_default()
            .insert(member.room_id);
        (member, existed)
    }

    pub(crate) fn remove_room_member(&mut self, room: RoomId, user: UserId) -> bool {
        let name_key = self
            .users
            .get(&user)
            .map(|u| u.display_name.to_lowercase())
            .unwrap_or_default();
        let Some(r) = self.rooms.get_mut(&room) else {
            return false;
        };
        if r.members.remove(&user).is_none() {
            return false;
        }
        r.name_index.remove(&(name_key, user));
        if let Some(rooms) = self.user_rooms.get_mut(&user) {
            rooms.remove(&room);
        }
        true
    }

    pub(crate) fn message(&self, id: MessageId) -> Option<&Message> {
        let (room, seq) = self.message_locations.get(&id)?;
        self.rooms.get(room)?.messages.get(seq)
    }

    /// The author's newest `limit` send times strictly after `after`, ascending: what
    /// admission reads, in O(limit) however busy the author is.
    pub(crate) fn recent_sends(
        &self,
        author: UserId,
        after: Timestamp,
        limit: usize,
    ) -> Vec<Timestamp> {
        let mut recent: Vec<Timestamp> =
            self.sends_by_author
                .get(&author)
                .map_or_else(Vec::new, |sends| {
                    sends
                        .range((after, MessageId::MAX)..)
                        .rev()
                        .map(|(t, _)| *t)
                        .take_while(|t| *t > after)
                        .take(limit)
                        .collect()
                });
        recent.reverse();
        recent
    }

    /// Stores an admitted message with a snapshot of its author's profile, and logs it; `None`
    /// if the room or the author does not exist.
    pub(crate) fn insert_message(&mut self, msg: NewMessage) -> Option<RoomChange> {
        let author = self.users.get(&msg.author_id)?;
        let author = AuthorSnapshot {
            display_name: author.display_name.clone(),
            avatar_url: author.avatar_url.clone(),
            is_bot: author.is_bot,
        };
        let r = self.rooms.get_mut(&msg.room_id)?;
        let seq = r.advance();
        r.room.last_message_at = Some(msg.created_at);
        r.last_send.insert(msg.author_id, msg.created_at);
        let message = msg.into_message(seq, author);
        r.messages.insert(seq, message.clone());
        if let Some(parent) = message.reply_to {
            r.replies.entry(parent).or_default().insert(seq);
        }
        let change = r.push(
            seq,
            message.created_at,
            ChangeKind::MessagePosted(message.clone()),
        );
        self.message_locations
            .insert(message.id, (message.room_id, seq));
        if let Some(cmid) = &message.client_msg_id {
            self.client_msg_ids
                .insert((message.author_id, cmid.clone()), message.id);
        }
        self.sends_by_author
            .entry(message.author_id)
            .or_default()
            .insert((message.created_at, message.id));
        self.sends_by_time
            .insert((message.created_at, message.id), message.author_id);
        self.index(message.room_id, message.id, &message.text);
        for user in &message.mentions {
            self.mentioned_in
                .entry(*user)
                .or_default()
                .insert(message.id);
        }
        Some(change)
    }

    /// Applies `update` to a stored message and logs the change it names. When `reindex` holds
    /// the old text, the search postings move from the old text to the new one.
    pub(crate) fn change_message(
        &mut self,
        id: MessageId,
        at: Timestamp,
        update: impl FnOnce(&mut Message) -> fn(Message) -> ChangeKind,
        reindex: Option<String>,
    ) -> Option<RoomChange> {
        let (room, msg_seq) = *self.message_locations.get(&id)?;
        let r = self.rooms.get_mut(&room)?;
        let message = r.messages.get_mut(&msg_seq)?;
        let old_mentions = message.mentions.clone();
        let kind = update(message);
        let snapshot = message.clone();
        if snapshot.mentions != old_mentions {
            for user in &old_mentions {
                if let Some(ids) = self.mentioned_in.get_mut(user) {
                    ids.remove(&id);
                }
            }
            for user in &snapshot.mentions {
                self.mentioned_in.entry(*user).or_default().insert(id);
            }
        }
        let seq = r.advance();
        let change = r.push(seq, at, kind(snapshot.clone()));
        if let Some(old_text) = reindex {
            self.unindex(room, id, &old_text);
            if !snapshot.is_deleted {
                self.index(room, id, &snapshot.text);
            }
        }
        Some(change)
    }

    /// Recounts the live replies of `parent` and logs `ThreadUpdated` for it. The walk is
    /// over its own replies only, through the per-room reply index.
    pub(crate) fn update_thread(&mut self, parent: MessageId, at: Timestamp) -> Option<RoomChange> {
        let (room, _) = *self.message_locations.get(&parent)?;
        let r = self.rooms.get(&room)?;
        let live = r
            .replies
            .get(&parent)
            .into_iter()
            .flatten()
            .filter_map(|seq| r.messages.get(seq))
            .filter(|m| !m.is_deleted);
        let (count, last) = live.fold((0u32, None), |(n, last), m| {
            (n + 1, last.max(Some(m.created_at)))
        });
        self.change_message(
            parent,
            at,
            |m| {
                m.reply_count = count;
                m.last_reply_at = last;
                ChangeKind::ThreadUpdated
            },
            None,
        )
    }

    /// What `user` has not read in each room they belong to (and are not banned from) that has
    /// changed since they read it; each count walks the messages after the read position,
    /// stopping at the cap.
    pub(crate) fn unread(&self, user: UserId, only: Option<RoomId>) -> Vec<Unread> {
        let cap = UNREAD_CAP as usize;
        let count = |it: &mut dyn Iterator<Item = &Message>| {
            u32::try_from(it.take(cap).count()).unwrap_or(UNREAD_CAP)
        };
        self.user_rooms
            .get(&user)
            .into_iter()
            .flatten()
            .filter(|room| only.is_none_or(|o| o == **room))
            .filter_map(|room| self.rooms.get(room))
            .filter_map(|r| {
                let m = r.members.get(&user).filter(|m| !m.banned)?;
                // A room membership that outlived its event membership reads nothing.
                let in_event = self
                    .user_events
                    .get(&user)
                    .is_some_and(|events| events.contains(&r.room.event_id));
                if !in_event {
                    return None;
                }
                let after = || {
                    r.messages
                        .range(m.last_read_seq.next()..)
                        .map(|(_, msg)| msg)
                        .filter(|msg| !msg.is_deleted && msg.author_id != user)
                };
                Some(Unread {
                    room_id: r.room.id,
                    last_read_seq: m.last_read_seq,
                    last_seq: r.room.last_seq,
                    messages: count(&mut after()),
                    mentions: count(&mut after().filter(|msg| msg.mentions.contains(&user))),
                })
            })
            .collect()
    }

    /// Up to `limit` live messages of `rooms` mentioning `user`, newest first, below `before`.
    pub(crate) fn mentions_of(
        &self,
        user: UserId,
        rooms: &HashSet<RoomId>,
        before: Option<MessageId>,
        limit: usize,
    ) -> Vec<Message> {
        let Some(ids) = self.mentioned_in.get(&user) else {
            return Vec::new();
        };
        let upper = before.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        ids.range((std::ops::Bound::Unbounded, upper))
            .rev()
            .filter_map(|id| self.message(*id))
            .filter(|m| !m.is_deleted && rooms.contains(&m.room_id))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Up to `limit` replies to `parent` after `after`, oldest first.
    pub(crate) fn replies(&self, parent: MessageId, after: RoomSeq, limit: usize) -> Vec<Message> {
        let Some((room, _)) = self.message_locations.get(&parent) else {
            return Vec::new();
        };
        let Some(r) = self.rooms.get(room) else {
            return Vec::new();
        };
        r.replies
            .get(&parent)
            .map(|seqs| {
                seqs.range(after.next()..)
                    .filter_map(|seq| r.messages.get(seq).cloned())
                    .take(limit)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn index(&mut self, room: RoomId, id: MessageId, text: &str) {
        let tokens: HashSet<String> = search::tokens(text).collect();
        for token in tokens {
            self.postings
                .entry(token)
                .or_default()
                .entry(room)
                .or_default()
                .insert(id);
        }
        for prefix in search::prefixes(text) {
            self.prefix_postings
                .entry(prefix)
                .or_default()
                .entry(room)
                .or_default()
                .insert(id);
        }
    }

    fn unindex(&mut self, room: RoomId, id: MessageId, text: &str) {
        let tokens: HashSet<String> = search::tokens(text).collect();
        Self::remove_postings(&mut self.postings, tokens, room, id);
        Self::remove_postings(&mut self.prefix_postings, search::prefixes(text), room, id);
    }

    fn remove_postings(
        postings: &mut Postings,
        keys: impl IntoIterator<Item = String>,
        room: RoomId,
        id: MessageId,
    ) {
        for token in keys {
            if let Some(rooms) = postings.get_mut(&token) {
                if let Some(ids) = rooms.get_mut(&room) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        rooms.remove(&room);
                    }
                }
                if rooms.is_empty() {
                    postings.remove(&token);
                }
            }
        }
    }

    /// Up to `limit` newest matching message ids per room, across `rooms` (unsorted overall).
    pub(crate) fn search(
        &self,
        rooms: &[RoomId],
        terms: &SearchTerms,
        limit: usize,
    ) -> Vec<MessageId> {
        let mut found = Vec::new();
        let lists = terms
            .words
            .iter()
            .map(|t| self.postings.get(t))
            .chain(terms.indexed_prefix().map(|p| self.prefix_postings.get(p)))
            .collect::<Option<Vec<_>>>();
        let Some(lists) = lists else {
            return found;
        };
        // A prefix longer than the indexed ones was looked up by its start: check the rest.
        let recheck = terms.indexed_prefix() != terms.prefix.as_deref();
        for room in rooms {
            let Some(mut per_room) = lists
                .iter()
                .map(|l| l.get(room))
                .collect::<Option<Vec<&BTreeSet<MessageId>>>>()
            else {
                continue;
            };
            // Walk the rarest token's list; probe the others.
            per_room.sort_by_key(|l| l.len());
            let (rarest, others) = per_room.split_first().expect("tokens are never empty");
            found.extend(
                rarest
                    .iter()
                    .rev()
                    .filter(|id| others.iter().all(|l| l.contains(id)))
                    .filter(|id| {
                        !recheck || self.message(**id).is_some_and(|m| terms.matches(&m.text))
                    })
                    .take(limit),
            );
        }
        found
    }

    pub(crate) fn metrics(&self, now: Timestamp) -> SystemMetrics {
        let hour_ago = now.saturating_sub(HOUR);
        let day_ago = now.saturating_sub(DAY);
        let after = |t: Timestamp| {
            self.sends_by_time
                .range((t, MessageId::MAX)..)
                .filter(move |((at, _), _)| *at > t)
        };
        let mut active = HashSet::new();
        let mut last_hour = 0;
        for (_, author) in after(hour_ago) {
            last_hour += 1;
            active.insert(*author);
        }
        SystemMetrics {
            messages_last_hour: last_hour,
            messages_last_day: after(day_ago).count() as u64,
            active_users_last_hour: active.len() as u64,
            total_messages: self.message_locations.len() as u64,
            total_rooms: self.rooms.len() as u64,
            total_events: self.events.len() as u64,
            timestamp: now,
        }
    }
}
