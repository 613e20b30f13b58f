// Replies, reactions and threads: the reply quote that jumps to its parent, the emoji
// picker, and the thread panel.

import { api } from './api.js';
import { messageRow } from './render.js';
import { SHORTCODES, plainText } from './markup.js';
import { $, state, button, guard } from './ui.js';
import { placeMessage } from './app.js';

const list = $('messages');
const input = $('message-input');

/** A message's first words as plain text (markup and mention tokens as they read). */
function snippet(text, max = 80) {
  const plain = plainText(text);
  return plain.length > max ? `${plain.slice(0, max - 1)}…` : plain;
}

/** Fills a row's reply quote with its parent's author and first words. */
export function fillQuote(row) {
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
export async function jumpTo(messageId) {
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

export function startReply(message) {
  state.replyTo = message;
  $('replying-text').textContent = `Replying to ${message.author_name}: ${snippet(message.text || '(attachment)', 60)}`;
  $('replying').hidden = false;
  input.focus();
}

export function cancelReply() {
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
let pickerAnchor = null; // where focus goes back to when the picker closes

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

export function openPicker(anchor, messageId) {
  pickerFor = messageId;
  pickerAnchor = anchor;
  const picker = $('emoji-picker');
  picker.hidden = false;
  const box = anchor.getBoundingClientRect();
  picker.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - picker.offsetWidth - 8))}px`;
  picker.style.top = `${Math.max(8, box.top - picker.offsetHeight - 6)}px`;
  $('emoji-search').value = '';
  renderPicker('');
  $('emoji-search').focus();
}

export function closePicker() {
  const hadFocus = $('emoji-picker').contains(document.activeElement);
  pickerFor = null;
  $('emoji-picker').hidden = true;
  if (hadFocus && pickerAnchor && pickerAnchor.isConnected) {
    // The actions show while their message has focus: focus it first, then the button.
    pickerAnchor.closest('li.message')?.focus({ preventScroll: true });
    pickerAnchor.focus();
  }
  pickerAnchor = null;
}

$('emoji-search').addEventListener('input', (e) => renderPicker(e.target.value));
// Arrows move through the grid (six to a row); Down from the search enters it.
$('emoji-picker').addEventListener('keydown', (e) => {
  const choices = [...$('emoji-grid').querySelectorAll('button')];
  const at = choices.indexOf(document.activeElement);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 6, ArrowUp: -6 }[e.key];
  if (e.key === 'Escape') {
    e.preventDefault();
    e.stopPropagation();
    closePicker();
  } else if (step && at === -1 && e.key === 'ArrowDown' && choices.length) {
    e.preventDefault();
    choices[0].focus();
  } else if (step && at !== -1) {
    e.preventDefault();
    const next = at + step;
    if (next < 0) $('emoji-search').focus();
    else choices[Math.min(next, choices.length - 1)].focus();
  }
});
document.addEventListener('click', (e) => {
  if (!$('emoji-picker').hidden && !e.target.closest('#emoji-picker') && !e.target.closest('.actions')) closePicker();
});

/** Opens the thread panel: the parent and its replies, oldest first. */
export async function openThread(messageId) {
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
