// Restart: the PostgreSQL-backed server goes away while a page is open. The page says
// Reconnecting, then Connected, and shows what another user sent meanwhile exactly once.
//
// The other user posts through a second server on the same database (as a second instance
// behind a load balancer would), so the messages are certainly sent while the page's server
// is down: no race with the page's reconnect.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, freshDatabase, launchBrowser, signIn, openRoom, send, storedMessages, apiSession, apiCall,
} from '../lib/harness.js';

let db;
let browser;

before(async () => {
  db = freshDatabase();
  browser = await launchBrowser();
});

after(async () => {
  await browser.close();
  db.drop();
});

test('after a server restart the page reconnects and shows missed messages exactly once', async () => {
  let server = await startServer({ args: ['--database-url', db.url, '--demo'] });
  const other = await startServer({ args: ['--database-url', db.url, '--no-demo'] });
  try {
    const page = await signIn(browser, server.url, 'user1@example.com');
    await openRoom(page);
    await send(page, 'before the restart');
    await storedMessages(page, 'before the restart').waitFor();

    const sarah = await apiSession(other.url, 'sarah@example.com');
    const rooms = await apiCall(other.url, sarah.token, 'GET', '/rooms');
    const main = rooms.find((r) => r.room.name === 'Main').room;

    const port = server.port;
    await server.stop('SIGKILL');
    await page.locator('#status', { hasText: 'Reconnecting' }).waitFor();

    const missed = ['sent while it was down 1', 'sent while it was down 2', 'sent while it was down 3'];
    for (const [i, text] of missed.entries()) {
      await apiCall(other.url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text, client_msg_id: `down-${i}` });
    }

    server = await startServer({ port, args: ['--database-url', db.url, '--demo'] });
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20000 });
    for (const text of missed) await storedMessages(page, text).waitFor({ timeout: 5000 });

    // Live again after the resume: a message sent now arrives too.
    const back = await apiSession(server.url, 'sarah@example.com');
    await apiCall(server.url, back.token, 'POST', `/rooms/${main.id}/messages`, { text: 'sent after the restart' });
    await storedMessages(page, 'sent after the restart').waitFor({ timeout: 5000 });

    for (const text of [...missed, 'before the restart', 'sent after the restart']) {
      assert.equal(await storedMessages(page, text).count(), 1, `"${text}" shown once`);
    }
    // In seq order, with no gaps in what the page shows.
    const seqs = await page.locator('#messages li.message[data-seq]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.deepEqual(browser.pageErrors.map(String), []);
  } finally {
    await server.stop();
    await other.stop();
  }
});

test('a send that fails while the server is down is retried with the same client_msg_id', async () => {
  let server = await startServer({ args: ['--database-url', db.url, '--demo'] });
  try {
    const page = await signIn(browser, server.url, 'user2@example.com');
    await openRoom(page);
    const port = server.port;
    await server.stop('SIGKILL');
    await page.locator('#status', { hasText: 'Reconnecting' }).waitFor();

    await send(page, 'typed while the server was down');
    const row = page.locator('#messages li.message', { hasText: 'typed while the server was down' });
    await row.locator('.send-state', { hasText: 'Sending' }).waitFor();
    assert.equal(await row.getAttribute('class'), 'message mine pending');
    await row.getByRole('button', { name: 'Retry' }).waitFor({ timeout: 15000 });
    assert.match(await row.getAttribute('class'), /failed/);
    const clientMsgId = await row.getAttribute('data-client-msg-id');

    server = await startServer({ port, args: ['--database-url', db.url, '--demo'] });
    await page.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20000 });
    // Still failed: a failed send goes out again only when asked.
    assert.equal(await storedMessages(page, 'typed while the server was down').count(), 0);
    await row.getByRole('button', { name: 'Retry' }).click();
    await storedMessages(page, 'typed while the server was down').waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#messages li.message.failed, #messages li.message.pending').count(), 0);

    const user = await apiSession(server.url, 'user2@example.com');
    const rooms = await apiCall(server.url, user.token, 'GET', '/rooms');
    const main = rooms.find((r) => r.room.name === 'Main').room;
    const page1 = await apiCall(server.url, user.token, 'GET', `/rooms/${main.id}/messages?limit=100`);
    const stored = page1.messages.filter((m) => m.text === 'typed while the server was down');
    assert.equal(stored.length, 1);
    assert.equal(stored[0].client_msg_id, clientMsgId);
  } finally {
    await server.stop();
  }
});
