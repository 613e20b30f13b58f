// The members panel of the open room: who is in it, with presence, roles, mutes and bans.
// Moderators (and the event's owner and admins) invite event members, change roles, mute and
// ban here; owners and admins also add people to the event by email. The server decides what
// is allowed: the panel only offers what the reader's standing suggests, and shows refusals.

import { api } from './api.js';
import { avatar } from './render.js';
import { $, state, button, guard } from './ui.js';
import { showPresence, watchAuthors } from './reading.js';

const panel = $('members');
const toggle = $('members-button');
const MUTE_MS = 60 * 60 * 1000;

/** Opens the panel (or closes it when open). */
export async function toggleMembers() {
  if (!panel.hidden) {
    closeMembers();
    return;
  }
  panel.hidden = false;
  toggle.setAttribute('aria-expanded', 'true');
  await renderMembers();
  $('members-close').focus();
}

export function closeMembers() {
  const wasOpen = !panel.hidden;
  panel.hidden = true;
  toggle.setAttribute('aria-expanded', 'false');
  if (wasOpen && document.activeElement === document.body) toggle.focus();
}

let refreshQueued = null;

/** Memberships change live (joins, leaves, roles, mutes, bans): the open panel follows. */
export function onMemberChange(change) {
  if (panel.hidden || !['member_joined', 'member_updated', 'member_left'].includes(change.kind)) return;
  clearTimeout(refreshQueued);
  refreshQueued = setTimeout(guard(renderMembers), 100);
}

async function nameOf(userId) {
  if (!state.names.has(userId)) state.names.set(userId, (await api.user(userId)).display_name);
  return state.names.get(userId);
}

/** What the reader may do here, as far as the client can tell. */
export async function standing(room) {
  const eventRole = room.kind === 'direct' ? null : state.eventRoles.get(room.event_id);
  const eventAdmin = eventRole === 'owner' || eventRole === 'admin';
  const { membership } = await api.room(room.id);
  const moderator = room.kind !== 'direct' && (eventAdmin || membership?.role === 'moderator');
  return { eventAdmin, moderator };
}

async function renderMembers() {
  const room = state.room;
  if (!room || panel.hidden) return;
  const [members, rights] = await Promise.all([api.members(room.id), standing(room)]);
  if (state.room !== room) return;
  await Promise.all(members.map((m) => nameOf(m.user_id)));
  const me = state.session.user.id;
  const items = members.map((m) => memberItem(m, m.user_id !== me && rights.moderator));
  $('members-list').replaceChildren(...items);
  $('members-count').textContent = `${members.length}`;

  // Invite: event members who are not in the room yet.
  $('invite-form').hidden = !rights.moderator;
  if (rights.moderator) {
    const inside = new Set(members.map((m) => m.user_id));
    const outside = (await api.eventMembers(room.event_id)).filter((m) => !inside.has(m.user_id));
    const options = await Promise.all(outside.map(async (m) => {
      const option = document.createElement('option');
      option.value = m.user_id;
      option.textContent = await nameOf(m.user_id);
      return option;
    }));
    const select = $('invite-form').elements.user;
    select.replaceChildren(...options);
    select.disabled = options.length === 0;
    $('invite-form').querySelector('button').disabled = options.length === 0;
    if (!options.length) select.append(Object.assign(document.createElement('option'), { textContent: 'Everyone is here' }));
  }
  $('add-form').hidden = !rights.eventAdmin;
  // Their presence dots, followed like the authors of the open room.
  for (const who of $('members-list').querySelectorAll('.author[data-user-id]')) showPresence(who);
  for (const m of members) if (m.user_id !== me) state.authors.add(m.user_id);
  watchAuthors();
}

function memberItem(member, canModerate) {
  const item = document.createElement('li');
  item.className = 'member';
  item.dataset.userId = member.user_id;
  const name = state.names.get(member.user_id);
  const who = document.createElement('span');
  who.className = 'author';
  if (member.user_id === state.session.user.id) {
    // The reader is here, so online: no need to ask the server.
    who.dataset.presence = 'online';
    who.textContent = `${name} (you)`;
  } else {
    who.dataset.userId = member.user_id;
    who.textContent = name;
  }
  const facts = [];
  if (member.role === 'moderator') facts.push('Moderator');
  const muted = member.muted_until && new Date(member.muted_until) > new Date();
  if (muted) facts.push(`Muted until ${new Date(member.muted_until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`);
  if (member.banned) facts.push('Banned');
  const about = document.createElement('span');
  about.className = 'member-facts';
  about.textContent = facts.join(' · ');
  item.append(avatar(name, member.user_id), who, about);
  if (canModerate) {
    const actions = document.createElement('span');
    actions.className = 'member-actions';
    const act = (label, patch) => {
      const b = button(label, null, guard(async () => {
        await api.moderate(state.room.id, member.user_id, patch);
        await renderMembers();
      }));
      b.setAttribute('aria-label', `${label}: ${name}`);
      return b;
    };
    if (!member.banned) {
      actions.append(member.role === 'moderator'
        ? act('Make member', { role: 'member' })
        : act('Make moderator', { role: 'moderator' }));
      actions.append(muted
        ? act('Unmute', { muted_until: null })
        : act('Mute 1 h', { muted_until: new Date(Date.now() + MUTE_MS).toISOString() }));
    }
    actions.append(member.banned ? act('Unban', { banned: false }) : act('Ban', { banned: true }));
    item.append(actions);
  }
  return item;
}

toggle.addEventListener('click', guard(toggleMembers));
$('members-close').addEventListener('click', closeMembers);

$('invite-form').addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  const userId = e.target.elements.user.value;
  if (!userId || !state.room) return;
  await api.invite(state.room.id, userId);
  $('members-note').textContent = `${state.names.get(userId)} was invited.`;
  await renderMembers();
}));

$('add-form').addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  const email = e.target.elements.email.value.trim();
  if (!email || !state.room) return;
  const added = await api.addToEvent(state.room.event_id, email);
  e.target.reset();
  $('members-note').textContent = `${await nameOf(added.user_id)} was added to the event.`;
  await renderMembers();
}));
