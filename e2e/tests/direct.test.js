// Direct messages from the client, and search across rooms that opens a result in context.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('message someone directly, and see direct rooms others open', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const two = await apiSession(url, 'user2@example.com');
    const main = await mainRoom(url, sarah);
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'ping from sarah' });
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    const row = page.locator('#messages li.message[data-id]', { hasText: 'ping from sarah' });
    await row.hover();
    await row.getByRole('button', { name: 'Message Sarah Chen' }).click();
    await page.locator('#room-title', { hasText: /^Sarah Chen$/ }).waitFor();
    await page.locator('#dms button', { hasText: 'Sarah Chen' }).waitFor();
    await send(page, 'hi privately');
    await storedMessages(page, 'hi privately').waitFor();
    const dm = (await apiCall(url, sarah.token, 'POST', '/dms', { user_ids: [await userId(url, page)] })).room;
    await apiCall(url, sarah.token, 'POST', `/rooms/${dm.id}/messages`, { text: 'hi back' });
    await storedMessages(page, 'hi back').waitFor();

    // Someone else opens a direct room: it appears, with its count, without a reload.
    await page.click('#rooms button:text-is("Main")');
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    const theirs = (await apiCall(url, two.token, 'POST', '/dms', { user_ids: [await userId(url, page)] })).room;
    await apiCall(url, two.token, 'POST', `/rooms/${theirs.id}/messages`, { text: 'a word in private' });
    const entry = page.locator('#dms button', { hasText: 'User Two' });
    await entry.waitFor();
    await page.waitForFunction((id) => document.querySelector(`#dms button[data-room-id="${id}"]`)?.dataset.badge === '1', theirs.id);
    await entry.click();
    await storedMessages(page, 'a word in private').waitFor();
  }));

async function userId(url, page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('chat-engine.session')).user.id);
}

test('search covers every room and opens a result in context', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const main = await mainRoom(url, sarah);
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'the boathouse opens at nine' });
    for (let i = 0; i < 60; i += 1) {
      await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: `chatter ${i}` });
    }
    await sideRoom(url, sarah, one);
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page, 'My Event', 'Side');
    await page.fill('#search input[name="q"]', 'boat');
    await page.click('#search button[type="submit"]');
    const hit = page.locator('#search-list .search-hit', { hasText: 'boathouse' });
    await hit.waitFor();
    await hit.click();
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    await page.locator('#messages li.message.flash', { hasText: 'the boathouse opens at nine' }).waitFor();
    assert.equal(await page.locator('#search-results').isVisible(), false);
  }));
