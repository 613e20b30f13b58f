// The worked bot example (examples/bot) against the example server: made by the event's
// owner, it follows the change feed and answers a mention with a summary, shown in the client
// with its BOT badge; restarted, it resumes from its saved cursor without answering twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import {
  SERVER_BIN, signIn, openRoom, apiSession, apiCall, browserForFile, mainRoom,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;
const BOT_BIN = process.env.CHAT_BOT_BIN || join(dirname(SERVER_BIN), 'bot');

/** Starts the bot and resolves once it follows the feed. */
async function startBot(url, token, state) {
  const child = spawn(BOT_BIN, ['--url', url, '--token', token, '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bot did not start:\n${output}`)), 15000);
    const read = (chunk) => {
      output += chunk;
      if (output.includes('following the feed')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => reject(new Error(`the bot exited (${code}):\n${output}`)));
  });
  child.removeAllListeners('exit');
  return { stop: () => new Promise((resolve) => { child.on('exit', resolve); child.kill('SIGKILL'); }), output: () => output };
}

/** The bot's replies to `messageId` in the room, read through the API. */
async function repliesTo(url, session, roomId, messageId) {
  const page = await apiCall(url, session.token, 'GET', `/rooms/${roomId}/messages?limit=100`);
  return page.messages.filter((m) => m.reply_to === messageId && m.is_ai_generated);
}

async function waitFor(check, what) {
  const deadline = Date.now() + 15000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the example bot answers mentions with a summary, and resumes after a restart', () =>
  withServer([], async (url) => {
    const owner = await apiSession(url, 'user1@example.com');
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const made = await apiCall(url, owner.token, 'POST', `/events/${main.event_id}/bots`, {
      display_name: 'Trip Bot', room_ids: [main.id],
    });
    const state = join(mkdtempSync(join(tmpdir(), 'chat-bot-')), 'cursor.json');
    let bot = await startBot(url, made.token, state);
    try {
      const say = (text) => apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text }).then((r) => r.message);
      await say('the lake trip is on saturday');
      await say('bring towels for the lake');
      const ask = await say(`@[Trip Bot](${made.user.id}) can you sum this up?`);
      const [reply] = await waitFor(async () => {
        const found = await repliesTo(url, sarah, main.id, ask.id);
        return found.length ? found : null;
      }, 'the summary');
      assert.match(reply.text, /^Summary of the last 3 messages: Sarah Chen 3\. Most used words: lake \(2\)/);
      assert.equal(reply.author_id, made.user.id);

      // In the client: the answer, under its quote, with the BOT badge.
      const page = await signIn(file.browser, url, 'user1@example.com');
      await openRoom(page);
      const row = page.locator('#messages li.message[data-id]', { hasText: 'Summary of the last 3 messages' });
      await row.waitFor();
      assert.equal(await row.locator('.bot-badge').textContent(), 'BOT');
      assert.match(await row.locator('.reply-quote').textContent(), /Sarah Chen: @Trip Bot can you sum this up\?/);

      // Killed and started again: it goes on from its cursor and answers the new mention once.
      await bot.stop();
      const again = await say(`@[Trip Bot](${made.user.id}) and now?`);
      bot = await startBot(url, made.token, state);
      await waitFor(async () => (await repliesTo(url, sarah, main.id, again.id)).length === 1, 'the second summary');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await repliesTo(url, sarah, main.id, ask.id)).length, 1, 'the first mention is not answered twice');
      assert.equal((await repliesTo(url, sarah, main.id, again.id)).length, 1);
    } finally {
      await bot.stop();
      rmSync(dirname(state), { recursive: true, force: true });
    }
  }));

test('the example bot answers /poll with a poll that members vote in', () =>
  withServer([], async (url) => {
    const owner = await apiSession(url, 'user1@example.com');
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const made = await apiCall(url, owner.token, 'POST', `/events/${main.event_id}/bots`, {
      display_name: 'Poll Bot', room_ids: [main.id],
    });
    const state = join(mkdtempSync(join(tmpdir(), 'chat-bot-')), 'cursor.json');
    const bot = await startBot(url, made.token, state);
    try {
      const say = (text) => apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text }).then((r) => r.message);
      const ask = await say('/poll Lunch where? | Pizza place | Salad bar');
      const bad = await say('/poll Lunch? | only one');
      const [poll] = await waitFor(async () => {
        const found = await repliesTo(url, sarah, main.id, ask.id);
        return found.length ? found : null;
      }, 'the poll');
      assert.equal(poll.text, 'Lunch where?');
      assert.deepEqual(poll.payload.data.options, ['Pizza place', 'Salad bar']);
      const [usage] = await waitFor(async () => {
        const found = await repliesTo(url, sarah, main.id, bad.id);
        return found.length ? found : null;
      }, 'the usage answer');
      assert.match(usage.text, /^To make a poll: \/poll Question\? \| first option \| second option$/);
      assert.equal(usage.payload, undefined);

      // In the client: the bot's poll, with its badge, takes a vote.
      const page = await signIn(file.browser, url, 'user1@example.com');
      await openRoom(page);
      const row = page.locator('#messages li.message[data-id]', { hasText: 'Lunch where?' });
      await row.locator('.bot-badge').waitFor();
      await row.locator('.poll-option', { hasText: 'Salad bar' }).click();
      await row.locator('.poll-option[aria-pressed="true"]', { hasText: 'Salad bar' }).filter({ hasText: '1 · 100%' }).waitFor();
      const stored = await apiCall(url, sarah.token, 'GET', `/messages/${poll.id}`);
      assert.deepEqual(stored.payload.data.votes, { [owner.user.id]: 1 });
    } finally {
      await bot.stop();
      rmSync(dirname(state), { recursive: true, force: true });
    }
  }));
