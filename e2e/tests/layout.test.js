// Layout and feedback: a phone shows one pane at a time with a way back, message actions come
// with a tap, newcomers land in the Main room, refused messages return in the order they were
// sent, and waits count down.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, send, storedMessages, browserForFile,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('on a phone, one pane at a time, with a way back and actions on tap', () =>
  withServer([], async (url) => {
    const page = await file.browser.context.newPage();
    page.setDefaultTimeout(10000);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(url);
    await page.fill('input[name="email"]', 'user1@example.com');
    await page.fill('input[name="password"]', 'password123');
    await page.click('button[type="submit"]');
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    // Signed in, the client opens the event's room: the room fills the screen.
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    assert.equal(await page.locator('#rooms-section').isVisible(), false);
    // The top bar keeps to one line: its buttons show icons, their names stay accessible.
    const bar = await page.locator('.topbar').boundingBox();
    assert.ok(bar.height <= 48, `the top bar is one line: ${bar.height}px`);
    assert.equal(await page.getByRole('button', { name: 'Theme: Auto' }).count(), 1);
    for (const selector of ['#composer button[type="submit"]', '#search button[type="submit"]', '#back', '#message-input']) {
      const box = await page.locator(selector).boundingBox();
      assert.ok(box, `${selector} is shown`);
      assert.ok(box.x >= 0 && box.x + box.width <= 390, `${selector} fits the width: ${JSON.stringify(box)}`);
      assert.ok(box.y + box.height <= 844, `${selector} fits the height: ${JSON.stringify(box)}`);
    }
    await send(page, 'from a phone');
    const row = page.locator('#messages li.message[data-id]', { hasText: 'from a phone' });
    await row.waitFor();
    assert.equal(await row.getByRole('button', { name: 'Edit' }).isVisible(), false);
    await row.click();
    await row.getByRole('button', { name: 'Edit' }).waitFor();

    await page.click('#back');
    await page.locator('#rooms-section').waitFor();
    assert.equal(await page.locator('#chat').isVisible(), false);
    await page.click('#rooms button:text-is("Main")');
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    assert.equal(await page.locator('#rooms-section').isVisible(), false);
  }));

test('a new account lands in the Main room', () =>
  withServer([], async (url) => {
    const page = await file.browser.context.newPage();
    page.setDefaultTimeout(10000);
    await page.goto(url);
    await page.click('#auth-switch');
    await page.fill('input[name="email"]', 'fresh@example.com');
    await page.fill('input[name="display_name"]', 'Fresh Face');
    await page.fill('input[name="password"]', 'a good long password');
    await page.click('button[type="submit"]');
    await page.locator('#room-title', { hasText: 'Main' }).waitFor();
    await page.locator('#composer').waitFor();
    await send(page, 'hello, I just arrived');
    await storedMessages(page, 'hello, I just arrived').waitFor();
  }));

test('refused messages return in the order they were sent, and the wait counts down', () =>
  withServer([], async (url) => {
    const page = await signIn(file.browser, url, 'user2@example.com');
    await page.locator('#composer').waitFor();
    for (let i = 1; i <= 10; i += 1) {
      await send(page, `message ${i}`);
      await storedMessages(page, `message ${i}`).waitFor();
    }
    // Three sends leave before the first refusal comes back.
    await page.evaluate(() => {
      const input = document.getElementById('message-input');
      for (const text of ['first refused', 'second refused', 'third refused']) {
        input.value = text;
        document.getElementById('composer').requestSubmit();
      }
    });
    await page.waitForFunction(
      () => document.getElementById('message-input').value.split('\n').length === 3,
    );
    assert.equal(
      await page.inputValue('#message-input'),
      'first refused\nsecond refused\nthird refused',
    );
    const notice = page.locator('#notice');
    await notice.filter({ hasText: /wait \d+ s/ }).waitFor();
    const seconds = async () => Number(/wait (\d+) s/.exec(await notice.textContent())[1]);
    const before = await seconds();
    await page.waitForTimeout(1600);
    const after = await seconds();
    assert.ok(after < before, `counts down: ${before} s, then ${after} s`);
  }));
