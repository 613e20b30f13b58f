// A client generated from chat-engine's OpenAPI document (openapi-typescript's types,
// openapi-fetch's calls), driven through what an app does: sign in, find its room, send
// (retry-safe), read history and the change log, upload a file and attach it, and set a
// profile picture. `tsc --noEmit` checks every call against the generated types first, so a
// route, field or type the document lost fails before anything runs; then each step checks
// what the server answered, and any failure exits non-zero.
//
//   npx tsx scenario.ts http://127.0.0.1:3000 user1@example.com PASSWORD

import createClient from 'openapi-fetch';
import type { components, paths } from './generated/api.js';

type Schemas = components['schemas'];

const [url, email, password] = process.argv.slice(2);

// A 1×1 PNG: small enough to inline, a real image for the server's decoder.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

function check<T>(step: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${step}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

/** Bytes as they are, with the type the file has. */
function bytes(contentType: string) {
  return {
    bodySerializer: (body: unknown) => body as BodyInit,
    headers: { 'Content-Type': contentType },
  };
}

const anonymous = createClient<paths>({ baseUrl: url });
const session: Schemas['Session'] = check(
  'sign in',
  await anonymous.POST('/v1/auth/sign-in', { body: { email, password } }),
);
const api = createClient<paths>({ baseUrl: url, headers: { Authorization: `Bearer ${session.token}` } });

const me: Schemas['User'] = check('get me', await api.GET('/v1/me'));
assert(me.id === session.user.id, 'the session is for its user');

const events = check('events', await api.GET('/v1/events'));
assert(events.length > 0, 'the demo user is in an event');
const rooms = check('rooms', await api.GET('/v1/rooms', { params: { query: { event_id: events[0].event.id } } }));
const main = rooms.find((r) => r.room.name === 'Main');
assert(main, 'the event has a Main room');
const room = { params: { path: { room_id: main.room.id } } };

const send: Schemas['SendMessage'] = {
  text: 'hello from a generated TypeScript client',
  client_msg_id: `ts-${crypto.randomUUID()}`,
};
const sent: Schemas['Sent'] = check('send', await api.POST('/v1/rooms/{room_id}/messages', { ...room, body: send }));
assert(sent.message.text === send.text && !sent.replayed, 'sent as written');
const again = check('resend', await api.POST('/v1/rooms/{room_id}/messages', { ...room, body: send }));
assert(again.replayed && again.message.id === sent.message.id, 'a retry stores nothing new');

const page: Schemas['HistoryPage'] = check(
  'history',
  await api.GET('/v1/rooms/{room_id}/messages', { params: { ...room.params, query: { limit: 20 } } }),
);
assert(page.messages.some((m) => m.id === sent.message.id), 'history holds the message');
const log: Schemas['ChangePage'] = check(
  'changes',
  await api.GET('/v1/rooms/{room_id}/changes', {
    params: { ...room.params, query: { after: sent.message.seq - 1, limit: 10 } },
  }),
);
const posted = log.changes.find((c) => c.kind === 'message_posted');
assert(posted && posted.kind === 'message_posted' && posted.data.id === sent.message.id, 'the log holds the post');

const attachment: Schemas['Attachment'] = check(
  'upload',
  await api.POST('/v1/rooms/{room_id}/uploads', {
    params: { ...room.params, query: { file_name: 'dot.png' } },
    body: PNG as unknown as string,
    ...bytes('image/png'),
  }),
);
assert(attachment.content_type === 'image/png', 'the upload is a PNG');
const withFile = check(
  'send file',
  await api.POST('/v1/rooms/{room_id}/messages', { ...room, body: { text: '', attachment_ids: [attachment.id] } }),
);
assert(withFile.message.attachments.map((a) => a.id).join() === attachment.id, 'the message carries the file');

const pictured: Schemas['User'] = check(
  'set avatar',
  await api.PUT('/v1/me/avatar', { body: PNG as unknown as string, ...bytes('image/png') }),
);
assert(pictured.avatar_url, 'the profile names its picture');
console.log('typescript client: sign-in, send, replay, history, changes, upload, attachment, avatar: ok');
