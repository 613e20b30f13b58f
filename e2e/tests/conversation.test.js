// Conversation: reactions from a picker with search, shown with counts and who reacted and
// toggled by a click; replies with a quote of their parent that jumps to it; the thread panel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom, LOOKS,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('reactions: pick, count, who, toggle', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const plan = (await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'plan for saturday' })).message;
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    const row = page.locator('#messages li.message[data-id]', { hasText: 'plan for saturday' });
    await row.hover();
    await row.getByRole('button', { name: 'React' }).click();
    await page.locator('#emoji-picker').waitFor();
    await page.fill('#emoji-search', 'tada');
    await page.getByRole('button', { name: 'React with :tada:' }).click();
    const chip = row.locator('.reaction[data-key="🎉"]');
    await chip.filter({ hasText: '🎉 1' }).waitFor();
    assert.equal(await chip.getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#emoji-picker').isVisible(), false);

    await apiCall(url, sarah.token, 'PUT', `/messages/${plan.id}/reactions/${encodeURIComponent('🎉')}`);
    await chip.filter({ hasText: '🎉 2' }).waitFor();
    assert.equal(await chip.getAttribute('title'), 'you, Sarah Chen reacted with 🎉');
    await chip.click();
    await chip.filter({ hasText: '🎉 1' }).waitFor();
    assert.equal(await chip.getAttribute('aria-pressed'), 'false');
    assert.equal(await chip.getAttribute('title'), 'Sarah Chen reacted with 🎉');
  }));

for (const look of LOOKS) {
  test(`replies quote their parent as plain text, count in it, and open as a thread (${look.name})`, () =>
    withServer([], async (url) => {
      const sarah = await apiSession(url, 'sarah@example.com');
      const one = await apiSession(url, 'user1@example.com');
      const main = await mainRoom(url, sarah);
      await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, {
        text: `**who** is _coming_ saturday? @[User One](${one.user.id})`,
      });
      const page = await signIn(file.browser, url, 'user1@example.com', look);
      await openRoom(page);
      const parent = page.locator('#messages li.message[data-id]', { hasText: 'is coming saturday?' });
      // A tap on a phone, a hover on a desktop, shows the actions.
      if (look.phone) await parent.click();
      else await parent.hover();
      await parent.getByRole('button', { name: 'Reply' }).click();
      await page.locator('#replying', { hasText: 'Replying to Sarah Chen: who is coming saturday? @User One' }).waitFor();
      await send(page, 'count me in');
      const reply = page.locator('#messages li.message[data-id]', { hasText: 'count me in' });
      // The quote reads as the message does: no markers, the mention as a name.
      await reply.locator('.reply-quote', { hasText: '↪ Sarah Chen: who is coming saturday? @User One' }).waitFor();
      assert.equal(await page.locator('#replying').isVisible(), false, 'the reply bar closes on send');
      await parent.locator('.thread-link', { hasText: '1 reply' }).click();
      await page.locator('#thread').waitFor();
      await page.locator('#thread-list li.message', { hasText: 'count me in' }).waitFor();
      assert.equal(await page.locator('#thread-list li.message').count(), 2, 'the parent and its reply');
      const box = await page.locator('#thread').boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= (look.phone ? 390 : 1280), `the thread fits: ${JSON.stringify(box)}`);
      await page.click('#thread-close');
      assert.equal(await page.locator('#thread').isVisible(), false);
    }));
}

test('a quote jumps to a parent beyond the loaded page', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const post = (body) => apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, body);
    const old = (await post({ text: 'the original question' })).message;
    for (let i = 0; i < 70; i += 1) await post({ text: `filler ${i}` });
    await post({ text: 'answering at last', reply_to: old.id });
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    const quote = page.locator('#messages li.message[data-id]', { hasText: 'answering at last' }).locator('.reply-quote');
    await quote.filter({ hasText: 'the original question' }).waitFor();
    assert.equal(await storedMessages(page, 'the original question').count(), 0, 'not on the first page');
    await quote.click();
    const target = page.locator('#messages li.message.flash', { hasText: 'the original question' });
    await target.waitFor();
    assert.ok(await target.isVisible());
  }));
