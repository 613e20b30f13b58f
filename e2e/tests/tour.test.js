// The client's features on a phone in the dark theme, one after another as a person would
// meet them. The other tests drive each feature on a desktop in the light theme (and several
// in both); this one makes sure each also works at 390×844, dark, one pane at a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom, recordNotifications,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;
const PHONE_DARK = { phone: true, dark: true };

/** Shows the actions of a message on a phone: a tap. */
async function tap(row) {
  await row.click({ position: { x: 60, y: 8 } });
}

test('every feature on a phone, in the dark theme', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    // User Two: a plain member, so slow mode applies (owners and moderators are exempt).
    const two = await apiSession(url, 'user2@example.com');
    const main = await mainRoom(url, sarah);
    const side = await sideRoom(url, sarah, two);
    const post = (room, body) => apiCall(url, sarah.token, 'POST', `/rooms/${room}/messages`, body);
    await post(main.id, { text: '**bold** _italic_ ~~old~~ `code` :tada: https://example.com/a' });
    await post(main.id, { text: 'and a second line from me' });
    // A bot made by the event's owner (User One), writing with its own token.
    const owner = await apiSession(url, 'user1@example.com');
    const bot = await apiCall(url, owner.token, 'POST', `/events/${main.event_id}/bots`, {
      display_name: 'Trip Bot', room_ids: [main.id],
    });
    await apiCall(url, bot.token, 'POST', `/rooms/${main.id}/messages`, { text: 'I keep the packing list' });

    const context = file.browser.context;
    await recordNotifications(context, url);
    const page = await signIn(file.browser, url, 'user2@example.com', PHONE_DARK);

    // Landing: connected, in Main, dark, one pane.
    await page.locator('#status[data-state="connected"]').waitFor();
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor), 'rgb(21, 24, 30)');
    assert.equal(await page.locator('.sidebar').isVisible(), false);

    // Text, avatars, runs, day separators.
    const first = page.locator('#messages li.message[data-id]', { hasText: 'bold' });
    await first.locator('strong', { hasText: 'bold' }).waitFor();
    assert.equal(await first.locator('em').textContent(), 'italic');
    assert.equal(await first.locator('del').textContent(), 'old');
    assert.equal(await first.locator('code').textContent(), 'code');
    assert.equal(await first.locator('.emoji').textContent(), '🎉');
    assert.equal(await first.locator('a').getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await first.locator('.avatar').textContent(), 'SC');
    const second = page.locator('#messages li.message[data-id]', { hasText: 'a second line' });
    assert.ok((await second.getAttribute('class')).includes('continued'), 'one author, one run');
    assert.equal(await page.locator('#messages li.day').count(), 1);
    // The bot's message carries its badge; people's do not.
    const botRow = page.locator('#messages li.message[data-id]', { hasText: 'I keep the packing list' });
    assert.equal(await botRow.locator('.bot-badge').textContent(), 'BOT');
    assert.equal(await first.locator('.bot-badge').count(), 0);

    // Presence: Sarah comes online in a tab of her own.
    const author = first.locator('.author');
    assert.equal(await author.getAttribute('data-presence'), 'offline');
    const hers = await signIn(file.browser, url, 'sarah@example.com');
    await hers.locator('#room-title', { hasText: 'Main' }).waitFor();
    await page.locator('#messages .author[data-presence="online"]', { hasText: 'Sarah Chen' }).first().waitFor();

    // Reactions: a tap, React, the picker, a toggle.
    await tap(second);
    await second.getByRole('button', { name: 'React' }).click();
    await page.locator('#emoji-picker').waitFor();
    const pickerBox = await page.locator('#emoji-picker').boundingBox();
    assert.ok(pickerBox.x >= 0 && pickerBox.x + pickerBox.width <= 390, 'the picker fits the phone');
    await page.getByRole('button', { name: 'React with 🎉' }).click();
    const chip = second.locator('.reaction', { hasText: '🎉 1' });
    await chip.waitFor();
    assert.equal(await chip.getAttribute('aria-pressed'), 'true');
    await chip.click();
    await second.locator('.reaction').waitFor({ state: 'detached' });

    // Seen by: Sarah's tab has Main open, so she reads what arrives.
    await send(page, 'can you see this?');
    await page.locator('#messages li.message.mine', { hasText: 'can you see this?' })
      .locator('.seen-by', { hasText: 'Seen by Sarah Chen' }).waitFor();

    // Jump to the latest from far up.
    for (let i = 0; i < 40; i += 1) await post(main.id, { text: `filler ${i}` });
    await storedMessages(page, 'filler 39').waitFor();
    // The list scrolls, not the page: the composer stays on screen however long the room.
    const composer = await page.locator('#composer').boundingBox();
    assert.ok(composer.y + composer.height <= 844, `the composer is on screen: ${JSON.stringify(composer)}`);
    await page.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
    await page.locator('#to-latest').waitFor();
    await page.click('#to-latest');
    await page.locator('#to-latest').waitFor({ state: 'hidden' });

    // Unread elsewhere: a count on Side, the title, a notification for the mention.
    await post(side.id, { text: `@[User Two](${two.user.id}) come to Side` });
    await page.waitForFunction(() => document.title === '(1) chat-engine');
    await page.waitForFunction(() => window.__notes.length === 1);
    await page.click('#back');
    const sideEntry = page.locator('#rooms button.item', { hasText: 'Side' });
    await page.waitForFunction(() => document.querySelector('#rooms button.item.mentioned')?.dataset.badge === '@ 1');
    await sideEntry.click();
    await storedMessages(page, '@User Two come to Side').waitFor();
    await page.waitForFunction(() => document.title === 'chat-engine');

    // Slow mode: a second message within the wait is refused, comes back, and counts down.
    await apiCall(url, sarah.token, 'PATCH', `/rooms/${side.id}`, { slow_mode_secs: 30 });
    await send(page, 'on my way');
    await storedMessages(page, 'on my way').waitFor();
    await send(page, 'too soon');
    const notice = page.locator('#notice');
    await notice.filter({ hasText: /\d+ s/ }).waitFor();
    assert.equal(await page.inputValue('#message-input'), 'too soon');
    const noticeBox = await notice.boundingBox();
    assert.ok(noticeBox.width <= 390, 'the notice fits');

    // Errors in words: a room name that is taken.
    await page.click('#back');
    await page.fill('#new-room input[name="name"]', 'Side');
    await page.click('#new-room button[type="submit"]');
    await page.locator('#error-banner', { hasText: 'That name is already taken here.' }).waitFor();
    await page.click('#error-dismiss');

    // A direct message from Sarah appears with its count; it opens full screen.
    const dm = (await apiCall(url, sarah.token, 'POST', '/dms', { user_ids: [two.user.id] })).room;
    await post(dm.id, { text: 'just between us' });
    const dmEntry = page.locator('#dms button.item', { hasText: 'Sarah Chen' });
    await dmEntry.waitFor();
    await page.waitForFunction(() => document.querySelector('#dms button.item')?.dataset.badge === '1');
    await dmEntry.click();
    await storedMessages(page, 'just between us').waitFor();
    assert.equal(await page.locator('.sidebar').isVisible(), false);

    // Search over every room opens a result in its room, in context.
    await page.fill('#search input[name="q"]', 'bold');
    await page.click('#search button[type="submit"]');
    const hit = page.locator('#search-list .search-hit').first();
    await hit.waitFor();
    const hitBox = await page.locator('#search-results').boundingBox();
    assert.ok(hitBox.x >= 0 && hitBox.x + hitBox.width <= 390, 'results fit the phone');
    await hit.click();
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    await page.locator('#messages li.message.flash', { hasText: 'bold' }).waitFor();

    // An attachment from the composer, shown as a thumbnail.
    await page.setInputFiles('#file-input', {
      name: 'dot.png',
      mimeType: 'image/png',
      buffer: Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'),
    });
    await page.locator('#upload-tray li.upload.done').waitFor();
    await send(page, 'a picture from my phone');
    const picture = page.locator('#messages li.message[data-id]', { hasText: 'a picture from my phone' }).locator('img.thumb');
    await picture.waitFor();
    await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await picture.elementHandle());

    // The theme toggle overrides the system: Light, on a dark phone.
    await page.click('#theme-toggle');
    assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor), 'rgb(246, 247, 249)');
    await page.click('#theme-toggle');
    await page.click('#theme-toggle');
    assert.equal(await page.evaluate(() => localStorage.getItem('chat-engine.theme')), 'system');
  }));
