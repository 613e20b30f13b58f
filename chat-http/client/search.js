// Search over every room (or the open one), with results that open the message in its
// room.

import { api } from './api.js';
import { formatTime } from './render.js';
import { $, state, button, guard } from './ui.js';
import { jumpTo } from './conversation.js';
import { openRoom, renderRooms } from './app.js';

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
