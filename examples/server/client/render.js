import { renderAttachments } from './attachments.js';

// Turning messages into DOM. User text only ever becomes text nodes (textContent), never
// HTML: a message like <img src=x onerror=alert(1)> shows as exactly those characters.

// `@[Name](uuid)`, where the name escapes `[`, `]` and `\` with a backslash (chat-core's
// mention syntax).
const MENTION = /@\[((?:\\.|[^\\\[\]])+)\]\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)/g;

export function mentionToken(name, userId) {
  return `@[${name.replace(/[\\\[\]]/g, (c) => `\\${c}`)}](${userId})`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Message text as nodes: plain runs as text, mentions as highlighted spans. */
export function renderText(text, myId) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    if (match.index > last) fragment.append(document.createTextNode(text.slice(last, match.index)));
    const name = match[1].replace(/\\(.)/g, '$1');
    const mention = el('span', match[2] === myId ? 'mention me' : 'mention', `@${name}`);
    mention.dataset.userId = match[2];
    fragment.append(mention);
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/**
 * A message row. `actions` are { label, run } buttons (edit and delete for one's own).
 * `state` is '' for a stored message, 'pending' or 'failed' for one still being sent.
 */
export function messageRow({ message, myId, state = '', actions = [] }) {
  const row = el('li', `message${message.author_id === myId ? ' mine' : ''}${state ? ` ${state}` : ''}`);
  if (message.id) row.dataset.id = message.id;
  if (message.seq) row.dataset.seq = String(message.seq);
  const head = el('div', 'message-head');
  head.append(el('span', 'author', message.author_name));
  head.append(el('time', 'time', formatTime(message.created_at)));
  if (message.is_edited && !message.is_deleted) head.append(el('span', 'edited', '(edited)'));
  row.append(head);
  const body = el('div', 'body');
  if (message.is_deleted) {
    body.classList.add('deleted');
    body.textContent = 'This message was deleted.';
  } else {
    body.append(renderText(message.text, myId));
  }
  row.append(body);
  if (!message.is_deleted && message.attachments && message.attachments.length) {
    row.append(renderAttachments(message.attachments));
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
