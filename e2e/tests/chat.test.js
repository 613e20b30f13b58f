// The browser client against the in-memory example server: the original design's two
// scenarios, live edits and deletes, XSS, and the rate limit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, send, storedMessages, browserForFile, apiSession, LOOKS,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('two users exchange messages, each sees the other within 5 s', () =>
  withServer([], async (url) => {
    const one = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(one);
    await send(one, 'Hello everyone!');
    await storedMessages(one, 'Hello everyone!').waitFor();

    const two = await signIn(file.browser, url, 'user2@example.com');
    await openRoom(two);
    await storedMessages(two, 'Hello everyone!').waitFor({ timeout: 5000 });

    await send(two, 'Hi there!');
    await storedMessages(one, 'Hi there!').waitFor({ timeout: 5000 });

    // Edits and deletes show up live for the other user.
    const mine = one.locator('#messages li.message.mine', { hasText: 'Hello everyone!' });
    await mine.hover();
    await mine.getByRole('button', { name: 'Edit' }).click();
    await one.fill('textarea[aria-label="Edit message"]', 'Hello everyone, edited!');
    await one.press('textarea[aria-label="Edit message"]', 'Enter');
    const edited = two.locator('#messages li.message', { hasText: 'Hello everyone, edited!' });
    await edited.waitFor({ timeout: 5000 });
    assert.equal(await edited.locator('.edited').textContent(), '(edited)');

    const again = one.locator('#messages li.message.mine', { hasText: 'Hello everyone, edited!' });
    await again.hover();
    await again.getByRole('button', { name: 'Delete' }).click();
    await again.getByRole('button', { name: 'Really delete?' }).click();
    await two.locator('#messages .body.deleted').waitFor({ timeout: 5000 });
    assert.equal(await two.locator('#messages', { hasText: 'Hello everyone, edited!' }).count(), 0);

    // Each message is shown once on both sides.
    assert.equal(await storedMessages(one, 'Hi there!').count(), 1);
    assert.equal(await storedMessages(two, 'Hi there!').count(), 1);
  }));

for (const look of LOOKS) {
  test(`mentions: @Sar lists Sarah Chen; she shows as a pill, is sent as a mention, and stays one through a refusal and an edit (${look.name})`, () =>
    withServer([], async (url) => {
      const sarah = await apiSession(url, 'sarah@example.com');
      const page = await signIn(file.browser, url, 'user1@example.com', look);
      await openRoom(page);
      const box = 'textarea[placeholder*="Type a message"]';
      await page.fill(box, '@');
      await page.locator('[role="listbox"]').waitFor();
      await page.fill(box, '@Sar');
      // The list for "@" (every member) is replaced by the list for "@Sar": Sarah alone.
      await page.waitForFunction(() => {
        const options = document.querySelectorAll('[role="listbox"] [role="option"]');
        return options.length === 1 && options[0].textContent === 'Sarah Chen';
      });
      const option = page.locator('[role="listbox"] [role="option"]', { hasText: 'Sarah Chen' });
      await option.click();
      // The box shows the name, never the token, drawn as a pill right over the typed name.
      assert.equal(await page.inputValue(box), '@Sarah Chen ');
      const pill = page.locator('#composer .pill-backdrop .pill');
      assert.equal(await pill.textContent(), '@Sarah Chen');
      const [pillBox, inputBox] = [await pill.boundingBox(), await page.locator(box).boundingBox()];
      assert.ok(Math.abs(pillBox.x - (inputBox.x + 9)) <= 1, `the pill starts where the text does: ${pillBox.x} vs ${inputBox.x + 9}`);
      await page.locator(box).pressSequentially('see you at 8');
      await page.press(box, 'Enter');
      // Shown highlighted, as the name, never as the raw token; a mention of Sarah's id.
      const mention = page.locator('#messages li.message[data-id] .mention', { hasText: '@Sarah Chen' });
      await mention.waitFor();
      assert.equal(await mention.getAttribute('data-user-id'), sarah.user.id);
      assert.equal(await page.locator('#messages', { hasText: '@[Sarah Chen]' }).count(), 0);
      assert.equal(await pill.count(), 0, 'the pill goes with the sent text');

      // Edited: the edit box shows the pill, and the saved text still mentions her.
      const id = await page.locator('#messages li.message[data-id]', { hasText: 'see you at 8' }).getAttribute('data-id');
      const row = page.locator(`#messages li.message[data-id="${id}"]`);
      if (look.phone) await row.click();
      else await row.hover();
      await row.getByRole('button', { name: 'Edit' }).click();
      const editBox = row.locator('textarea[aria-label="Edit message"]');
      assert.equal(await editBox.inputValue(), '@Sarah Chen see you at 8');
      assert.equal(await row.locator('.pill-backdrop .pill').textContent(), '@Sarah Chen');
      await editBox.fill('@Sarah Chen see you at 9');
      await editBox.press('Enter');
      await row.locator('.body', { hasText: 'see you at 9' }).waitFor();
      assert.equal(await row.locator('.mention').getAttribute('data-user-id'), sarah.user.id);

      // Refused (too long): it comes back to the box with the pill, not the token.
      await page.fill(box, '@Sar');
      await option.click();
      await page.locator(box).pressSequentially('x');
      await page.evaluate((sel) => {
        const area = document.querySelector(sel);
        area.value += 'y'.repeat(5001);
        area.dispatchEvent(new Event('input'));
      }, box);
      await page.press(box, 'Enter');
      await page.locator('#notice', { hasText: 'Not sent' }).waitFor();
      assert.ok((await page.inputValue(box)).startsWith('@Sarah Chen xyyy'));
      assert.equal(await pill.textContent(), '@Sarah Chen');
    }));
}

test('a message of HTML is shown as text and runs nothing', () =>
  withServer([], async (url) => {
    const one = await signIn(file.browser, url, 'user1@example.com');
    const two = await signIn(file.browser, url, 'user2@example.com');
    const dialogs = [];
    for (const page of [one, two]) page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
    await openRoom(one);
    await openRoom(two);
    const attacks = [
      '<img src=x onerror=alert(1)>',
      '<script>window.__pwned = true</script>',
      '<img src=x onerror="window.__pwned = true">',
    ];
    for (const attack of attacks) await send(one, attack);
    for (const page of [one, two]) {
      for (const attack of attacks) await storedMessages(page, attack).waitFor({ timeout: 5000 });
      assert.equal(await page.locator('#messages img, #messages script').count(), 0);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
    }
    // Give a would-be onerror time to fire.
    await one.waitForTimeout(500);
    assert.deepEqual(dialogs, []);
  }));

test('the 11th message in a minute shows the wait, and stays in the composer', () =>
  withServer([], async (url) => {
    const page = await signIn(file.browser, url, 'user2@example.com');
    await openRoom(page);
    for (let i = 1; i <= 10; i += 1) {
      await send(page, `message ${i}`);
      await storedMessages(page, `message ${i}`).waitFor();
    }
    await send(page, 'message 11, too fast');
    const notice = page.locator('#notice');
    await notice.filter({ hasText: /wait \d+ s/ }).waitFor();
    const seconds = Number(/wait (\d+) s/.exec(await notice.textContent())[1]);
    assert.ok(seconds >= 1 && seconds <= 60, `wait of ${seconds} s`);
    assert.equal(await page.inputValue('textarea[placeholder*="Type a message"]'), 'message 11, too fast');
    assert.equal(await page.locator('#messages li.message', { hasText: 'message 11' }).count(), 0);
  }));
