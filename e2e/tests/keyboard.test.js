// Keyboard navigation beyond Tab: arrows through messages and the sidebar's lists, Enter into
// a message's actions and Escape back to the composer, ↑ in an empty composer to edit, Alt+↑/↓
// between rooms, arrows in the emoji picker, Escape closing panels. In both looks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom, LOOKS,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

/** What has the focus: a message's text, a button's name, or an element's id. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (el.matches('li.message')) return `message:${el.querySelector('.body').textContent}`;
    if (el.id) return `#${el.id}`;
    return `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') || el.textContent}`;
  });
}

for (const look of LOOKS) {
  test(`keyboard: messages, composer, rooms, picker, panels (${look.name})`, () =>
    withServer(['--send-rate', '1000'], async (url) => {
      const sarah = await apiSession(url, 'sarah@example.com');
      const one = await apiSession(url, 'user1@example.com');
      await sideRoom(url, sarah, one);
      const main = await mainRoom(url, sarah);
      for (const text of ['first', 'second', 'third']) {
        await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text });
      }
      const page = await signIn(file.browser, url, 'user1@example.com', look);
      await openRoom(page);
      await storedMessages(page, 'third').waitFor();

      // ↑ in the empty composer edits the reader's last message; Enter saves, focus returns.
      await send(page, 'mine, with a typo');
      await storedMessages(page, 'mine, with a typo').waitFor();
      await page.focus('#message-input');
      await page.keyboard.press('ArrowUp');
      const edit = page.locator('textarea[aria-label="Edit message"]');
      await edit.waitFor();
      assert.equal(await edit.inputValue(), 'mine, with a typo');
      await edit.fill('mine, fixed');
      await edit.press('Enter');
      await storedMessages(page, 'mine, fixed').waitFor();
      assert.equal(await focused(page), '#message-input');
      // In seq order, the reader's own message last, below the "New messages" line (it once
      // went above the line, at the top).
      const seqs = await page.locator('#messages li.message[data-id]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(await page.locator('#messages li.message[data-id]').last().locator('.body').textContent(), 'mine, fixed');

      // The messages are one Tab stop (the newest); arrows move through them.
      assert.equal(await page.locator('#messages li.message[tabindex="0"]').count(), 1);
      await page.keyboard.press('Shift+Tab');
      while (!(await focused(page)).startsWith('message:')) await page.keyboard.press('Shift+Tab');
      assert.equal(await focused(page), 'message:mine, fixed');
      await page.keyboard.press('ArrowUp');
      assert.equal(await focused(page), 'message:third');
      await page.keyboard.press('Home');
      assert.equal(await focused(page), 'message:first');
      await page.keyboard.press('ArrowDown');
      assert.equal(await focused(page), 'message:second');
      // Enter moves into its actions; Escape goes back to the composer.
      await page.keyboard.press('Enter');
      assert.equal(await focused(page), 'button:Reply');
      await page.keyboard.press('Escape');
      assert.equal(await focused(page), '#message-input');
      // The Tab stop remembers the message last focused.
      assert.equal(await page.locator('#messages li.message[tabindex="0"] .body').textContent(), 'second');

      // The emoji picker by keyboard: into a message's React, ↓ into the grid, → and Enter.
      await page.locator('#messages li.message[tabindex="0"]').focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      assert.equal(await focused(page), 'button:React');
      await page.keyboard.press('Enter');
      await page.locator('#emoji-picker').waitFor();
      assert.equal(await focused(page), '#emoji-search');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowRight');
      assert.equal(await focused(page), 'button:React with ❤️');
      await page.keyboard.press('Enter');
      await page.locator('#messages li.message[data-id]', { hasText: 'second' }).locator('.reaction', { hasText: '❤️ 1' }).waitFor();
      assert.ok(await page.locator('#emoji-picker').isHidden());
      // Escape closes the picker and gives focus back to where it opened from.
      await page.locator('#messages li.message[tabindex="0"]').focus();
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await page.locator('#emoji-picker').waitFor();
      await page.keyboard.press('Escape');
      assert.ok(await page.locator('#emoji-picker').isHidden());
      assert.equal(await focused(page), 'button:React');

      // Alt+↓ and Alt+↑ switch rooms from anywhere.
      await page.focus('#message-input');
      await page.keyboard.press('Alt+ArrowDown');
      await page.locator('#room-title', { hasText: 'Side' }).waitFor();
      await page.keyboard.press('Alt+ArrowUp');
      await page.locator('#room-title', { hasText: 'Main' }).waitFor();

      // Escape closes the members panel and returns to its button.
      await page.click('#members-button');
      await page.locator('#members li.member').first().waitFor();
      await page.keyboard.press('Escape');
      assert.ok(await page.locator('#members').isHidden());
      assert.equal(await focused(page), '#members-button');

      // Arrows move through the sidebar's room list (on a phone, once back at the lists).
      if (look.phone) await page.click('#back');
      await page.locator('#rooms button.item', { hasText: 'Main' }).focus();
      await page.keyboard.press('ArrowDown');
      assert.equal(await focused(page), 'button:Side');
      await page.keyboard.press('ArrowUp');
      assert.equal(await focused(page), 'button:Main');
    }));
}
