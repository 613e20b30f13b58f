// Unread badges and presence: counts for rooms the reader is not looking at arrive live over
// the one WebSocket, mentions are marked, opening a room reads it (on the server too), and an
// author's presence dot follows their tabs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom, LOOKS,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('unread badges arrive live and clear when the room is read', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const main = await mainRoom(url, sarah);
    const side = await sideRoom(url, sarah, one);

    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    const sideButton = page.locator('#rooms button[data-room-id]', { hasText: 'Side' });
    await sideButton.waitFor();
    assert.equal(await sideButton.getAttribute('data-badge'), null, 'nothing unread yet');

    // Messages in a room the reader is not in show up as a count, live; a mention marks it.
    await apiCall(url, sarah.token, 'POST', `/rooms/${side.id}/messages`, { text: 'over here' });
    await page.waitForFunction(
      (id) => document.querySelector(`#rooms button[data-room-id="${id}"]`)?.dataset.badge === '1',
      side.id,
    );
    await apiCall(url, sarah.token, 'POST', `/rooms/${side.id}/messages`, {
      text: `@[User One](${one.user.id}) can you look?`,
    });
    await page.waitForFunction(
      (id) => document.querySelector(`#rooms button[data-room-id="${id}"]`)?.dataset.badge === '@ 2',
      side.id,
    );
    assert.ok((await sideButton.getAttribute('class')).includes('mentioned'));
    assert.equal(await page.title(), '(2) chat-engine');

    // Messages in the open room do not count: the reader sees them.
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'in main' });
    await storedMessages(page, 'in main').waitFor();

    // Opening the room reads it: the badge goes, and the server agrees.
    await sideButton.click();
    await storedMessages(page, 'over here').waitFor();
    await page.waitForFunction(() => document.title === 'chat-engine');
    for (let i = 0; i < 50; i += 1) {
      const unread = await apiCall(url, one.token, 'GET', '/me/unread');
      if (unread.length === 0) break;
      assert.ok(i < 49, `still unread on the server: ${JSON.stringify(unread)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.click('#rooms button:text-is("Main")');
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    assert.equal(await sideButton.getAttribute('data-badge'), null, 'read stays read');
  }));

test("an author's presence dot follows their tabs", () =>
  withServer([], async (url) => {
    const reader = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(reader);
    const sarah = await signIn(file.browser, url, 'sarah@example.com');
    await openRoom(sarah);
    await send(sarah, 'hello from sarah');
    await storedMessages(reader, 'hello from sarah').waitFor();
    const dot = reader.locator('#messages li.message', { hasText: 'hello from sarah' }).locator('.author');
    await reader.waitForFunction(
      () => [...document.querySelectorAll('#messages .author[data-user-id]')]
        .some((a) => a.dataset.presence === 'online'),
    );
    assert.equal(await dot.getAttribute('data-presence'), 'online');

    // A second tab of Sarah's, then the first closes: still online. The last one closing: offline.
    const second = await signIn(file.browser, url, 'sarah@example.com');
    await sarah.close();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await dot.getAttribute('data-presence'), 'online');
    await second.close();
    await reader.waitForFunction(
      () => [...document.querySelectorAll('#messages .author[data-user-id]')]
        .every((a) => a.dataset.presence === 'offline'),
    );
    assert.match(await dot.getAttribute('title'), /last active/);
  }));

test('a "new messages" line at the read position, and a way back to the latest', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const main = await mainRoom(url, sarah);
    const side = await sideRoom(url, sarah, one);
    for (let i = 0; i < 30; i += 1) {
      await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: `earlier ${i}` });
    }
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    await storedMessages(page, 'earlier 29').waitFor();
    // Read to the end (the client marks it), then away in Side while three more arrive.
    await page.waitForFunction(() => document.title === 'chat-engine');
    await page.click('#rooms button:text-is("Side")');
    await page.locator('#room-title', { hasText: 'Side' }).waitFor();
    for (const text of ['news one', 'news two', 'news three']) {
      await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text });
    }
    await page.waitForFunction(() => document.title === '(3) chat-engine');
    await page.click('#rooms button:text-is("Main")');
    await storedMessages(page, 'news three').waitFor();
    const next = page.locator('#messages li.new-line + li.message');
    await next.waitFor();
    assert.match(await next.textContent(), /news one/);
    assert.equal(await page.locator('#messages li.new-line').count(), 1);

    await page.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
    await page.locator('#to-latest').waitFor();
    await page.click('#to-latest');
    await page.waitForFunction(() => {
      const list = document.getElementById('messages');
      return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    });
    assert.equal(await page.locator('#to-latest').isVisible(), false);
  }));

for (const look of LOOKS) {
  test(`the room opened at sign-in gets its "new messages" line too (${look.name})`, () =>
    withServer([], async (url) => {
      const sarah = await apiSession(url, 'sarah@example.com');
      const one = await apiSession(url, 'user1@example.com');
      const main = await mainRoom(url, sarah);
      const read = (await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'already read' })).message;
      await apiCall(url, one.token, 'POST', `/rooms/${main.id}/read`, { seq: read.seq });
      for (const text of ['unread one', 'unread two']) {
        await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text });
      }
      const page = await signIn(file.browser, url, 'user1@example.com', look);
      await page.locator('#room-title', { hasText: 'Main' }).waitFor();
      const next = page.locator('#messages li.new-line + li.message');
      await next.waitFor();
      assert.match(await next.textContent(), /unread one/);
      assert.equal(await page.locator('#messages li.new-line').count(), 1);
    }));
}
