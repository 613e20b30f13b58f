// Polls: made from the composer's poll form, shown as a card with an option per button,
// voted in, changed and taken back with a click, tallied live on every open page, closed by
// their author (others see no Close), and refused with a clear error when two options are
// alike. In both looks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signIn, openRoom, apiSession, apiCall, browserForFile, mainRoom, LOOKS } from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

/** Fills and sends the poll form. */
async function makePoll(page, question, options) {
  await page.getByRole('button', { name: 'Create a poll' }).click();
  const form = page.getByRole('form', { name: 'New poll' });
  await form.getByRole('textbox', { name: 'Question' }).fill(question);
  for (let i = 0; i < options.length; i += 1) {
    if (i >= 2) await form.getByRole('button', { name: 'Add option' }).click();
    await form.getByRole('textbox', { name: `Option ${i + 1}` }).fill(options[i]);
  }
  await form.getByRole('button', { name: 'Create poll' }).click();
}

/** The option button of the poll card in `row` whose label starts with `option`. */
const optionOf = (row, option) => row.locator('.poll-option', { has: row.page().locator('.poll-label', { hasText: new RegExp(`^${option}$`) }) });

for (const look of LOOKS) {
  test(`polls: made, voted, changed, tallied live and closed (${look.name})`, () =>
    withServer([], async (url) => {
      const sarahApi = await apiSession(url, 'sarah@example.com');
      const owner = await signIn(file.browser, url, 'user1@example.com', look);
      await openRoom(owner);
      const sarah = await signIn(file.browser, url, 'sarah@example.com', look);
      await openRoom(sarah);

      await makePoll(owner, 'Where do we eat?', ['Lake', 'Hills', 'Pier']);
      const mine = owner.locator('#messages li.message[data-id]', { hasText: 'Where do we eat?' });
      const theirs = sarah.locator('#messages li.message[data-id]', { hasText: 'Where do we eat?' });
      await mine.locator('.poll-total', { hasText: '0 votes' }).waitFor();
      await theirs.locator('.poll-total', { hasText: '0 votes' }).waitFor();
      assert.equal(await owner.getByRole('form', { name: 'New poll' }).isVisible(), false, 'the form closes');
      assert.equal(await theirs.locator('.poll-option').count(), 3);
      assert.equal(await theirs.getByRole('group', { name: 'Poll: Where do we eat?' }).count(), 1);

      // Sarah votes; both pages count it.
      await optionOf(theirs, 'Hills').click();
      await optionOf(theirs, 'Hills').and(sarah.locator('[aria-pressed="true"]')).waitFor();
      await optionOf(mine, 'Hills').filter({ hasText: '1 · 100%' }).waitFor();
      assert.equal(await optionOf(mine, 'Hills').getAttribute('aria-pressed'), 'false', 'not the owner\'s vote');
      await mine.locator('.poll-total', { hasText: '1 vote' }).waitFor();

      // A second voter through the API, then Sarah changes her vote and takes it back.
      const main = await mainRoom(url, sarahApi);
      const pollId = await mine.getAttribute('data-id');
      const oneApi = await apiSession(url, 'user1@example.com');
      await apiCall(url, oneApi.token, 'PUT', `/messages/${pollId}/poll/vote`, { option: 0 });
      await optionOf(theirs, 'Lake').filter({ hasText: '1 · 50%' }).waitFor();
      await optionOf(theirs, 'Lake').click();
      await optionOf(mine, 'Lake').filter({ hasText: '2 · 100%' }).waitFor();
      await optionOf(mine, 'Hills').filter({ hasText: '0 · 0%' }).waitFor();
      // Her own page shows the change before she clicks again (a click reads the shown vote).
      await optionOf(theirs, 'Lake').and(sarah.locator('[aria-pressed="true"]')).waitFor();
      await optionOf(theirs, 'Lake').click();
      await optionOf(mine, 'Lake').filter({ hasText: '1 · 100%' }).waitFor();
      await optionOf(theirs, 'Lake').and(sarah.locator('[aria-pressed="false"]')).filter({ hasText: '1 · 100%' }).waitFor();

      // From the keyboard: Enter on the message reaches its first option; Space votes.
      await theirs.focus();
      await sarah.keyboard.press('Enter');
      assert.equal(await optionOf(theirs, 'Lake').evaluate((b) => b === document.activeElement), true);
      await sarah.keyboard.press('Space');
      await optionOf(mine, 'Lake').filter({ hasText: '2 · 100%' }).waitFor();
      await optionOf(theirs, 'Lake').and(sarah.locator('[aria-pressed="true"]')).waitFor();
      assert.equal(await optionOf(theirs, 'Lake').evaluate((b) => b === document.activeElement), true, 'focus stays on the option voted for');
      await apiCall(url, sarahApi.token, 'DELETE', `/messages/${pollId}/poll/vote`);
      await optionOf(mine, 'Lake').filter({ hasText: '1 · 100%' }).waitFor();

      // Only the author (or a moderator) sees Close; closing stops the voting everywhere.
      assert.equal(await theirs.getByRole('button', { name: 'Close poll' }).count(), 0);
      await mine.getByRole('button', { name: 'Close poll' }).click();
      await theirs.locator('.poll-total', { hasText: '1 vote · Closed' }).waitFor();
      assert.equal(await optionOf(theirs, 'Pier').isDisabled(), true);
      const stored = await apiCall(url, sarahApi.token, 'GET', `/messages/${pollId}`);
      assert.deepEqual(stored.payload.data.counts, [1, 0, 0]);
      assert.equal(stored.payload.data.closed, true);
      assert.equal(stored.room_id, main.id);

      // Two options alike: refused in words, nothing sent.
      await makePoll(owner, 'Again?', ['Yes', 'yes']);
      await owner.locator('#error-text', { hasText: "An option can't be used: options must differ." }).waitFor();
      const page = await apiCall(url, sarahApi.token, 'GET', `/rooms/${main.id}/messages?limit=10`);
      assert.equal(page.messages.filter((m) => m.text === 'Again?').length, 0);
    }));
}
