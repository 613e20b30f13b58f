// REST calls to the API with the session's bearer token. Every failure becomes an ApiError with
// the server's stable code, so callers can react to `rate_limited` or `unauthenticated`
// without parsing messages.

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || (status === 0 ? 'network' : 'unknown');
    this.field = error.field;
    this.retryAfterMs = error.retry_after_ms;
  }
}

/** Where the API is: `v1/` beside the page, so a client served at `/chat/` talks to
 * `/chat/v1/…`. Hosts that mount the router under a prefix need nothing else. */
const API_ROOT = new URL('v1', document.baseURI).href;

/** The absolute URL of an API path such as `/rooms`. */
export function apiUrl(path) {
  return `${API_ROOT}${path}`;
}

let token = null;
let ambient = false;
let onUnauthenticated = () => {};

export function setToken(value) {
  token = value;
}

/** The host's cookie session signs every request in; there is no token. */
export function setAmbientSession(on) {
  ambient = on;
}

/** The Authorization header of the session, for requests made outside `call` (uploads). */
export function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Called when the server says the token is no longer valid (expired, or a new secret). */
export function whenUnauthenticated(callback) {
  onUnauthenticated = callback;
}

export async function call(method, path, body) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: 'cannot reach the server' } });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch (e) {
    parsed = null;
  }
  if (!response.ok) {
    const err = new ApiError(response.status, parsed);
    if (response.status === 401 && (token || ambient) && !path.startsWith('/auth/')) onUnauthenticated(err);
    throw err;
  }
  return parsed;
}

const q = encodeURIComponent;

export const api = {
  signIn: (email, password) => call('POST', '/auth/sign-in', { email, password }),
  signUp: (email, password, display_name) => call('POST', '/auth/sign-up', { email, password, display_name }),
  me: () => call('GET', '/me'),
  events: () => call('GET', '/events'),
  createEvent: (name) => call('POST', '/events', { name, kind: 'party' }),
  rooms: (eventId) => call('GET', eventId ? `/rooms?event_id=${q(eventId)}` : '/rooms'),
  room: (roomId) => call('GET', `/rooms/${q(roomId)}`),
  receipts: (roomId) => call('GET', `/rooms/${q(roomId)}/receipts`),
  members: (roomId) => call('GET', `/rooms/${q(roomId)}/members`),
  eventMembers: (eventId) => call('GET', `/events/${q(eventId)}/members`),
  invite: (roomId, userId) => call('POST', `/rooms/${q(roomId)}/members`, { user_id: userId }),
  moderate: (roomId, userId, patch) => call('PATCH', `/rooms/${q(roomId)}/members/${q(userId)}`, patch),
  addToEvent: (eventId, email) => call('POST', `/events/${q(eventId)}/invitations`, { email }),
  user: (userId) => call('GET', `/users/${q(userId)}`),
  openDm: (userIds) => call('POST', '/dms', { user_ids: userIds }),
  createRoom: (eventId, name, visibility = 'public') => call('POST', `/events/${q(eventId)}/rooms`, { name, kind: 'topic', visibility }),
  joinRoom: (roomId) => call('POST', `/rooms/${q(roomId)}/join`),
  history: (roomId, beforeSeq) =>
    call('GET', `/rooms/${q(roomId)}/messages?limit=50${beforeSeq ? `&before=${beforeSeq}` : ''}`),
  lookupMembers: (roomId, prefix) =>
    call('GET', `/rooms/${q(roomId)}/members/lookup?prefix=${q(prefix)}&limit=8`),
  edit: (messageId, text) => call('PATCH', `/messages/${q(messageId)}`, { text }),
  remove: (messageId) => call('DELETE', `/messages/${q(messageId)}`),
  react: (messageId, key, on) => call(on ? 'PUT' : 'DELETE', `/messages/${q(messageId)}/reactions/${q(key)}`),
  vote: (messageId, option) => (option === null
    ? call('DELETE', `/messages/${q(messageId)}/poll/vote`)
    : call('PUT', `/messages/${q(messageId)}/poll/vote`, { option })),
  closePoll: (messageId) => call('POST', `/messages/${q(messageId)}/poll/close`),
  sendPoll: (roomId, question, options, clientMsgId) => call('POST', `/rooms/${q(roomId)}/messages`, {
    text: question, payload: { kind: 'poll', data: { options } }, client_msg_id: clientMsgId,
  }),
  message: (messageId) => call('GET', `/messages/${q(messageId)}`),
  replies: (messageId) => call('GET', `/messages/${q(messageId)}/replies?limit=100`),
  search: (query, roomId) => call('GET', `/search?q=${q(query)}${roomId ? `&room_id=${q(roomId)}` : ''}&limit=30`),
};
