// The client under a prefix: the example server run with `--base-path /chat` serves the page,
// its files, the REST API and the WebSocket under /chat, as a host that nests the router
// would. Everything the client does must go through the prefix: sign-in, history, live
// messages, uploads and the signed links of attachments.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom } from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('the whole client works under /chat', () =>
  withServer(['--base-path', '/chat'], async (origin) => {
    const url = `${origin}/chat`;
    const requests = [];
    const sockets = [];
    file.browser.context.on('request', (r) => requests.push(new URL(r.url()).pathname));
    file.browser.context.on('page', (p) => p.on('websocket', (ws) => sockets.push(new URL(ws.url()).pathname)));

    // /chat redirects to /chat/, where the page's files resolve.
    const page = await signIn(file.browser, url, 'user1@example.com');
    assert.equal(new URL(page.url()).pathname, '/chat/');
    await openRoom(page);
    await send(page, 'hello from under a prefix');
    await storedMessages(page, 'hello from under a prefix').waitFor();

    // A message from someone else arrives live, over the WebSocket at /chat/v1/ws.
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'seen live' });
    await storedMessages(page, 'seen live').waitFor();

    // An image uploaded from the composer shows its thumbnail through a signed link.
    await page.setInputFiles('#file-input', {
      name: 'dot.png',
      mimeType: 'image/png',
      buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'),
    });
    await page.locator('#upload-tray li.upload.done').waitFor();
    await send(page, 'with a picture');
    const row = page.locator('#messages li.message[data-id]', { hasText: 'with a picture' });
    const image = row.locator('img.thumb');
    await image.waitFor();
    await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await image.elementHandle());

    // Nothing was asked of the server outside the prefix.
    const outside = requests.filter((p) => !p.startsWith('/chat'));
    assert.deepEqual(outside, [], `requests outside /chat: ${outside.join(', ')}`);
    assert.deepEqual([...new Set(sockets)], ['/chat/v1/ws'], 'the WebSocket connects under the prefix');
    assert.ok(requests.some((p) => p.startsWith('/chat/v1/attachments/')), 'the thumbnail loads under the prefix');
  }));
