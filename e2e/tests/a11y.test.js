// Accessibility: axe-core on every screen of the client (sign-in, room with a poll, the poll
// form, emoji picker, thread, search results, profile picture dialog, members panel, room
// list), light and dark, desktop and phone.
// No violation of impact "serious" or "critical" is allowed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  signIn, openRoom, apiSession, apiCall, browserForFile,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe on the page (evaluated by the driver: the page's CSP allows no injected script). */
async function audit(page, screen) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(' | ')}`),
    [],
    `${screen}: serious or critical violations`,
  );
}

test('every screen passes axe in light and dark, on desktop and phone', () =>
  withServer([], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const main = (await apiCall(url, sarah.token, 'GET', '/rooms')).find((r) => r.room.name === 'Main').room;
    const asked = (await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, {
      text: `**Welcome** @[User One](${one.user.id}) :tada: see https://example.com`,
    })).message;
    await apiCall(url, sarah.token, 'PUT', `/messages/${asked.id}/reactions/${encodeURIComponent('👍')}`);
    const poll = (await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, {
      text: 'Lake or hills?', payload: { kind: 'poll', data: { options: ['Lake', 'Hills'] } },
    })).message;
    await apiCall(url, one.token, 'PUT', `/messages/${poll.id}/poll/vote`, { option: 0 });
    await apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text: 'a reply', reply_to: asked.id });

    for (const [width, height] of [[1200, 800], [390, 844]]) {
      for (const scheme of ['light', 'dark']) {
        const where = `${width}px ${scheme}`;
        const start = await file.browser.context.newPage();
        await start.setViewportSize({ width, height });
        await start.emulateMedia({ colorScheme: scheme });
        await start.goto(url);
        await start.locator('#auth-form').waitFor();
        await audit(start, `sign-in, ${where}`);
        await start.close();

        const page = await signIn(file.browser, url, 'user1@example.com');
        await page.setViewportSize({ width, height });
        await page.emulateMedia({ colorScheme: scheme });
        await page.locator('#room-title', { hasText: 'Main' }).waitFor();
        await page.locator('#messages li.message[data-id] .reply-quote', { hasText: 'Welcome' }).waitFor();
        await page.locator('#messages .poll-option[aria-pressed="true"]').waitFor();
        await audit(page, `room, ${where}`);
        await page.getByRole('button', { name: 'Create a poll' }).click();
        await page.getByRole('form', { name: 'New poll' }).waitFor();
        await audit(page, `poll form, ${where}`);
        await page.keyboard.press('Escape');

        const row = page.locator('#messages li.message[data-id]', { hasText: 'a reply' });
        await row.click();
        await row.getByRole('button', { name: 'React' }).click();
        await page.locator('#emoji-picker').waitFor();
        await audit(page, `emoji picker, ${where}`);
        await page.keyboard.press('Escape');

        await page.locator('.thread-link').click();
        await page.locator('#thread-list li.message').first().waitFor();
        await audit(page, `thread, ${where}`);
        await page.click('#thread-close');

        await page.fill('#search input[name="q"]', 'welcome');
        await page.click('#search button[type="submit"]');
        await page.locator('#search-list .search-hit').first().waitFor();
        await audit(page, `search results, ${where}`);
        await page.click('#search-close');

        await page.click('#whoami');
        await page.locator('#profile').waitFor();
        await audit(page, `profile picture dialog, ${where}`);
        await page.keyboard.press('Escape');

        await page.click('#members-button');
        await page.locator('#members li.member').nth(1).waitFor();
        await page.locator('#invite-form').waitFor();
        await audit(page, `members panel, ${where}`);
        await page.click('#members-close');

        if (width < 600) {
          await page.click('#back');
          await page.locator('#rooms-section').waitFor();
          await audit(page, `room list, ${where}`);
        }
        await page.close();
      }
    }
  }));
