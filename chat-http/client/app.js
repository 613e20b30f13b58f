// The chat client: sign-in, events and rooms, the message list, the composer. It shows what
// a good chat-engine client does: live updates with lossless resume, sends that survive a
// dropped connection (retries reuse the same client_msg_id, so nothing posts twice), clear
// error and rate-limit messages, and user text rendered only as text.

import { api, setAmbientSession, setToken, whenUnauthenticated } from './api.js';
import { Live } from './live.js';
import { messageRow, dayKey, dayLabel } from './render.js';
import { PillBox } from './mentions.js';
import { $, state, button, describe, guard, notice, showError } from './ui.js';
import './theme.js';
import { cancelReply, fillQuote, jumpTo, openPicker, openThread, startReply } from './conversation.js';
import {
  loadReceipts, markRead, onPresence, onReceipt, onUnread, renderBadges, renderSeenBy, showPresence, watchAuthors,
} from './reading.js';
import { onAck, onLiveError, onTyping, renderTypers, resolvePending, transmit, uploads } from './composer.js';
import './search.js';
import { closeMembers, onMemberChange, standing } from './members.js';
import { closePollForm, isPoll } from './polls.js';
import { keepTabStop } from './keyboard.js';
import { closeProfile, renderMe } from './profile.js';
const SESSION_KEY = 'chat-engine.session';

// Who signs the user in: chat's own form ('chat'), or the host page this client is embedded in
// ('host'), whose session cookie goes with every request. The server writes it into the page.
const sessionTag = document.querySelector('meta[name="chat-engine-session"]');
const HOST = sessionTag && sessionTag.content === 'host'
  ? { signIn: sessionTag.dataset.signIn, signOut: sessionTag.dataset.signOut }
  : null;

/** The host's session has ended or never began: its sign-in page takes over. */
function toHostSignIn() {
  window.location.assign(HOST.signIn);
}

const STATUS_TEXT = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…' };

// ----- sign-in and sign-up -----

let signingUp = false;

function showAuth(message = '') {
  $('app').hidden = true;
  $('auth').hidden = false;
  $('sign-out').hidden = true;
  $('whoami').hidden = true;
  closeProfile();
  $('status').textContent = '';
  $('auth-error').textContent = message;
}

function setAuthMode(up) {
  signingUp = up;
  $('auth-title').textContent = up ? 'Sign up' : 'Sign in';
  $('auth-submit').textContent = up ? 'Sign up' : 'Sign in';
  $('name-field').hidden = !up;
  $('auth-switch-text').textContent = up ? 'Have an account?' : 'No account yet?';
  $('auth-switch').textContent = up ? 'Sign in' : 'Sign up';
  $('auth-form').password.autocomplete = up ? 'new-password' : 'current-password';
}

$('auth-switch').addEventListener('click', () => setAuthMode(!signingUp));

$('auth-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  $('auth-error').textContent = '';
  $('auth-submit').disabled = true;
  try {
    const session = signingUp
      ? await api.signUp(form.email.value, form.password.value, form.display_name.value)
      : await api.signIn(form.email.value, form.password.value);
    form.password.value = '';
    start({ token: session.token, user: session.user });
  } catch (err) {
    $('auth-error').textContent = describe(err);
  } finally {
    $('auth-submit').disabled = false;
  }
});

$('sign-out').addEventListener('click', () => {
  stop();
  if (HOST) {
    // The host's own sign-out: a same-origin form post, as its sign-out form would make.
    const form = document.createElement('form');
    form.method = 'post';
    form.action = HOST.signOut;
    document.body.append(form);
    form.submit();
    return;
  }
  showAuth();
});

function stop() {
  if (state.live) state.live.stop();
  state.live = null;
  state.session = null;
  sessionStorage.removeItem(SESSION_KEY);
  setToken(null);
  closeRoom();
}

whenUnauthenticated(() => {
  stop();
  if (HOST) toHostSignIn();
  else showAuth('Your session has ended. Please sign in again.');
});

function start(session) {
  state.session = session;
  state.unreadKnown = false;
  // Per tab, not per browser: two windows can be two people. (A host's session lives in its
  // cookie, not here.)
  if (!HOST) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  setToken(session.token);
  $('auth').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  renderMe();
  state.live = new Live(session.token, {
    status: renderStatus,
    subscribed: guard(onSubscribed),
    change: onChange,
    ack: onAck,
    error: onLiveError,
    typing: onTyping,
    unread: onUnread,
    presence: onPresence,
    receipt: onReceipt,
    authFailed: () => {
      stop();
      if (HOST) toHostSignIn();
      else showAuth('Your session has ended. Please sign in again.');
    },
  });
  state.live.start();
  if (document.hidden) state.live.setAway(true);
  guard(loadEvents)();
  guard(loadDms)();
}

function renderStatus(status) {
  $('status').textContent = STATUS_TEXT[status];
  $('status').dataset.state = status;
  if (status === 'connected') {
    // Sends typed while offline go out now; failed ones wait for their Retry button.
    for (const [id, p] of state.pending) if (!p.sent && !p.failed) transmit(id);
  }
}

// ----- events and rooms -----

async function loadEvents(selectId) {
  const events = await api.events();
  const list = $('events');
  list.replaceChildren();
  state.eventRoles = new Map(events.map(({ event, role }) => [event.id, role]));
  for (const { event, role } of events) {
    const item = document.createElement('li');
    const open = button(event.name, 'item', guard(() => selectEvent(event.id)));
    open.title = `${event.kind} · ${role}`;
    open.dataset.eventId = event.id;
    item.append(open);
    list.append(item);
  }
  const target = selectId || state.eventId || (events[0] && events[0].event.id);
  if (target) await selectEvent(target);
}

// ----- direct messages -----

/** Lists the reader's direct rooms, each named by the other people in it. */
export async function loadDms() {
  const dms = (await api.rooms()).filter((v) => v.room.kind === 'direct');
  // Built aside and swapped in whole, so that two loads racing (a new room announced while
  // one is being opened) cannot list a room twice.
  const items = [];
  for (const { room } of dms) {
    const members = await api.members(room.id);
    const others = members.filter((m) => m.user_id !== state.session.user.id);
    const names = await Promise.all(others.map(async (m) => {
      if (!state.names.has(m.user_id)) state.names.set(m.user_id, (await api.user(m.user_id)).display_name);
      return state.names.get(m.user_id);
    }));
    const label = names.join(', ') || 'Just you';
    const item = document.createElement('li');
    const open = button(label, 'item', () => openRoom({ ...room, name: label }));
    open.dataset.roomId = room.id;
    if (state.room && state.room.id === room.id) open.classList.add('selected');
    item.append(open);
    items.push(item);
  }
  state.dmIds = new Set(dms.map((v) => v.room.id));
  $('dms').replaceChildren(...items);
  $('dms-section').hidden = dms.length === 0;
  renderBadges();
}

/** Opens (creating it if need be) the direct room of the reader and this person. */
async function messageDirectly(userId) {
  const { room } = await api.openDm([userId]);
  await loadDms();
  openRoom({ ...room, name: state.names.get(userId) || 'Direct message' });
}

async function selectEvent(eventId) {
  state.eventId = eventId;
  for (const b of $('events').querySelectorAll('button')) b.classList.toggle('selected', b.dataset.eventId === eventId);
  const rooms = await api.rooms(eventId);
  renderRooms(rooms);
  $('rooms-section').hidden = false;
  // Entering an event opens its first joined room, unless a room of it is already open. Someone
  // new to the event lands in its Main room, joined for them, rather than on an empty screen.
  if (!state.room || state.room.event_id !== eventId) {
    let first = rooms.find((r) => r.membership);
    const main = rooms.find((r) => r.room.kind === 'main' && r.room.visibility === 'public');
    if (!first && main) {
      await api.joinRoom(main.room.id);
      renderRooms(await api.rooms(eventId));
      first = main;
    }
    if (first) openRoom(first.room);
  }
}

export function renderRooms(rooms) {
  const list = $('rooms');
  list.replaceChildren();
  for (const { room, membership } of rooms) {
    const item = document.createElement('li');
    const open = button(room.name, 'item');
    open.dataset.roomId = room.id;
    if (state.room && state.room.id === room.id) open.classList.add('selected');
    if (membership) {
      open.addEventListener('click', () => openRoom(room));
    } else {
      open.disabled = true;
      const join = button('Join', 'join', guard(async () => {
        await api.joinRoom(room.id);
        renderRooms(await api.rooms(state.eventId));
        openRoom(room);
      }));
      item.append(open, join);
      list.append(item);
      continue;
    }
    item.append(open);
    list.append(item);
  }
  renderBadges();
}

$('new-event').addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  const name = e.target.name.value;
  const event = await api.createEvent(name);
  e.target.reset();
  await loadEvents(event.id);
}));

$('new-room').addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  if (!state.eventId) return;
  const room = await api.createRoom(state.eventId, e.target.name.value, e.target.private.checked ? 'private' : 'public');
  e.target.reset();
  renderRooms(await api.rooms(state.eventId));
  openRoom(room);
}));

// ----- the open room -----

$('back').addEventListener('click', () => {
  closeRoom();
  for (const b of $('rooms').querySelectorAll('button.item')) b.classList.remove('selected');
  renderBadges();
});

function closeRoom() {
  $('app').classList.remove('room-open');
  if (state.room && state.live) state.live.unsubscribe(state.room.id);
  state.room = null;
  state.rows.clear();
  for (const p of state.pending.values()) clearTimeout(p.timer);
  state.pending.clear();
  uploads.clear();
  state.typers.clear();
  state.readSeq = 0;
  state.authors.clear();
  state.receipts.clear();
  state.newSince = null;
  state.moderates = false;
  closePollForm();
  cancelReply();
  state.threadId = null;
  $('thread').hidden = true;
  closeMembers();
  $('members-note').textContent = '';
  state.oldestSeq = null;
  state.hasMore = false;
  $('messages').replaceChildren();
  $('typing').textContent = '';
  notice('');
  $('composer').hidden = true;
  $('members-button').hidden = true;
  $('room-title').textContent = 'Pick a room';
}

export function openRoom(room) {
  // On a phone the room takes the whole screen; Back returns to the list.
  $('app').classList.add('room-open');
  if (state.room && state.room.id === room.id) return;
  closeRoom();
  $('app').classList.add('room-open');
  state.room = room;
  const counts = state.unread.get(room.id);
  state.newSince = counts && counts.messages > 0 ? counts.last_read_seq : null;
  $('room-title').textContent = room.kind === 'direct' ? room.name : `# ${room.name}`;
  $('composer').hidden = false;
  $('members-button').hidden = false;
  for (const b of document.querySelectorAll('#rooms button.item, #dms button.item')) {
    b.classList.toggle('selected', b.dataset.roomId === room.id);
  }
  // Subscribe first, load history when the server confirms: anything posted in between
  // arrives live, so nothing falls in the gap (rows are keyed by id, so nothing shows twice).
  state.live.subscribe(room.id);
  $('message-input').focus();
  learnStanding(room);
}

/** Learns whether the reader moderates the room, then redraws the polls they may now close. */
const learnStanding = guard(async (room) => {
  const { moderator } = await standing(room);
  if (!state.room || state.room.id !== room.id || moderator === state.moderates) return;
  state.moderates = moderator;
  for (const row of state.rows.values()) {
    if (isPoll(row.messageData)) placeMessage(row.messageData, true);
  }
});

async function onSubscribed(roomId, lastSeq, resumed) {
  if (!state.room || state.room.id !== roomId || resumed) return;
  const page = await api.history(roomId);
  if (!state.room || state.room.id !== roomId) return;
  // Newest first from the server; shown oldest first.
  for (const message of page.messages.slice().reverse()) placeMessage(message, false);
  state.oldestSeq = page.messages.length ? page.messages[page.messages.length - 1].seq : null;
  state.hasMore = page.has_more;
  scrollToBottom();
  guard(loadReceipts)(roomId);
  if (state.pendingJump) {
    const id = state.pendingJump;
    state.pendingJump = null;
    await jumpTo(id);
  }
  markRead();
}

const list = $('messages');

list.addEventListener('scroll', () => {
  markRead();
  $('to-latest').hidden = nearBottom();
});

$('to-latest').addEventListener('click', () => {
  scrollToBottom();
  $('to-latest').hidden = true;
});

list.addEventListener('scroll', guard(async () => {
  if (list.scrollTop > 40 || !state.hasMore || state.loadingOlder || !state.room) return;
  state.loadingOlder = true;
  const roomId = state.room.id;
  try {
    const page = await api.history(roomId, state.oldestSeq);
    if (!state.room || state.room.id !== roomId) return;
    const height = list.scrollHeight;
    for (const message of page.messages) placeMessage(message, false);
    if (page.messages.length) state.oldestSeq = page.messages[page.messages.length - 1].seq;
    state.hasMore = page.has_more;
    // Keep what the reader was looking at in place.
    list.scrollTop += list.scrollHeight - height;
  } finally {
    state.loadingOlder = false;
  }
}));

export function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

export function scrollToBottom() {
  list.scrollTop = list.scrollHeight;
}

function actionsFor(message) {
  if (message.is_deleted) return [];
  const actions = [
    { label: 'Reply', run: () => startReply(message) },
    { label: 'React', run: (e) => openPicker(e.target, message.id) },
  ];
  if (message.author_id !== state.session.user.id) {
    if (state.room && state.room.kind !== 'direct') {
      actions.push({ label: `Message ${message.author_name}`, run: guard(() => messageDirectly(message.author_id)) });
    }
    return actions;
  }
  return [
    ...actions,
    { label: 'Edit', run: () => startEdit(message.id) },
    { label: 'Delete', run: (e) => confirmDelete(e.target, message.id) },
  ];
}

/**
 * Shows a stored message in seq order. `replace` says whether a row already shown for it
 * is replaced: live changes replace (they are newer), history pages do not (a live change
 * may already have updated the row past the page's snapshot).
 */
export function placeMessage(message, replace) {
  const existing = state.rows.get(message.id);
  if (existing && !replace) return;
  state.names.set(message.author_id, message.author_name);
  const me = state.session.user.id;
  const canClosePoll = message.author_id === me || state.moderates;
  const row = messageRow({ message, myId: me, actions: actionsFor(message), names: state.names, canClosePoll });
  row.messageData = message;
  fillQuote(row);
  // Focusable, so a tap shows its actions where there is no hover; one row is in the Tab
  // order (keyboard.js), and a row replaced by a live change keeps that place and the focus.
  row.tabIndex = existing && existing.tabIndex === 0 ? 0 : -1;
  const focused = existing && existing.contains(document.activeElement) ? document.activeElement : null;
  const author = row.querySelector('.author');
  if (author && message.author_id !== state.session.user.id) {
    author.dataset.userId = message.author_id;
    showPresence(author);
    if (!state.authors.has(message.author_id)) {
      state.authors.add(message.author_id);
      watchAuthors();
    }
  }
  if (existing) {
    existing.replaceWith(row);
    if (focused) refocus(row, focused);
  } else {
    // Rows are in seq order; pending rows stay after every stored one.
    let before = null;
    for (const candidate of list.children) {
      // Separators (days, the "New messages" line) carry no seq: only messages place it.
      if (!candidate.classList.contains('message')) continue;
      const seq = Number(candidate.dataset.seq || Infinity);
      if (seq > message.seq) {
        before = candidate;
        break;
      }
    }
    list.insertBefore(row, before);
  }
  state.rows.set(message.id, row);
  scheduleLayout();
}

/** Gives focus back inside a replaced row: to the same poll option (a vote replaces the row),
 * else to the row itself. */
function refocus(row, was) {
  const option = was.dataset.option === undefined ? null : row.querySelector(`.poll-option[data-option="${was.dataset.option}"]`);
  (option || row).focus({ preventScroll: true });
}

// ----- reading: day separators and runs of one author -----

/** A message continues the one above when the same person wrote it within this long. */
const RUN_GAP_MS = 5 * 60 * 1000;
let layoutQueued = false;

/** Lays the list out once per frame, however many rows arrived in it. */
export function scheduleLayout() {
  if (layoutQueued) return;
  layoutQueued = true;
  requestAnimationFrame(() => {
    layoutQueued = false;
    layout();
  });
}

/** Puts a separator before the first message of each day, and marks messages that continue
 * their author's run (no avatar or name repeated). */
function layout() {
  for (const sep of list.querySelectorAll('li.day, li.new-line')) sep.remove();
  let lineDrawn = state.newSince === null;
  let previous = null;
  for (const row of [...list.querySelectorAll('li.message')]) {
    const data = row.messageData;
    if (!data || !data.created_at) continue;
    const day = dayKey(data.created_at);
    const sameDay = previous && dayKey(previous.created_at) === day;
    if (!sameDay) {
      const sep = document.createElement('li');
      sep.className = 'day';
      sep.textContent = dayLabel(data.created_at);
      row.before(sep);
    }
    if (!lineDrawn && Number(row.dataset.seq) > state.newSince && data.author_id !== state.session.user.id) {
      const line = document.createElement('li');
      line.className = 'new-line';
      line.textContent = 'New messages';
      row.before(line);
      lineDrawn = true;
    }
    const continues = sameDay && !row.previousElementSibling?.classList.contains('new-line')
      && previous.author_id === data.author_id
      && !previous.is_deleted
      && new Date(data.created_at) - new Date(previous.created_at) < RUN_GAP_MS;
    row.classList.toggle('continued', Boolean(continues));
    previous = data;
  }
  renderSeenBy();
  keepTabStop();
}

function onChange(change) {
  if (!state.room || change.room_id !== state.room.id) return;
  const message = ['message_posted', 'message_edited', 'message_deleted', 'reactions_changed', 'thread_updated', 'payload_updated'].includes(change.kind)
    ? change.data
    : null;
  onMemberChange(change);
  if (!message) return;
  const stick = nearBottom();
  if (change.kind === 'message_posted' && message.client_msg_id && message.author_id === state.session.user.id) {
    resolvePending(message.client_msg_id);
  }
  placeMessage(message, true);
  if (state.threadId && (message.id === state.threadId || message.reply_to === state.threadId)) {
    guard(openThread)(state.threadId);
  }
  state.typers.delete(message.author_id);
  renderTypers();
  if (stick) scrollToBottom();
  markRead();
}

// ----- editing and deleting -----

export function startEdit(messageId) {
  const row = state.rows.get(messageId);
  if (!row) return;
  const message = row.messageData;
  const body = row.querySelector('.body');
  const editor = document.createElement('form');
  editor.className = 'edit';
  const input = document.createElement('textarea');
  input.rows = 2;
  input.setAttribute('aria-label', 'Edit message');
  // Mentions in the text being edited show as pills too, and stay mentions when saved.
  const box = document.createElement('div');
  box.className = 'composer-box';
  box.append(input);
  const pills = new PillBox(input);
  const save = button('Save');
  save.type = 'submit';
  const cancel = button('Cancel', 'link', () => placeMessage(row.messageData, true));
  editor.append(box, save, cancel);
  editor.addEventListener('submit', guard(async (e) => {
    e.preventDefault();
    const updated = await api.edit(messageId, pills.encode());
    placeMessage(updated, true);
    $('message-input').focus();
  }));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      editor.requestSubmit();
    } else if (e.key === 'Escape') {
      // Handled here: the Escape of the page (closing panels) is not for this.
      e.preventDefault();
      placeMessage(row.messageData, true);
      $('message-input').focus();
    }
  });
  body.replaceWith(editor);
  pills.set(message.text);
  input.focus();
}

function confirmDelete(button, messageId) {
  if (button.dataset.confirm !== 'yes') {
    button.dataset.confirm = 'yes';
    button.textContent = 'Really delete?';
    setTimeout(() => {
      button.dataset.confirm = '';
      button.textContent = 'Delete';
    }, 4000);
    return;
  }
  guard(async () => {
    const tombstone = await api.remove(messageId);
    placeMessage(tombstone, true);
  })();
}

// ----- boot -----

setAuthMode(false);
const saved = HOST ? null : sessionStorage.getItem(SESSION_KEY);
if (HOST) {
  setAmbientSession(true);
  api.me().then(
    (user) => start({ token: null, user }),
    (err) => {
      if (err.status === 401) toHostSignIn();
      else showError(describe(err));
    },
  );
} else if (saved) {
  try {
    const session = JSON.parse(saved);
    setToken(session.token);
    api.me().then(
      (user) => start({ token: session.token, user }),
      (err) => showAuth(err.status === 401 ? 'Your session has ended. Please sign in again.' : describe(err)),
    );
  } catch (e) {
    showAuth();
  }
} else {
  showAuth();
}
