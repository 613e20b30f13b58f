import { renderAttachments } from './attachments.js';
import { renderText } from './markup.js';
import { isPoll, renderPoll } from './polls.js';

// Turning messages into DOM. User text only ever becomes text nodes (textContent), never
// HTML: a message like <img src=x onerror=alert(1)> shows as exactly those characters. The
// markdown subset is markup.js's.

export function mentionToken(name, userId) {
  return `@[${name.replace(/[\\\[\]]/g, (c) => `\\${c}`)}](${userId})`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });

/** The calendar day of a timestamp, in the reader's time zone: "2026-11-26". */
export function dayKey(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** A day as a separator says it: "Today", "Yesterday", or the date. */
export function dayLabel(iso) {
  const d = new Date(iso);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(iso) === dayKey(today.toISOString())) return 'Today';
  if (dayKey(iso) === dayKey(yesterday.toISOString())) return 'Yesterday';
  return dayFormat.format(d);
}

/** Up to two initials of a display name, for an avatar without a picture. */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0] || '?'];
  return letters.map((w) => [...w][0].toUpperCase()).join('');
}

/** An avatar: the picture when it is on this server (the page's content security policy
 * loads no image from elsewhere, so no avatar URL can track who reads), else initials on a
 * colour chosen by the user id, so the same person always looks the same. */
export function avatar(name, userId, url) {
  const node = el('span', 'avatar');
  node.setAttribute('aria-hidden', 'true');
  if (url && url.startsWith('/') && !url.startsWith('//')) {
    const img = document.createElement('img');
    img.src = url;
    img.alt = '';
    img.referrerPolicy = 'no-referrer';
    node.append(img);
  } else {
    node.textContent = initials(name);
    let hash = 0;
    for (const c of String(userId || name)) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
    node.dataset.hue = String(hash % 8);
  }
  return node;
}

export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/**
 * A message row. `actions` are { label, run } buttons (edit and delete for one's own).
 * `state` is '' for a stored message, 'pending' or 'failed' for one still being sent.
 */
export function messageRow({ message, myId, state = '', actions = [], names = new Map(), canClosePoll = false }) {
  const row = el('li', `message${message.author_id === myId ? ' mine' : ''}${state ? ` ${state}` : ''}`);
  if (message.id) row.dataset.id = message.id;
  if (message.seq) row.dataset.seq = String(message.seq);
  row.append(avatar(message.author_name, message.author_id, message.author_avatar));
  const head = el('div', 'message-head');
  head.append(el('span', 'author', message.author_name));
  if (message.is_ai_generated) {
    // Written by a bot or a model: said so beside the name, as Slack's APP tag does.
    const badge = el('span', 'bot-badge', 'BOT');
    badge.title = 'Written by a bot or an AI model';
    head.append(badge);
  }
  head.append(el('time', 'time', formatTime(message.created_at)));
  if (message.is_edited && !message.is_deleted) head.append(el('span', 'edited', '(edited)'));
  row.append(head);
  if (message.reply_to && !message.is_deleted) {
    // Filled in by the caller once the parent is known; a button, so it can jump there.
    const quote = el('button', 'reply-quote', 'Replying to a message');
    quote.type = 'button';
    quote.dataset.parentId = message.reply_to;
    row.append(quote);
  }
  const body = el('div', 'body');
  if (message.is_deleted) {
    body.classList.add('deleted');
    body.textContent = 'This message was deleted.';
  } else {
    body.append(renderText(message.text, myId));
  }
  row.append(body);
  if (isPoll(message)) row.append(renderPoll(message, myId, canClosePoll));
  if (!message.is_deleted && message.attachments && message.attachments.length) {
    row.append(renderAttachments(message.attachments));
  }
  const reactions = Object.entries(message.reactions || {}).filter(([, users]) => users.length);
  if (!message.is_deleted && reactions.length) {
    const bar = el('div', 'reactions');
    for (const [key, users] of reactions) {
      const chip = el('button', 'reaction', `${key} ${users.length}`);
      chip.type = 'button';
      chip.dataset.key = key;
      chip.setAttribute('aria-pressed', String(users.includes(myId)));
      const who = users.map((u) => (u === myId ? 'you' : names.get(u) || 'someone'));
      // The title says who; the name stays what is shown ("👍 2"), as speech input expects.
      chip.title = `${who.join(', ')} reacted with ${key}`;
      bar.append(chip);
    }
    row.append(bar);
  }
  if (!message.is_deleted && message.reply_count > 0) {
    const thread = el('button', 'thread-link link', `${message.reply_count} ${message.reply_count === 1 ? 'reply' : 'replies'}`);
    thread.type = 'button';
    row.append(thread);
  }
  if (actions.length) {
    const bar = el('div', 'actions');
    for (const action of actions) {
      const button = el('button', 'link', action.label);
      button.type = 'button';
      button.addEventListener('click', action.run);
      bar.append(button);
    }
    row.append(bar);
  }
  return row;
}
