// Reading: the safe markdown subset, emoji shortcodes, avatars, runs of one author, day
// separators, dark mode, and errors in words a person understands.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  signIn, openRoom, storedMessages, apiSession, apiCall, browserForFile, mainRoom, sideRoom,
} from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

test('markdown, links and shortcodes render safely', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const main = await mainRoom(url, sarah);
    const post = (text) => apiCall(url, sarah.token, 'POST', `/rooms/${main.id}/messages`, { text });
    await post('**bold** _it_ ~~gone~~ `x < y` see https://example.com/a_(b). :tada: :nope:');
    await post('<img src=x onerror="window.pwned=1"> and <b>not bold</b>');
    await post('```\n**not bold** <i>raw</i>\n```');
    await post('> quoted line\nafter the quote');

    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    const first = page.locator('#messages li.message[data-id]', { hasText: 'see https://example.com' }).locator('.body');
    await first.waitFor();
    assert.equal(await first.locator('strong').textContent(), 'bold');
    assert.equal(await first.locator('em').textContent(), 'it');
    assert.equal(await first.locator('del').textContent(), 'gone');
    assert.equal(await first.locator('code').textContent(), 'x < y');
    const link = first.locator('a');
    assert.equal(await link.getAttribute('href'), 'https://example.com/a_(b)', 'the final period is not part of it');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await first.locator('.emoji').textContent(), '🎉');
    assert.match(await first.textContent(), /:nope:/, 'unknown shortcodes stay as typed');

    // Raw HTML is text, never markup.
    const html = page.locator('#messages li.message[data-id] .body', { hasText: 'onerror' });
    await html.waitFor();
    assert.equal(await html.textContent(), '<img src=x onerror="window.pwned=1"> and <b>not bold</b>');
    assert.equal(await page.locator('#messages img').count(), 0);
    assert.equal(await page.locator('#messages .body b').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);

    // Nothing inside a code block is markup; quotes are quotes.
    const block = page.locator('#messages pre.code-block code');
    assert.equal(await block.textContent(), '**not bold** <i>raw</i>');
    assert.equal(await page.locator('#messages blockquote').textContent(), 'quoted line');
  }));

test('avatars, runs of one author and day separators', () =>
  withServer(['--send-rate', '1000'], async (url) => {
    const sarah = await apiSession(url, 'sarah@example.com');
    const one = await apiSession(url, 'user1@example.com');
    const main = await mainRoom(url, sarah);
    for (const [who, text] of [[sarah, 'run one'], [sarah, 'run two'], [sarah, 'run three'], [one, 'someone else'], [sarah, 'sarah again']]) {
      await apiCall(url, who.token, 'POST', `/rooms/${main.id}/messages`, { text });
    }
    const page = await signIn(file.browser, url, 'user1@example.com');
    await openRoom(page);
    await storedMessages(page, 'sarah again').waitFor();
    const row = (text) => page.locator('#messages li.message[data-id]', { hasText: text });
    const continued = async (text) => (await row(text).getAttribute('class')).includes('continued');
    await page.waitForFunction(() => document.querySelector('#messages li.day') !== null);
    assert.equal(await continued('run one'), false, 'a run starts with the author');
    assert.equal(await continued('run two'), true);
    assert.equal(await continued('run three'), true);
    assert.equal(await continued('someone else'), false);
    assert.equal(await continued('sarah again'), false);
    assert.equal(await row('run one').locator('.avatar').textContent(), 'SC');
    assert.equal(await row('someone else').locator('.avatar').textContent(), 'UO');
    const days = await page.locator('#messages li.day').allTextContents();
    assert.deepEqual(days, ['Today'], 'one separator, before the first message of the day');
    const firstItem = await page.locator('#messages > li').first().getAttribute('class');
    assert.equal(firstItem, 'day');
  }));

test('dark mode follows the system until the reader picks a theme', () =>
  withServer([], async (url) => {
    const page = await signIn(file.browser, url, 'user1@example.com');
    const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    assert.equal(await background(), 'rgb(246, 247, 249)');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(), 'rgb(21, 24, 30)');
    // Auto → Light: light even though the system is dark, and remembered.
    await page.click('#theme-toggle');
    assert.equal(await background(), 'rgb(246, 247, 249)');
    assert.equal(await page.evaluate(() => localStorage.getItem('chat-engine.theme')), 'light');
    await page.click('#theme-toggle');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.equal(await background(), 'rgb(21, 24, 30)', 'Dark, whatever the system says');
    await page.reload();
    await page.locator('#status', { hasText: 'Connected' }).waitFor();
    assert.equal(await background(), 'rgb(21, 24, 30)', 'the choice survives a reload');
    await page.click('#theme-toggle');
    assert.equal(await background(), 'rgb(246, 247, 249)', 'back to Auto: the system is light');
  }));

test('errors read as words, not codes', () =>
  withServer([], async (url) => {
    const page = await signIn(file.browser, url, 'user1@example.com');
    await page.click('#events button:text-is("My Event")');
    await page.locator('#rooms-section').waitFor();
    await page.fill('#new-room input[name="name"]', 'Main');
    await page.click('#new-room button[type="submit"]');
    const banner = page.locator('#error-text');
    await banner.filter({ hasText: 'That name is already taken here. Please choose another.' }).waitFor();
    assert.doesNotMatch(await banner.textContent(), /conflict/);
  }));
