// The signed-in person's own picture: the top bar's button shows it (or initials) and opens a
// small dialog to choose a new one or remove it. The server redraws what it is given, so
// whatever is chosen here, only its pixels are ever shown to others.

import { apiUrl, authHeaders, ApiError } from './api.js';
import { avatar } from './render.js';
import { $, state, describe } from './ui.js';

const SESSION_KEY = 'chat-engine.session';

/** Shows the person in the top bar: picture or initials, and the name (hidden on a phone). */
export function renderMe() {
  const me = state.session && state.session.user;
  const whoami = $('whoami');
  whoami.hidden = !me;
  if (!me) return;
  // The name is the button's name; on a phone it is read but not shown.
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = me.display_name;
  const purpose = document.createElement('span');
  purpose.className = 'sr';
  purpose.textContent = ': your picture';
  whoami.replaceChildren(avatar(me.display_name, me.id, me.avatar_url), name, purpose);
  $('profile-avatar').replaceChildren(avatar(me.display_name, me.id, me.avatar_url));
  $('avatar-remove').disabled = !me.avatar_url;
}

function remember(user) {
  state.session.user = user;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  renderMe();
}

function note(text, failed = false) {
  $('profile-note').textContent = text;
  $('profile-note').classList.toggle('failed', failed);
}

export function openProfile() {
  $('profile').hidden = false;
  $('whoami').setAttribute('aria-expanded', 'true');
  note('');
  $('avatar-choose').focus();
}

export function closeProfile() {
  if ($('profile').hidden) return;
  $('profile').hidden = true;
  $('whoami').setAttribute('aria-expanded', 'false');
  $('whoami').focus();
}

/** Sends the picture as the request body; the answer is the profile that names it. */
async function upload(file) {
  let response;
  try {
    response = await fetch(apiUrl('/me/avatar'), {
      method: 'PUT',
      headers: { ...authHeaders(), 'Content-Type': file.type || 'application/octet-stream' },
      body: file,
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: 'cannot reach the server' } });
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

$('whoami').addEventListener('click', () => ($('profile').hidden ? openProfile() : closeProfile()));
$('profile-close').addEventListener('click', closeProfile);
$('profile').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    e.stopPropagation();
    closeProfile();
  }
});
$('avatar-choose').addEventListener('click', () => $('avatar-input').click());
$('avatar-input').addEventListener('change', async (e) => {
  const [file] = e.target.files;
  e.target.value = '';
  if (!file) return;
  note('Uploading…');
  try {
    remember(await upload(file));
    note('Your picture is set. New messages show it.');
  } catch (err) {
    note(describe(err), true);
  }
});
$('avatar-remove').addEventListener('click', async () => {
  const response = await fetch(apiUrl('/me/avatar'), { method: 'DELETE', headers: authHeaders() })
    .catch(() => null);
  if (!response || !response.ok) {
    note('The picture could not be removed. Try again.', true);
    return;
  }
  remember(await response.json());
  note('Your picture is removed.');
});
