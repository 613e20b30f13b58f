// The rest of the client: sign-up, joining a public room, creating events and rooms, older
// history on scroll, search, the typing indicator, and a wrong password.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, sideRoom,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('sign-up, join a public room, create an event and a room', () =>
  withServer([], async (url) => {
    const page = await file.browser.context.newPage();
    page.setDefaultTimeout(10000);
    await page.goto(url);
    // A wrong password gets the generic answer, and no session.
    await page.fill('input[name="email"]', 'user1@example.com');
    await page.fill('input[name="password"]', 'not the password');
    await page.click('button[type="submit"]');
    await page.locator('#auth-error', { hasText: 'wrong email or password' }).waitFor();

    await page.click('#auth-switch');
    await page.fill('input[name="email"]', 'newcomer@example.com');
    await page.fill('input[name="display_name"]', 'New Comer');
    await page.fill('input[name="password"]', 'a good long password');
    await page.click('button[type="submit"]');
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    assert.equal(await page.textContent('#whoami .name'), 'New Comer');

    // The demo server puts newcomers into "My Event", and the client lands them in its Main
    // room. Other public rooms are there to join.
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    await send(page, 'hello from a newcomer');
    await storedMessages(page, 'hello from a newcomer').waitFor();
    const sarah = await apiSession(url, 'sarah@example.com');
    await sideRoom(url, sarah);
    await page.click('#events button:text-is("My Event")');
    const row = page.locator('#rooms li', { hasText: 'Side' });
    await row.getByRole('button', { name: 'Join' }).click();
    await page.locator('#room-title', { hasText: 'Side' }).waitFor();
    await send(page, 'hello from the side room');
    await storedMessages(page, 'hello from the side room').waitFor();

    await page.fill('#new-event input[name="name"]', 'Team Trip');
    await page.click('#new-event button[type="submit"]');
    await page.locator('#events button.selected', { hasText: 'Team Trip' }).waitFor();
    await page.fill('#new-room input[name="name"]', 'Logistics');
    await page.click('#new-room button[type="submit"]');
    await page.locator('#room-title', { hasText: 'Logistics' }).waitFor();
    await send(page, 'first message in a new room');
    await storedMessages(page, 'first message in a new room').waitFor();
  }));

test('older history loads on scroll; search finds messages; typing shows', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const rooms = await apiCall(url, sarah.token, 'GET', '/rooms');
    const main = rooms.find((r) => r.room.name === 'Main').room;
    for (let i = 1; i <= 120; i += 1) {
      const text = i === 1 ? 'the very first message about zanzibar' : `history message ${i}`;
      await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text });
    }

    const one = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(one);
    await storedMessages(one, 'history message 120').waitFor();
    const count = () => one.locator('#messages li.message[data-id]').count();
    assert.equal(await count(), 50, 'the first page');
    for (let pages = 0; pages < 5 && (await count()) < 120; pages += 1) {
      const before = await count();
      await one.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
      await one.waitForFunction(
        (n) => document.querySelectorAll('#messages li.message[data-id]').length > n,
        before,
      );
    }
    assert.equal(await count(), 120, 'every page loaded, nothing twice');
    const seqs = await one.locator('#messages li.message[data-seq]').evaluateAll((r) => r.map((x) => Number(x.dataset.seq)));
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    await storedMessages(one, 'the very first message about zanzibar').waitFor();

    await one.fill('#search input[name="q"]', 'zanzibar');
    await one.click('#search button[type="submit"]');
    await one.locator('#search-list li', { hasText: 'the very first message about zanzibar' }).waitFor();
    assert.equal(await one.locator('#search-list li').count(), 1);

    const two = await signIn(file.browser, url, 'user2@example.com');
    await openRoom(two);
    await two.locator('textarea[placeholder*="Type a message"]').pressSequentially('I am typ');
    await one.locator('#typing', { hasText: 'User Two is typing…' }).waitFor();
    // Sending clears it; typing again at once shows it again, though the signal before was
    // less than the server's 2 s apart.
    await two.press('textarea[placeholder*="Type a message"]', 'Enter');
    await storedMessages(one, 'I am typ').waitFor();
    await one.locator('#typing', { hasText: /^$/ }).waitFor();
    await two.locator('textarea[placeholder*="Type a message"]').pressSequentially('and again');
    await one.locator('#typing', { hasText: 'User Two is typing…' }).waitFor({ timeout: 4000 });
    // It clears by itself when the typist stops.
    await one.locator('#typing', { hasText: /^$/ }).waitFor({ timeout: 8000 });
  }));
