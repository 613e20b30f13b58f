// Profile pictures: the top bar's button opens a dialog to choose a picture; the person's next
// messages carry it, live, to others; a file that is not a picture is refused in words; the
// picture can be removed. In both looks (desktop light, phone dark).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, send, storedMessages, browserForFile, LOOKS } from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

// A 1×1 PNG with transparency (so it stays a PNG once redrawn).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** Waits until an avatar shows a picture that loaded (from this server). */
async function pictureShown(avatarLocator) {
  const img = avatarLocator.locator('img');
  await img.waitFor();
  const src = await img.getAttribute('src');
  assert.match(src, /^\/v1\/avatars\/avatar-[0-9a-f-]+\.png$/);
  await avatarLocator.page().waitForFunction((node) => node.complete && node.naturalWidth > 0, await img.elementHandle());
  return src;
}

for (const look of LOOKS) {
  test(`profile pictures: choose, seen by others, refused in words, removed (${look.name})`, () =>
    withServer([], async (url) => {
      const page = await signIn(file.browser, url, 'user2@example.com', look);
      const other = await signIn(file.browser, url, 'sarah@example.com');
      await page.locator('#room-title', { hasText: 'Main' }).waitFor();
      await other.locator('#room-title', { hasText: 'Main' }).waitFor();

      // Initials until a picture is chosen.
      const whoami = page.locator('#whoami');
      assert.equal(await whoami.locator('.avatar').textContent(), 'UT');
      await whoami.click();
      const dialog = page.getByRole('dialog', { name: 'Your picture' });
      await dialog.waitFor();
      assert.equal(await whoami.getAttribute('aria-expanded'), 'true');
      assert.equal(await page.locator('#avatar-remove').isDisabled(), true);
      if (look.phone) {
        const box = await dialog.boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog fits the phone: ${JSON.stringify(box)}`);
      }

      // Not a picture: refused in words, nothing changes.
      await page.setInputFiles('#avatar-input', { name: 'notes.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
      await page.locator('#profile-note.failed', { hasText: "That kind of file can't be sent." }).waitFor();
      assert.equal(await whoami.locator('.avatar img').count(), 0);

      await page.setInputFiles('#avatar-input', { name: 'me.png', mimeType: 'image/png', buffer: PNG });
      await page.locator('#profile-note', { hasText: 'Your picture is set' }).waitFor();
      const src = await pictureShown(whoami.locator('.avatar'));
      await pictureShown(page.locator('#profile-avatar .avatar'));
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await whoami.evaluate((node) => node === document.activeElement), true, 'focus back on the button');

      // The next message carries the picture, on the author's page and live on another's.
      await send(page, 'a new look');
      await storedMessages(page, 'a new look').waitFor();
      const mine = page.locator('#messages li.message[data-id]', { hasText: 'a new look' });
      assert.equal(await pictureShown(mine.locator('.avatar')), src);
      const theirs = other.locator('#messages li.message[data-id]', { hasText: 'a new look' });
      await theirs.waitFor();
      assert.equal(await pictureShown(theirs.locator('.avatar')), src);

      // Removed: initials again, kept across a reload (the session remembers the profile).
      await whoami.click();
      await page.click('#avatar-remove');
      await page.locator('#profile-note', { hasText: 'Your picture is removed.' }).waitFor();
      assert.equal(await whoami.locator('.avatar').textContent(), 'UT');
      await page.reload();
      await page.locator('#status', { hasText: 'Connected' }).waitFor();
      assert.equal(await page.locator('#whoami .avatar').textContent(), 'UT');
      await page.close();
      await other.close();
    }));
}
