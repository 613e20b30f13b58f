// What every part of the client shares: the state of the session and the open room, and
// the ways to show errors and notices. Errors are shown, never a blank page.

import { ApiError } from './api.js';

export const $ = (id) => document.getElementById(id);

export const state = {
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
  newSince: null,
  eventRoles: new Map(), // event id → the reader's role in it
  moderates: false, // whether the reader moderates the open room (closes others' polls)
  unreadKnown: false, // whether the first unread counts of this session have arrived // the open room's read position when it was opened: the "new messages" line
};

export function showError(message) {
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
  password: 'The password', file_name: 'The file name', q: 'The search', option: 'That option',
  body: 'The file', 'payload.data.options': 'The options', 'payload.data.options[]': 'An option',
};

export function describe(err) {
  if (err instanceof ApiError) {
    if (err.code === 'rate_limited') return `Too many attempts. Please wait ${Math.ceil((err.retryAfterMs || 1000) / 1000)} s.`;
    if (err.code === 'validation') {
      // `options[2]` reads as any option: the index is for programs.
      const what = FIELD_TEXT[(err.field || '').replace(/\[\d+\]$/, '[]')] || 'Something you entered';
      // The server's message is "invalid <field>: <reason>"; the field is said in words above.
      return `${what} can't be used: ${err.message.replace(/^invalid [^:]*: /, '')}.`;
    }
    if (err.code === 'conflict' && /name/.test(err.message)) return 'That name is already taken here. Please choose another.';
    return ERROR_TEXT[err.code] || err.message;
  }
  return `Unexpected error: ${err && err.message ? err.message : String(err)}`;
}

/** Wraps an event handler so that any failure is shown instead of lost. */
export function guard(fn) {
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

export function notice(text) {
  clearInterval(state.countdown);
  $('notice').textContent = text;
}

/** A notice that counts down the seconds of a wait (rate limit, slow mode), then clears. */
export function countdown(ms, text) {
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

/** A `type="button"` button; user-supplied labels go in as text. */
export function button(text, className, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  if (className) b.className = className;
  b.textContent = text;
  if (onClick) b.addEventListener('click', onClick);
  return b;
}
