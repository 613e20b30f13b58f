// The chat client: sign-in, events and rooms, the message list, the composer. It shows what
// a good chat-engine client does: live updates with lossless resume, sends that survive a
// dropped connection (retries reuse the same client_msg_id, so nothing posts twice), clear
// error and rate-limit messages, and user text rendered only as text.

import { api, ApiError, setToken, whenUnauthenticated } from './api.js';
import { Live } from './live.js';
import { MentionPicker } from './mentions.js';
import { messageRow, formatTime, dayKey, dayLabel } from './render.js';
import { SHORTCODES } from './markup.js';
import { Uploads, filesOf } from './attachments.js';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'chat-engine.session';
// How long a send may go unanswered before it is shown as failed, with a retry button.
const SEND_TIMEOUT_MS = 8000;
// The server passes one typing signal per 2 s per user and room (chat-core's TypingThrottle),
// timed when each arrives. A little more than that apart, a signal is not dropped even when
// the one before it took longer on the way.
const TYPING_EVERY_MS = 2300;
const TYPING_SHOWN_MS = 4000;

const STATUS_TEXT = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…' };

const state = {
  session: null, // { token, user }
  live: null,
  eventId: null,
  room: null, // the open room
  rows: new Map(), // message id → <li>
  oldestSeq: null,
  hasMore: false,
  loadingOlder: false,
  pending: new Map(), // client_msg_id → { text, attachments, row, roomId, timer, sent, failed }
  typers: new Map(), // user id → { name, until }
  lastTypingSent: 0,
  typingTimer: null,
  unread: new Map(), // room id → { messages, mentions, last_read_seq, last_seq }, live
  readSeq: 0, // the open room's seq this tab last reported read
  authors: new Set(), // other people with messages in the open room, whose presence is shown
  presence: new Map(), // user id → { status, last_active_at }
  watchTimer: null,
  sendOrder: 0, // numbers sends, so refused ones return to the composer in order
  restored: [], // the refused texts at the top of the composer: [{ blocks, joined }]
  countdown: null,
  names: new Map(), // user id → display name, from the messages seen (for "who reacted")
  parents: new Map(), // message id → message, for reply quotes of messages not in view
  replyTo: null, // the message the composer replies to
  threadId: null, // the parent whose thread panel is open
  pendingJump: null, // a message to bring into view once its room has loaded
  dmIds: new Set(), // the direct rooms listed
  receipts: new Map(), // user id → seq read up to, in the open room
  newSince: null, // the open room's read position when it was opened: the "new messages" line
};

// ----- theme: the system's light or dark, unless the reader picks one -----

const THEME_KEY = 'chat-engine.theme';
const THEMES = ['system', 'light', 'dark'];

function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const b = $('theme-toggle');
  b.textContent = { system: 'Theme: Auto', light: 'Theme: Light', dark: 'Theme: Dark' }[theme];
  b.title = 'Change the theme (Auto follows the system)';
}

applyTheme(localStorage.getItem(THEME_KEY) || 'system');
$('theme-toggle').addEventListener('click', () => {
  const current = localStorage.getItem(THEME_KEY) || 'system';
  const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
});

// ----- errors: shown, never a blank page -----

function showError(message) {
  $('error-text').textContent = message;
  $('error-banner').hidden = false;
}

/** What an error code means to a person; the server's own message is for developers. */
const ERROR_TEXT = {
  conflict: 'That already exists.',
  forbidden: "You don't have permission to do that.",
  not_found: 'That no longer exists, or you no longer have access to it.',
  payload_too_large: 'That is too large.',
  unsupported_media_type: "That kind of file can't be sent.",
  unavailable: 'The server is busy or restarting. Please try again in a moment.',
  unauthenticated: 'Your session has ended. Please sign in again.',
  network: "Can't reach the server. Check your connection.",
  internal: 'Something went wrong on the server. Please try again.',
};

/** Field names as a person reads them. */
const FIELD_TEXT = {
  name: 'The name', text: 'The message', display_name: 'The display name', email: 'The email',
  password: 'The password', file_name: 'The file name', q: 'The search',
};

function describe(err) {
  if (err instanceof ApiError) {
    if (err.code === 'rate_limited') return `Too many attempts. Please wait ${Math.ceil((err.retryAfterMs || 1000) / 1000)} s.`;
    if (err.code === 'validation') {
      const what = FIELD_TEXT[err.field] || 'Something you entered';
      return `${what} can't be used: ${err.message.replace(/^[a-z_]+: /, '')}.`;
    }
    if (err.code === 'conflict' && /name/.test(err.message)) return 'That name is already taken here. Please choose another.';
    return ERROR_TEXT[err.code] || err.message;
  }
  return `Unexpected error: ${err && err.message ? err.message : String(err)}`;
}

/** Wraps an event handler so that any failure is shown instead of lost. */
function guard(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (err) {
      showError(describe(err));
    }
  };
}

window.addEventListener('error', (e) => showError(`Unexpected error: ${e.message}`));
window.addEventListener('unhandledrejection', (e) => showError(describe(e.reason)));
$('error-dismiss').addEventListener('click', () => {
  $('error-banner').hidden = true;
});

function notice(text) {
  clearInterval(state.countdown);
  $('notice').textContent = text;
}

/** A notice that counts down the seconds of a wait (rate limit, slow mode), then clears. */
function countdown(ms, text) {
  const until = Date.now() + ms;
  const tick = () => {
    const secs = Math.ceil((until - Date.now()) / 1000);
    if (secs <= 0) {
      clearInterval(state.countdown);
      $('notice').textContent = '';
      return;
    }
    $('notice').textContent = text(secs);
  };
  clearInterval(state.countdown);
  tick();
  state.countdown = setInterval(tick, 250);
}

// ----- sign-in and sign-up -----

let signingUp = false;

function showAuth(message = '') {
  $('app').hidden = true;
  $('auth').hidden = false;
  $('sign-out').hidden = true;
  $('whoami').textContent = '';
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
  showAuth('Your session has ended. Please sign in again.');
});

function start(session) {
  state.session = session;
  // Per tab, not per browser: two windows can be two people.
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  setToken(session.token);
  $('auth').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
  $('whoami').textContent = session.user.display_name;
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
      showAuth('Your session has ended. Please sign in again.');
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

/** A `type="button"` button; user-supplied labels go in as text. */
function button(text, className, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  if (className) b.className = className;
  b.textContent = text;
  if (onClick) b.addEventListener('click', onClick);
  return b;
}

// ----- events and rooms -----

async function loadEvents(selectId) {
  const events = await api.events();
  const list = $('events');
  list.replaceChildren();
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
async function loadDms() {
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

function renderRooms(rooms) {
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
  const room = await api.createRoom(state.eventId, e.target.name.value);
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
  cancelReply();
  state.threadId = null;
  $('thread').hidden = true;
  state.oldestSeq = null;
  state.hasMore = false;
  $('messages').replaceChildren();
  $('typing').textContent = '';
  notice('');
  $('composer').hidden = true;
  $('room-title').textContent = 'Pick a room';
}

function openRoom(room) {
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
  for (const b of document.querySelectorAll('#rooms button.item, #dms button.item')) {
    b.classList.toggle('selected', b.dataset.roomId === room.id);
  }
  // Subscribe first, load history when the server confirms: anything posted in between
  // arrives live, so nothing falls in the gap (rows are keyed by id, so nothing shows twice).
  state.live.subscribe(room.id);
  $('message-input').focus();
}

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

function nearBottom() {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

function scrollToBottom() {
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
function placeMessage(message, replace) {
  const existing = state.rows.get(message.id);
  if (existing && !replace) return;
  state.names.set(message.author_id, message.author_name);
  const row = messageRow({ message, myId: state.session.user.id, actions: actionsFor(message), names: state.names });
  row.messageData = message;
  fillQuote(row);
  // Focusable, so a tap (or Tab) shows its actions where there is no hover.
  if (row.querySelector('.actions')) row.tabIndex = 0;
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
  } else {
    // Rows are in seq order; pending rows stay after every stored one.
    let before = null;
    for (const candidate of list.children) {
      if (candidate.classList.contains('day')) continue;
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

// ----- replies, reactions, threads -----

function snippet(text, max = 80) {
  const plain = text.replace(/@\[((?:\\.|[^\\\[\]])+)\]\([0-9a-f-]{36}\)/gi, (m, n) => `@${n.replace(/\\(.)/g, '$1')}`);
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}

/** Fills a row's reply quote with its parent's author and first words. */
function fillQuote(row) {
  const quote = row.querySelector('.reply-quote');
  if (!quote) return;
  const id = quote.dataset.parentId;
  const known = state.rows.get(id)?.messageData || state.parents.get(id);
  const show = (parent) => {
    quote.textContent = parent.is_deleted
      ? '↪ a deleted message'
      : `↪ ${parent.author_name}: ${snippet(parent.text || '(attachment)')}`;
  };
  if (known) {
    show(known);
    return;
  }
  api.message(id).then((parent) => {
    state.parents.set(id, parent);
    show(parent);
  }, () => {
    quote.textContent = '↪ a message you cannot see';
  });
}

/** Brings a message into view (loading older pages until it is there) and flashes it. */
async function jumpTo(messageId) {
  let row = state.rows.get(messageId);
  if (!row) {
    const target = state.parents.get(messageId) || await api.message(messageId);
    for (let pages = 0; !state.rows.get(messageId) && state.hasMore && pages < 20; pages += 1) {
      const page = await api.history(state.room.id, state.oldestSeq);
      for (const message of page.messages) placeMessage(message, false);
      if (page.messages.length) state.oldestSeq = page.messages[page.messages.length - 1].seq;
      state.hasMore = page.has_more;
      if (target.seq >= state.oldestSeq) break;
    }
    row = state.rows.get(messageId);
  }
  if (!row) return;
  row.scrollIntoView({ block: 'center' });
  row.classList.remove('flash');
  void row.offsetWidth; // restart the animation
  row.classList.add('flash');
}

function startReply(message) {
  state.replyTo = message;
  $('replying-text').textContent = `Replying to ${message.author_name}: ${snippet(message.text || '(attachment)', 60)}`;
  $('replying').hidden = false;
  input.focus();
}

function cancelReply() {
  state.replyTo = null;
  $('replying').hidden = true;
}

$('replying-cancel').addEventListener('click', cancelReply);

/** Adds the reader's reaction, or takes it back if it is there already. */
async function toggleReaction(messageId, key) {
  const message = state.rows.get(messageId)?.messageData;
  const mine = Boolean(message && (message.reactions?.[key] || []).includes(state.session.user.id));
  await api.react(messageId, key, !mine);
}

list.addEventListener('click', guard(async (e) => {
  const row = e.target.closest('li.message[data-id]');
  if (!row) return;
  if (e.target.closest('.reaction')) await toggleReaction(row.dataset.id, e.target.closest('.reaction').dataset.key);
  else if (e.target.closest('.reply-quote')) await jumpTo(e.target.closest('.reply-quote').dataset.parentId);
  else if (e.target.closest('.thread-link')) await openThread(row.dataset.id);
}));

// The picker: the common emoji, and every shortcode by name.
const COMMON = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '🔥', '👀', '✅', '🚀', '👏'];
let pickerFor = null;

function renderPicker(filter) {
  const grid = $('emoji-grid');
  grid.replaceChildren();
  const f = filter.trim().toLowerCase().replace(/^:|:$/g, '');
  const shown = new Map();
  if (!f) for (const emoji of COMMON) shown.set(emoji, emoji);
  for (const [name, emoji] of Object.entries(SHORTCODES)) {
    if (f && name.includes(f) && !shown.has(emoji)) shown.set(emoji, `:${name}:`);
  }
  for (const [emoji, label] of shown) {
    const b = button(emoji, 'emoji-choice', guard(async () => {
      const id = pickerFor;
      closePicker();
      if (id) await toggleReaction(id, emoji);
    }));
    b.title = label;
    b.setAttribute('aria-label', `React with ${label}`);
    grid.append(b);
  }
  if (!shown.size) grid.append(Object.assign(document.createElement('p'), { textContent: 'No emoji found.' }));
}

function openPicker(anchor, messageId) {
  pickerFor = messageId;
  const picker = $('emoji-picker');
  picker.hidden = false;
  const box = anchor.getBoundingClientRect();
  picker.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - picker.offsetWidth - 8))}px`;
  picker.style.top = `${Math.max(8, box.top - picker.offsetHeight - 6)}px`;
  $('emoji-search').value = '';
  renderPicker('');
  $('emoji-search').focus();
}

function closePicker() {
  pickerFor = null;
  $('emoji-picker').hidden = true;
}

$('emoji-search').addEventListener('input', (e) => renderPicker(e.target.value));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !$('emoji-picker').hidden) closePicker();
});
document.addEventListener('click', (e) => {
  if (!$('emoji-picker').hidden && !e.target.closest('#emoji-picker') && !e.target.closest('.actions')) closePicker();
});

/** Opens the thread panel: the parent and its replies, oldest first. */
async function openThread(messageId) {
  state.threadId = messageId;
  const [parent, replies] = await Promise.all([api.message(messageId), api.replies(messageId)]);
  if (state.threadId !== messageId) return;
  const out = $('thread-list');
  out.replaceChildren();
  for (const message of [parent, ...replies.messages]) {
    state.names.set(message.author_id, message.author_name);
    const row = messageRow({ message: { ...message, reply_to: null, reply_count: 0 }, myId: state.session.user.id, names: state.names });
    out.append(row);
  }
  $('thread').hidden = false;
}

$('thread-close').addEventListener('click', () => {
  state.threadId = null;
  $('thread').hidden = true;
});

// ----- reading: day separators and runs of one author -----

/** A message continues the one above when the same person wrote it within this long. */
const RUN_GAP_MS = 5 * 60 * 1000;
let layoutQueued = false;

/** Lays the list out once per frame, however many rows arrived in it. */
function scheduleLayout() {
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
}

function onChange(change) {
  if (!state.room || change.room_id !== state.room.id) return;
  const message = ['message_posted', 'message_edited', 'message_deleted', 'reactions_changed', 'thread_updated'].includes(change.kind)
    ? change.data
    : null;
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

// ----- unread counts, the read position, presence -----

/** Tells the server (and so this user's other tabs and devices) how far the open room is read:
 * only while the tab is visible and the newest message is in view. */
function markRead() {
  if (!state.room || !state.live || document.hidden || !nearBottom()) return;
  const seq = state.live.rooms.get(state.room.id);
  if (!seq || seq <= state.readSeq) return;
  if (state.live.send({ type: 'read', room_id: state.room.id, seq })) state.readSeq = seq;
}

function onUnread(frame) {
  let unknown = false;
  for (const counts of frame.rooms) {
    const before = state.unread.get(counts.room_id);
    if (!before && state.unread.size > 0) unknown = true;
    if (before && counts.mentions > before.mentions) notifyMention(counts.room_id);
    state.unread.set(counts.room_id, counts);
  }
  for (const roomId of frame.gone) state.unread.delete(roomId);
  renderBadges();
  // A room the reader did not have a moment ago: a direct room someone opened, perhaps.
  if (unknown) guard(loadDms)();
}

/** "3", "@ 2" when someone mentioned the reader, "999+" past the server's cap (1000). */
function badgeText(counts) {
  const n = (k) => (k >= 1000 ? '999+' : String(k));
  if (!counts || counts.messages === 0) return '';
  return counts.mentions > 0 ? `@ ${n(counts.messages)}` : n(counts.messages);
}

function renderBadges() {
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
async function loadReceipts(roomId) {
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

function onReceipt(frame) {
  if (!state.room || frame.room_id !== state.room.id) return;
  state.receipts.set(frame.user_id, Math.max(frame.seq, state.receipts.get(frame.user_id) || 0));
  renderSeenBy();
}

function renderSeenBy() {
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
function watchAuthors() {
  clearTimeout(state.watchTimer);
  state.watchTimer = setTimeout(() => {
    if (state.live) state.live.watchPresence([...state.authors]);
  }, 200);
}

function onPresence(frame) {
  state.presence.set(frame.user_id, frame);
  for (const author of $('messages').querySelectorAll('.author[data-user-id]')) {
    if (author.dataset.userId === frame.user_id) showPresence(author);
  }
}

function showPresence(author) {
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

// ----- editing and deleting -----

function startEdit(messageId) {
  const row = state.rows.get(messageId);
  if (!row) return;
  const message = row.messageData;
  const body = row.querySelector('.body');
  const editor = document.createElement('form');
  editor.className = 'edit';
  const input = document.createElement('textarea');
  input.value = message.text;
  input.rows = 2;
  input.setAttribute('aria-label', 'Edit message');
  const save = button('Save');
  save.type = 'submit';
  const cancel = button('Cancel', 'link', () => placeMessage(row.messageData, true));
  editor.append(input, save, cancel);
  editor.addEventListener('submit', guard(async (e) => {
    e.preventDefault();
    const updated = await api.edit(messageId, input.value);
    placeMessage(updated, true);
  }));
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      editor.requestSubmit();
    } else if (e.key === 'Escape') {
      placeMessage(row.messageData, true);
    }
  });
  body.replaceWith(editor);
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

// ----- sending -----

const input = $('message-input');

// ----- attaching files: the button, drag and drop, and pasting -----

const uploads = new Uploads($('upload-tray'), () => {
  $('composer').querySelector('button[type="submit"]').disabled = uploads.busy();
});

function attach(files) {
  if (!state.room) return;
  for (const file of files) uploads.add(file, state.room.id);
}

$('attach').addEventListener('click', () => $('file-input').click());
$('file-input').addEventListener('change', (e) => {
  attach([...e.target.files]);
  e.target.value = '';
});
input.addEventListener('paste', (e) => {
  const files = filesOf(e.clipboardData);
  if (files.length) {
    e.preventDefault();
    attach(files);
  }
});
{
  const chat = $('chat');
  let depth = 0; // dragenter and dragleave fire for every child crossed
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  chat.addEventListener('dragenter', (e) => {
    if (!hasFiles(e) || !state.room) return;
    depth += 1;
    $('drop-hint').hidden = false;
  });
  chat.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) $('drop-hint').hidden = true;
  });
  chat.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  chat.addEventListener('drop', (e) => {
    depth = 0;
    $('drop-hint').hidden = true;
    const files = filesOf(e.dataTransfer);
    if (!files.length) return;
    e.preventDefault();
    attach(files);
  });
}

new MentionPicker(input, $('mentions'), (prefix) =>
  state.room ? api.lookupMembers(state.room.id, prefix) : Promise.resolve([]));

input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

/** Says "typing" now, or as soon as the server will take it: typing that starts right after
 * a signal (a new message just after sending one) is announced when the gap has passed,
 * rather than lost until the next keystroke after it. */
function typed() {
  if (!state.room || !input.value.trim()) return;
  const wait = state.lastTypingSent + TYPING_EVERY_MS - Date.now();
  if (wait > 0) {
    if (!state.typingTimer) {
      state.typingTimer = setTimeout(() => {
        state.typingTimer = null;
        typed();
      }, wait);
    }
    return;
  }
  if (state.live.send({ type: 'typing', room_id: state.room.id })) state.lastTypingSent = Date.now();
}

input.addEventListener('input', typed);

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = input.value;
  if (!state.room) return;
  if (uploads.busy()) {
    notice('Please wait until your files have uploaded.');
    return;
  }
  if (!text.trim() && uploads.ready().length === 0) return;
  const attachments = uploads.take();
  input.value = '';
  notice('');
  const id = crypto.randomUUID();
  const row = messageRow({
    message: {
      author_id: state.session.user.id,
      author_name: state.session.user.display_name,
      text,
      attachments,
      created_at: new Date().toISOString(),
    },
    myId: state.session.user.id,
    state: 'pending',
  });
  row.dataset.clientMsgId = id;
  row.messageData = { author_id: state.session.user.id, created_at: new Date().toISOString() };
  row.querySelector('.message-head').append(statusLabel('Sending…'));
  list.append(row);
  scheduleLayout();
  scrollToBottom();
  state.sendOrder += 1;
  const replyTo = state.replyTo ? state.replyTo.id : null;
  cancelReply();
  state.pending.set(id, { text, attachments, row, roomId: state.room.id, timer: null, sent: false, failed: false, order: state.sendOrder, replyTo });
  transmit(id);
});

function statusLabel(text) {
  const label = document.createElement('span');
  label.className = 'send-state';
  label.textContent = text;
  return label;
}

/** Sends (or re-sends) a pending message; the same client_msg_id every time. */
function transmit(id) {
  const p = state.pending.get(id);
  if (!p) return;
  clearTimeout(p.timer);
  p.failed = false;
  p.timer = setTimeout(() => fail(id), SEND_TIMEOUT_MS);
  p.sent = state.live.send({
    type: 'send',
    room_id: p.roomId,
    text: p.text,
    attachment_ids: p.attachments.map((a) => a.id),
    reply_to: p.replyTo || undefined,
    client_msg_id: id,
  });
}

function fail(id) {
  const p = state.pending.get(id);
  if (!p) return;
  p.sent = false;
  p.failed = true;
  p.row.classList.remove('pending');
  p.row.classList.add('failed');
  const label = p.row.querySelector('.send-state');
  label.textContent = 'Not sent.';
  let retry = p.row.querySelector('button.retry');
  if (!retry) {
    retry = button('Retry', 'retry', () => {
      p.row.classList.remove('failed');
      p.row.classList.add('pending');
      label.textContent = 'Sending…';
      retry.remove();
      transmit(id);
    });
    p.row.querySelector('.message-head').append(retry);
  }
}

function resolvePending(id) {
  const p = state.pending.get(id);
  if (!p) return;
  clearTimeout(p.timer);
  p.row.remove();
  state.pending.delete(id);
}

function onAck(frame) {
  if (!frame.client_msg_id) return;
  resolvePending(frame.client_msg_id);
  if (state.room && frame.message.room_id === state.room.id) {
    const stick = nearBottom();
    placeMessage(frame.message, false);
    if (stick) scrollToBottom();
  }
}

/** Puts an unsent message back into the composer (text and files), ahead of anything since. */
/** Refused sends come back to the composer in the order they were sent, before whatever has
 * been typed since. */
function restoreToComposer(p) {
  const restored = state.restored.filter((r) => input.value.startsWith(r.joined));
  const before = restored.length ? restored[restored.length - 1] : null;
  const blocks = [...(before ? before.blocks : []), { order: p.order, text: p.text }]
    .sort((a, b) => a.order - b.order);
  const joined = blocks.map((b) => b.text).join('\n');
  const draft = before ? input.value.slice(before.joined.length).replace(/^\n/, '') : input.value;
  input.value = draft ? `${joined}\n${draft}` : joined;
  state.restored = [{ blocks, joined }];
  if (p.attachments.length && state.room && state.room.id === p.roomId) uploads.restore(p.attachments);
  input.focus();
}

function onLiveError(frame) {
  const p = frame.client_msg_id ? state.pending.get(frame.client_msg_id) : null;
  if (!p) {
    if (frame.code !== 'not_found' || !frame.room_id) showError(frame.message);
    return;
  }
  if (frame.code === 'rate_limited') {
    resolvePending(frame.client_msg_id);
    restoreToComposer(p);
    countdown(frame.retry_after_ms || 1000, (secs) => `You are sending messages too fast. Please wait ${secs} s before sending again; your message is still in the box.`);
  } else if (['validation', 'forbidden', 'payload_too_large', 'not_found'].includes(frame.code)) {
    // The server will never accept this send as it is: give the text back to edit.
    resolvePending(frame.client_msg_id);
    restoreToComposer(p);
    notice(`Not sent: ${frame.message}`);
  } else {
    fail(frame.client_msg_id);
    notice(`Not sent: ${frame.message}`);
  }
}

// ----- typing -----

function onTyping(frame) {
  if (!state.room || frame.room_id !== state.room.id || frame.user_id === state.session.user.id) return;
  state.typers.set(frame.user_id, { name: frame.display_name, until: Date.now() + TYPING_SHOWN_MS });
  renderTypers();
  setTimeout(renderTypers, TYPING_SHOWN_MS + 50);
}

function renderTypers() {
  const now = Date.now();
  for (const [id, t] of state.typers) if (t.until <= now) state.typers.delete(id);
  const names = [...state.typers.values()].map((t) => t.name);
  $('typing').textContent =
    names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}

// ----- search -----

$('search').addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  const query = e.target.q.value.trim();
  if (!query) return;
  const scope = e.target.scope.value === 'room' && state.room ? state.room.id : null;
  const results = await api.search(query, scope);
  const out = $('search-list');
  out.replaceChildren();
  if (results.length === 0) {
    const none = document.createElement('li');
    none.textContent = 'No messages found.';
    out.append(none);
  }
  for (const hit of results) {
    const { message } = hit;
    const item = document.createElement('li');
    const head = document.createElement('div');
    head.className = 'message-head';
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = message.author_name;
    const room = document.createElement('span');
    room.className = 'room-name';
    room.textContent = `# ${hit.room_name}`;
    const time = document.createElement('time');
    time.textContent = formatTime(message.created_at);
    head.append(author, room, time);
    // The snippet: the matching words marked, everything as text.
    const body = document.createElement('div');
    for (const part of hit.snippet) {
      const node = document.createElement(part.highlight ? 'mark' : 'span');
      node.textContent = part.text;
      body.append(node);
    }
    // The whole result opens the message in its room, in context.
    const open = button('', 'search-hit', guard(() => openInContext(message)));
    open.append(head, body);
    item.append(open);
    out.append(item);
  }
  $('search-results').hidden = false;
}));

/** Opens a message's room (switching event if need be) and brings the message into view. */
async function openInContext(message) {
  $('search-results').hidden = true;
  if (state.room && state.room.id === message.room_id) {
    await jumpTo(message.id);
    return;
  }
  const { room } = await api.room(message.room_id);
  state.pendingJump = message.id;
  if (room.kind !== 'direct' && room.event_id !== state.eventId) {
    state.eventId = room.event_id;
    for (const b of $('events').querySelectorAll('button')) b.classList.toggle('selected', b.dataset.eventId === room.event_id);
    renderRooms(await api.rooms(room.event_id));
    $('rooms-section').hidden = false;
  }
  openRoom(room);
}

$('search-close').addEventListener('click', () => {
  $('search-results').hidden = true;
});

// ----- boot -----

setAuthMode(false);
const saved = sessionStorage.getItem(SESSION_KEY);
if (saved) {
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
