// The members panel: an owner adds someone to a new event by email, invites them into a
// private room, and changes their role, mutes, bans and unbans them, each with its effect on
// the server; a plain member sees the list without moderation. In both looks (desktop light,
// phone dark), and the panel follows joins live.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, send, storedMessages, apiSession, apiCall, browserForFile, mainRoom, LOOKS,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

for (const look of LOOKS) {
  test(`members: add by email, invite, roles, mute, ban (${look.name})`, () =>
    withServer([], async (url) => {
      const sarah = await apiSession(url, 'sarah@example.com');
      const page = await signIn(file.browser, url, 'user1@example.com', look);
      await page.locator('#room-title', { hasText: 'Main' }).waitFor();
      if (look.phone) await page.click('#back');

      // A new event and a private room in it.
      await page.fill('#new-event input[name="name"]', 'Trip');
      await page.click('#new-event button[type="submit"]');
      await page.locator('#events button.selected', { hasText: 'Trip' }).waitFor();
      await page.fill('#new-room input[name="name"]', 'Plans');
      await page.check('#new-room input[name="private"]');
      await page.click('#new-room button[type="submit"]');
      await page.locator('#room-title', { hasText: 'Plans' }).waitFor();

      const panel = page.locator('#members');
      await page.click('#members-button');
      await panel.waitFor();
      assert.equal(await page.getAttribute('#members-button', 'aria-expanded'), 'true');
      await panel.locator('li.member', { hasText: 'User One (you)' }).waitFor();
      assert.equal(await panel.locator('li.member').count(), 1);
      if (look.phone) {
        const box = await panel.boundingBox();
        assert.ok(box.width <= 390 && box.x >= 0, `the panel fits the phone: ${JSON.stringify(box)}`);
      }

      // Sarah is in no room of Trip and not in the event: added by her email, then invited.
      await panel.locator('#add-form input[name="email"]').fill('SARAH@example.com');
      await panel.locator('#add-form button').click();
      await panel.locator('#members-note', { hasText: 'Sarah Chen was added to the event.' }).waitFor();
      await page.waitForFunction(() => [...document.querySelectorAll('#invite-form option')].some((o) => o.textContent === 'Sarah Chen'));
      await panel.locator('#invite-form select').selectOption({ label: 'Sarah Chen' });
      await panel.locator('#invite-form button').click();
      const her = panel.locator('li.member', { hasText: 'Sarah Chen' });
      await her.waitFor();
      const plans = (await apiCall(url, sarah.token, 'GET', '/rooms')).find((r) => r.room.name === 'Plans');
      assert.ok(plans && plans.membership, 'Sarah is a member of the private room');

      // Roles.
      await her.getByRole('button', { name: 'Make moderator: Sarah Chen' }).click();
      await her.locator('.member-facts', { hasText: 'Moderator' }).waitFor();
      await her.getByRole('button', { name: 'Make member: Sarah Chen' }).click();
      await her.getByRole('button', { name: 'Make moderator: Sarah Chen' }).waitFor();

      // Mute: her sends are refused until unmuted.
      await her.getByRole('button', { name: 'Mute 1 h: Sarah Chen' }).click();
      await her.locator('.member-facts', { hasText: 'Muted until' }).waitFor();
      await assert.rejects(
        apiCall(url, sarah.token, 'POST', `/rooms/${plans.room.id}/messages`, { text: 'muted?' }),
        /403/,
      );
      await her.getByRole('button', { name: 'Unmute: Sarah Chen' }).click();
      await her.getByRole('button', { name: 'Mute 1 h: Sarah Chen' }).waitFor();
      await apiCall(url, sarah.token, 'POST', `/rooms/${plans.room.id}/messages`, { text: 'unmuted' });

      // Ban: she can no longer read the room; unban gives it back.
      await her.getByRole('button', { name: 'Ban: Sarah Chen' }).click();
      await her.locator('.member-facts', { hasText: 'Banned' }).waitFor();
      await assert.rejects(apiCall(url, sarah.token, 'GET', `/rooms/${plans.room.id}/messages`), /404/);
      await her.getByRole('button', { name: 'Unban: Sarah Chen' }).click();
      await her.getByRole('button', { name: 'Ban: Sarah Chen' }).waitFor();
      await apiCall(url, sarah.token, 'GET', `/rooms/${plans.room.id}/messages`);

      await page.click('#members-close');
      assert.equal(await panel.isVisible(), false);
      assert.equal(await page.getAttribute('#members-button', 'aria-expanded'), 'false');
    }));

  test(`members: a plain member sees who is here, live, without moderation (${look.name})`, () =>
    withServer([], async (url) => {
      const page = await signIn(file.browser, url, 'sarah@example.com', look);
      await page.locator('#room-title', { hasText: 'Main' }).waitFor();
      await page.click('#members-button');
      const panel = page.locator('#members');
      await panel.locator('li.member', { hasText: 'Sarah Chen (you)' }).waitFor();
      await panel.locator('li.member', { hasText: 'User One' }).waitFor();
      assert.equal(await panel.locator('.member-actions').count(), 0);
      assert.equal(await panel.locator('#invite-form').isVisible(), false);
      assert.equal(await panel.locator('#add-form').isVisible(), false);

      // Someone new joins: the open panel shows them without a reload.
      const before = await panel.locator('li.member').count();
      const response = await fetch(`${url}/v1/auth/sign-up`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'newbie@example.com', password: 'password123', display_name: 'Newbie' }),
      });
      assert.equal(response.status, 201);
      const newbie = await response.json();
      const main = await mainRoom(url, newbie);
      await apiCall(url, newbie.token, 'POST', `/rooms/${main.id}/join`);
      await panel.locator('li.member', { hasText: 'Newbie' }).waitFor();
      assert.equal(await panel.locator('li.member').count(), before + 1);
      // The panel closes with its button, and the room is still usable behind it.
      await page.click(look.phone ? '#members-close' : '#members-button');
      await send(page, 'after the panel');
      await storedMessages(page, 'after the panel').waitFor();
    }));
}
