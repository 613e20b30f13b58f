// chat-engine embedded in another app: examples/host-app, an axum app with its own sign-up and
// sign-in pages, cookie sessions and `users` table, serves chat's client under /chat. Two of
// its users sign in through the app's own forms and chat; chat never shows a sign-in form of
// its own; signing out of the app ends chat access at once; the app's tables are untouched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, launchBrowser, openRoom, send, startHostApp, storedMessages } from '../lib/harness.js';

const PASSWORD = 'host-password-1';

/** Signs up through the host app's own form; it sends the new user on to the chat. */
async function signUp(browser, url, username, name) {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(10000);
  await page.goto(`${url}/signup`);
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="display_name"]', name);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForURL(`${url}/chat/`);
  await page.locator('#status', { hasText: 'Connected' }).waitFor();
  return page;
}

test('two users of a host app sign in through its forms and chat under /chat', async () => {
  const db = freshDatabase();
  const files = mkdtempSync(join(tmpdir(), 'host-app-files-'));
  const app = await startHostApp({ databaseUrl: db.url, files });
  const ada = await launchBrowser();
  const bob = await launchBrowser();
  try {
    // Signed out, the chat page hands over to the host's sign-in page, never chat's own form.
    const first = await ada.context.newPage();
    first.setDefaultTimeout(10000);
    await first.goto(`${app.url}/chat/`);
    await first.waitForURL(`${app.url}/login?next=/chat/`);
    await first.close();

    const adaPage = await signUp(ada, app.url, 'ada', 'Ada Lovelace');
    assert.equal(await adaPage.locator('#auth').isVisible(), false, 'no chat sign-in form');
    await openRoom(adaPage, 'Team', 'Main');

    // Bob signs up, signs out of the app, and signs back in through its sign-in form.
    const bobFirst = await signUp(bob, app.url, 'bob', 'Bob');
    await bobFirst.goto(`${app.url}/`);
    await bobFirst.click('button:text-is("Sign out")');
    await bobFirst.waitForURL(`${app.url}/login`);
    await bobFirst.goto(`${app.url}/login?next=/chat/`);
    await bobFirst.fill('input[name="username"]', 'bob');
    await bobFirst.fill('input[name="password"]', PASSWORD);
    await bobFirst.click('button[type="submit"]');
    await bobFirst.waitForURL(`${app.url}/chat/`);
    await bobFirst.locator('#status', { hasText: 'Connected' }).waitFor();
    const bobPage = bobFirst;
    await openRoom(bobPage, 'Team', 'Main');

    // They chat, live both ways, with the host's names.
    await send(adaPage, 'hello from the host app');
    await storedMessages(bobPage, 'hello from the host app').waitFor();
    await send(bobPage, 'hi Ada');
    await storedMessages(adaPage, 'hi Ada').waitFor();
    const author = adaPage.locator('#messages li.message[data-id]', { hasText: 'hi Ada' }).locator('.author');
    assert.equal((await author.textContent()).trim(), 'Bob');

    // Chat's Sign out is the host's: the app's session ends, and with it chat access.
    await adaPage.click('#sign-out');
    await adaPage.waitForURL(`${app.url}/login`);
    const after = await adaPage.evaluate(async () => (await fetch('/chat/v1/me')).status);
    assert.equal(after, 401);

    // The host's own tables and migrations are as the host left them; chat's are in `chat`.
    assert.equal(db.query('SELECT string_agg(username, \',\' ORDER BY id) FROM public.users'), 'team,ada,bob');
    assert.equal(db.query('SELECT string_agg(version::text, \',\') FROM public._sqlx_migrations'), '1');
    assert.equal(db.query('SELECT count(*) FROM public.messages'), '0');
    assert.equal(db.query("SELECT count(*) FROM chat.messages WHERE text = 'hello from the host app'"), '1');
    assert.ok(Number(db.query('SELECT count(*) FROM chat._sqlx_migrations')) > 1);

    for (const browser of [ada, bob]) {
      assert.deepEqual(browser.pageErrors.map(String), []);
    }
  } finally {
    await ada.close();
    await bob.close();
    await app.stop();
    db.drop();
    rmSync(files, { recursive: true, force: true });
  }
});
