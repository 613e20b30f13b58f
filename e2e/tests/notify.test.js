// "Seen by" under the reader's newest message, live from read receipts; and a browser
// notification for a mention in a room the reader is not looking at.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom, recordNotifications,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('seen by follows read receipts live', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    await send(page, 'did you see this');
    await storedMessages(page, 'did you see this').waitFor();
    const seq = Number(await page.locator('#messages li.message.mine[data-seq]', { hasText: 'did you see this' }).getAttribute('data-seq'));
    assert.equal(await page.locator('.seen-by').count(), 0, 'nobody yet');
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/read`, { seq });
    await page.locator('#messages li.message.mine', { hasText: 'did you see this' })
      .locator('.seen-by', { hasText: 'Seen by Sarah Chen' }).waitFor();
  }));

test('a mention elsewhere raises a browser notification, once allowed', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const side = await sideRoom(url, sarah, one);
    const context = file.browser.context;
    await recordNotifications(context, url);
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    assert.equal(await page.locator('#notify').isVisible(), false, 'permission was granted already');
    await apiCall(url, sarah.token, 'POST', `/rooms/${side.id}/messages`, { text: 'no mention here' });
    await apiCall(url, sarah.token, 'POST', `/rooms/${side.id}/messages`, {
      text: `@[User One](${one.user.id}) over here`,
    });
    await page.waitForFunction(() => window.__notes.length > 0);
    assert.deepEqual(await page.evaluate(() => window.__notes), [{ title: 'You were mentioned', body: 'in Side' }]);
  }));
