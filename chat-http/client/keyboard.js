// Keyboard navigation beyond the Tab order, as in Slack and Element:
//
// - ↑ and ↓ (Home, End) move through the lists of events, rooms and direct messages, and
//   through the messages; a message list is one Tab stop that remembers the message last
//   focused;
// - Enter on a message moves into it (a poll's options, then its actions); Escape from a
//   message returns to the composer;
// - ↑ in an empty composer edits your last message;
// - Alt+↑ and Alt+↓ open the previous and next room, from anywhere;
// - Escape closes what is open on top: search results, the members panel, the thread.
//
// The emoji picker and the mention list handle their own arrows.

import { $, state } from './ui.js';
import { startEdit } from './app.js';
import { closeMembers } from './members.js';

const list = $('messages');
const input = $('message-input');

/** Moves focus within `items` from `current` by the key pressed; true when it handled it. */
function move(items, current, key) {
  const at = items.indexOf(current);
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[key];
  if (to === undefined || at === -1) return false;
  const target = items[Math.max(0, Math.min(to, items.length - 1))];
  if (target) target.focus();
  return true;
}

// ----- the sidebar's lists -----

document.querySelector('.sidebar').addEventListener('keydown', (e) => {
  const own = e.target.closest('.list');
  if (!own || e.altKey || e.ctrlKey || e.metaKey) return;
  const items = [...own.querySelectorAll('button:not(:disabled)')];
  if (move(items, e.target, e.key)) e.preventDefault();
});

// ----- the messages: one Tab stop, arrows within -----

function rows() {
  return [...list.querySelectorAll('li.message[data-id]')];
}

/** Keeps exactly one message in the Tab order: the one last focused, else the newest. */
export function keepTabStop() {
  const all = rows();
  let stop = all.find((r) => r.tabIndex === 0);
  if (!stop) stop = all[all.length - 1];
  for (const row of all) row.tabIndex = row === stop ? 0 : -1;
}

list.addEventListener('focusin', (e) => {
  const row = e.target.closest('li.message[data-id]');
  if (!row) return;
  for (const other of rows()) other.tabIndex = other === row ? 0 : -1;
});

list.addEventListener('keydown', (e) => {
  const row = e.target.closest('li.message[data-id]');
  if (!row || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === 'Escape') {
    e.preventDefault();
    input.focus();
    return;
  }
  if (e.target !== row) return; // keys inside an action or a link are theirs
  if (e.key === 'Enter') {
    // A poll's options come first (in document order), then the message's actions.
    const first = row.querySelector('.poll-option:not(:disabled), .actions button');
    if (first) {
      e.preventDefault();
      first.focus();
    }
    return;
  }
  if (move(rows(), row, e.key)) {
    e.preventDefault();
    document.activeElement.scrollIntoView({ block: 'nearest' });
  }
});

// ----- the composer -----

input.addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowUp' || input.value !== '' || e.altKey || e.shiftKey || e.ctrlKey || e.metaKey) return;
  const mine = [...list.querySelectorAll('li.message.mine[data-id]')]
    .filter((r) => r.messageData && !r.messageData.is_deleted)
    .pop();
  if (!mine) return;
  e.preventDefault();
  startEdit(mine.dataset.id);
});

// ----- anywhere -----

/** The rooms the reader can open, in the order the sidebar shows them. */
function roomButtons() {
  return [...document.querySelectorAll('#rooms button.item:not(:disabled), #dms button.item')];
}

document.addEventListener('keydown', (e) => {
  if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    const all = roomButtons();
    if (!all.length) return;
    e.preventDefault();
    const at = all.findIndex((b) => state.room && b.dataset.roomId === state.room.id);
    const step = e.key === 'ArrowDown' ? 1 : -1;
    const next = all[at === -1 ? 0 : (at + step + all.length) % all.length];
    next.click();
    return;
  }
  if (e.key !== 'Escape' || e.defaultPrevented) return;
  // The composer's own Escape (the mention list, a reply) comes first.
  if (e.target === input && (!$('mentions').hidden || state.replyTo)) return;
  if (!$('search-results').hidden) {
    $('search-results').hidden = true;
    $('search').elements.q.focus();
  } else if (!$('members').hidden) {
    closeMembers();
    $('members-button').focus();
  } else if (!$('thread').hidden) {
    $('thread-close').click();
    input.focus();
  }
});
