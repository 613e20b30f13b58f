// Unread counts and badges, the read position, notifications of mentions, "Seen by" and
// presence dots.

import { api, ApiError } from './api.js';
import { formatTime } from './render.js';
import { $, state, guard } from './ui.js';
import { loadDms, nearBottom, scheduleLayout } from './app.js';

const list = $('messages');

/** Tells the server (and so this user's other tabs and devices) how far the open room is read:
 * only while the tab is visible and the newest message is in view. */
export function markRead() {
  // Not before the first counts: they place the "New messages" line, and counts taken after
  // a read would no longer know where it was.
  if (!state.room || !state.live || !state.unreadKnown || document.hidden || !nearBottom()) return;
  const seq = state.live.rooms.get(state.room.id);
  if (!seq || seq <= state.readSeq) return;
  if (state.live.send({ type: 'read', room_id: state.room.id, seq })) state.readSeq = seq;
}

export function onUnread(frame) {
  let unknown = false;
  for (const counts of frame.rooms) {
    const before = state.unread.get(counts.room_id);
    if (!before && state.unread.size > 0) unknown = true;
    if (before && counts.mentions > before.mentions) notifyMention(counts.room_id);
    state.unread.set(counts.room_id, counts);
  }
  for (const roomId of frame.gone) state.unread.delete(roomId);
  // The room opened right after sign-in may be open before its first counts arrive: its "New
  // messages" line comes with them (reading waits for them, see markRead).
  const open = state.room && state.unread.get(state.room.id);
  if (!state.unreadKnown && open && state.newSince === null && open.messages > 0) {
    state.newSince = open.last_read_seq;
    scheduleLayout();
  }
  state.unreadKnown = true;
  renderBadges();
  markRead();
  // A room the reader did not have a moment ago: a direct room someone opened, perhaps.
  if (unknown) guard(loadDms)();
}

/** "3", "@ 2" when someone mentioned the reader, "999+" past the server's cap (1000). */
function badgeText(counts) {
  const n = (k) => (k >= 1000 ? '999+' : String(k));
  if (!counts || counts.messages === 0) return '';
  return counts.mentions > 0 ? `@ ${n(counts.messages)}` : n(counts.messages);
}

export function renderBadges() {
  let total = 0;
  for (const [roomId, counts] of state.unread) {
    const open = state.room && state.room.id === roomId && !document.hidden;
    if (!open) total += counts.messages;
  }
  // The badge is an attribute shown by CSS, so the button's text stays the room's name.
  for (const b of document.querySelectorAll('#rooms button.item[data-room-id], #dms button.item[data-room-id]')) {
    const open = state.room && state.room.id === b.dataset.roomId && !document.hidden;
    const counts = open ? null : state.unread.get(b.dataset.roomId);
    const text = badgeText(counts);
    if (text) b.dataset.badge = text;
    else delete b.dataset.badge;
    b.classList.toggle('unread', Boolean(text));
    b.classList.toggle('mentioned', Boolean(text && counts.mentions > 0));
  }
  document.title = total > 0 ? `(${total >= 1000 ? '999+' : total}) chat-engine` : 'chat-engine';
}

// A browser notification for a mention the reader is not looking at, once they allowed it.
function notificationsAsked() {
  return !('Notification' in window) || Notification.permission !== 'default';
}

$('notify').hidden = notificationsAsked();
$('notify').addEventListener('click', guard(async () => {
  await Notification.requestPermission();
  $('notify').hidden = notificationsAsked();
}));

function notifyMention(roomId) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (state.room && state.room.id === roomId && !document.hidden) return;
  const entry = document.querySelector(`#rooms button[data-room-id="${roomId}"], #dms button[data-room-id="${roomId}"]`);
  const where = entry ? entry.firstChild.textContent : 'a room';
  const note = new Notification('You were mentioned', { body: `in ${where}`, tag: roomId });
  note.addEventListener('click', () => {
    window.focus();
    if (entry) entry.click();
  });
}

// "Seen by": who has read up to the reader's newest message in the open room.
export async function loadReceipts(roomId) {
  state.receipts.clear();
  let receipts = [];
  try {
    receipts = await api.receipts(roomId);
  } catch (err) {
    // A room with read receipts off answers 403: nothing to show.
    if (!(err instanceof ApiError && err.code === 'forbidden')) throw err;
  }
  if (!state.room || state.room.id !== roomId) return;
  for (const r of receipts) state.receipts.set(r.user_id, r.last_read_seq);
  renderSeenBy();
}

export function onReceipt(frame) {
  if (!state.room || frame.room_id !== state.room.id) return;
  state.receipts.set(frame.user_id, Math.max(frame.seq, state.receipts.get(frame.user_id) || 0));
  renderSeenBy();
}

export function renderSeenBy() {
  for (const old of list.querySelectorAll('.seen-by')) old.remove();
  const mine = [...list.querySelectorAll('li.message.mine[data-seq]')].pop();
  if (!mine) return;
  const seq = Number(mine.dataset.seq);
  const me = state.session.user.id;
  const readers = [...state.receipts].filter(([user, read]) => user !== me && read >= seq).map(([user]) => user);
  if (!readers.length) return;
  const unknown = readers.filter((u) => !state.names.has(u));
  if (unknown.length) {
    // Names of readers who have not written here yet, then show the line again.
    Promise.all(unknown.map((u) => api.user(u).then((p) => state.names.set(u, p.display_name))))
      .then(renderSeenBy, () => {});
  }
  const names = readers.map((u) => state.names.get(u) || 'someone');
  const line = document.createElement('div');
  line.className = 'seen-by';
  line.textContent = `Seen by ${names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ')}`;
  mine.append(line);
}

/** Follows the presence of the open room's authors, once a burst of new ones has settled. */
export function watchAuthors() {
  clearTimeout(state.watchTimer);
  state.watchTimer = setTimeout(() => {
    if (state.live) state.live.watchPresence([...state.authors]);
  }, 200);
}

export function onPresence(frame) {
  state.presence.set(frame.user_id, frame);
  for (const author of document.querySelectorAll('.author[data-user-id]')) {
    if (author.dataset.userId === frame.user_id) showPresence(author);
  }
}

export function showPresence(author) {
  const p = state.presence.get(author.dataset.userId);
  const status = p ? p.status : 'offline';
  author.dataset.presence = status;
  author.title = status === 'offline' && p && p.last_active_at
    ? `offline · last active ${formatTime(p.last_active_at)}`
    : status;
}

document.addEventListener('visibilitychange', () => {
  if (state.live) state.live.setAway(document.hidden);
  renderBadges();
  markRead();
});
