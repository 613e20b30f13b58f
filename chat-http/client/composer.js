// The composer: sending (with the same client_msg_id on every retry), attaching files,
// refused messages back in order, and typing signals.

import { messageRow } from './render.js';
import { MentionPicker, PillBox } from './mentions.js';
import { Uploads, filesOf } from './attachments.js';
import { api } from './api.js';
import { $, state, button, countdown, notice, showError } from './ui.js';
import { cancelReply } from './conversation.js';
import { nearBottom, placeMessage, scheduleLayout, scrollToBottom } from './app.js';

// How long a send may go unanswered before it is shown as failed, with a retry button.
const SEND_TIMEOUT_MS = 8000;
// The server passes one typing signal per 2 s per user and room (chat-core's TypingThrottle),
// timed when each arrives. A little more than that apart, a signal is not dropped even when
// the one before it took longer on the way.
const TYPING_EVERY_MS = 2300;
const TYPING_SHOWN_MS = 4000;

const list = $('messages');

const input = $('message-input');

// ----- attaching files: the button, drag and drop, and pasting -----

export const uploads = new Uploads($('upload-tray'), () => {
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

/** The composer's text, with mentions as pills. */
export const pills = new PillBox(input);

new MentionPicker(pills, $('mentions'), (prefix) =>
  state.room ? api.lookupMembers(state.room.id, prefix) : Promise.resolve([]));

input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('composer').requestSubmit();
  } else if (e.key === 'Escape' && state.replyTo) {
    e.preventDefault();
    cancelReply();
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
  const text = pills.encode();
  if (!state.room) return;
  if (uploads.busy()) {
    notice('Please wait until your files have uploaded.');
    return;
  }
  if (!text.trim() && uploads.ready().length === 0) return;
  const attachments = uploads.take();
  pills.clear();
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
export function transmit(id) {
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

export function resolvePending(id) {
  const p = state.pending.get(id);
  if (!p) return;
  clearTimeout(p.timer);
  p.row.remove();
  state.pending.delete(id);
}

export function onAck(frame) {
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
  // As the box shows them: mentions as pills (the draft's own pills are kept).
  const joined = blocks.map((b) => pills.decode(b.text)).join('\n');
  const draft = before ? input.value.slice(before.joined.length).replace(/^\n/, '') : input.value;
  input.value = draft ? `${joined}\n${draft}` : joined;
  pills.render();
  state.restored = [{ blocks, joined }];
  if (p.attachments.length && state.room && state.room.id === p.roomId) uploads.restore(p.attachments);
  input.focus();
}

export function onLiveError(frame) {
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

export function onTyping(frame) {
  if (!state.room || frame.room_id !== state.room.id || frame.user_id === state.session.user.id) return;
  state.typers.set(frame.user_id, { name: frame.display_name, until: Date.now() + TYPING_SHOWN_MS });
  renderTypers();
  setTimeout(renderTypers, TYPING_SHOWN_MS + 50);
}

export function renderTypers() {
  const now = Date.now();
  for (const [id, t] of state.typers) if (t.until <= now) state.typers.delete(id);
  const names = [...state.typers.values()].map((t) => t.name);
  $('typing').textContent =
    names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
}
