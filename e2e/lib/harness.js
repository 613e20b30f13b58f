// What every browser test needs: the example server as a child process, Debian's chromium
// with a fresh profile, and signing in through the page like a person would.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVER_BIN = process.env.CHAT_SERVER_BIN || join(root, 'target', 'debug', 'examples', 'server');
export const PASSWORD = 'password123';
// Fixed for a test run only, so a restarted server accepts the tokens the pages hold.
const JWT_SECRET = 'e2e-only-secret-0123456789abcdef0123456789';

export const HOST_APP_BIN = process.env.CHAT_HOST_APP_BIN || join(root, 'target', 'debug', 'host-app');

/**
 * Starts the example server on 127.0.0.1 (port 0 unless `port` is given) and resolves once
 * it prints its URL. `args` are extra flags.
 */
export async function startServer({ args = [], port = 0 } = {}) {
  // The database comes from the flags only: an inherited DATABASE_URL must not turn an
  // in-memory test into a PostgreSQL one.
  const env = { ...process.env, RUST_LOG: 'warn' };
  delete env.DATABASE_URL;
  return startProcess(
    SERVER_BIN,
    ['--bind', `127.0.0.1:${port}`, '--jwt-secret', JWT_SECRET, '--demo-password', PASSWORD, ...args],
    env,
  );
}

/** Starts `examples/host-app` on 127.0.0.1:0 over `databaseUrl`, keeping files in `files`. */
export async function startHostApp({ databaseUrl, files }) {
  const env = { ...process.env, RUST_LOG: 'warn', DATABASE_URL: databaseUrl };
  return startProcess(HOST_APP_BIN, ['--bind', '127.0.0.1:0', '--files', files], env);
}

/** Spawns a server and resolves once it prints `listening on http://…`. */
async function startProcess(bin, args, env) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30000);
    const read = (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/[0-9.:]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => reject(new Error(`server exited (${code}):\n${output}`)));
  });
  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    url,
    port: Number(new URL(url).port),
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A fresh, empty PostgreSQL database for one test; returns its URL and a drop function. */
export function freshDatabase() {
  const base = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = `e2e_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new URL(base);
  const psql = (sql) =>
    execFileSync('psql', [admin.toString(), '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'pipe' });
  psql(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const query = (sql) =>
    execFileSync('psql', [url.toString(), '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' }).toString().trim();
  return { url: url.toString(), query, drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Debian's chromium, headless, with a fresh profile directory. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const pageErrors = [];
  context.on('page', (page) => page.on('pageerror', (e) => pageErrors.push(e)));
  return {
    context,
    pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The two looks every screen is tested in besides the default: a phone (390×844) and dark. */
export const LOOKS = [
  { name: 'desktop, light', phone: false, dark: false },
  { name: 'phone, dark', phone: true, dark: true },
];

/** Sets a page's size and colour scheme: a phone (390×844) or a desktop (1280×800), dark or
 * light. */
export async function setLook(page, { phone = false, dark = false } = {}) {
  await page.setViewportSize(phone ? { width: 390, height: 844 } : { width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: dark ? 'dark' : 'light' });
}

/** Opens the client in a new tab and signs in (sessions are per tab), in `look` if given. */
export async function signIn(browser, url, email, look) {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(10000);
  if (look) await setLook(page, look);
  await page.goto(url);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.locator('#status', { hasText: 'Connected' }).waitFor();
  return page;
}

/** Allows notifications for `url` and records each one the pages show, through the real
 * Notification API, in `window.__notes` ({ title, body }). */
export async function recordNotifications(context, url) {
  await context.grantPermissions(['notifications'], { origin: url });
  await context.addInitScript(() => {
    window.__notes = [];
    const Real = window.Notification;
    window.Notification = class extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options && options.body });
      }
    };
  });
}

/** Opens an event and a room by their names, as the original design's test does. */
export async function openRoom(page, event = 'My Event', room = 'Main') {
  // On a phone an open room hides the lists. The client opens the event's room by itself
  // after sign-in: wait for that, then go back to the lists.
  if ((page.viewportSize()?.width ?? 1280) <= 600) {
    await page.locator('#back').waitFor({ timeout: 5000 }).catch(() => {});
    if (await page.locator('#back').isVisible()) await page.click('#back');
  }
  // Choosing an event with no room open opens one of its rooms by itself: on a phone that
  // hides the list again, so an event already chosen is not chosen twice.
  const chosen = page.locator(`#events button.selected:text-is("${event}")`);
  if (!(await chosen.isVisible())) await page.click(`#events button:text-is("${event}")`);
  if (await page.locator('#back').isVisible()) await page.click('#back');
  await page.click(`#rooms button:text-is("${room}")`);
  await page.locator('#room-title', { hasText: room }).waitFor();
  await page.locator('#composer').waitFor();
}

/** Types a message and presses Enter. */
export async function send(page, text) {
  await page.fill('textarea[placeholder*="Type a message"]', text);
  await page.press('textarea[placeholder*="Type a message"]', 'Enter');
}

/** The stored (not pending) messages whose text is exactly `text`. */
export function storedMessages(page, text) {
  return page.locator('#messages li.message[data-id] .body').filter({ hasText: new RegExp(`^${escapeRegExp(text)}$`) });
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Signs in through the API (for a second user acting without a browser). */
export async function apiSession(url, email) {
  const response = await fetch(`${url}/v1/auth/sign-in`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (!response.ok) throw new Error(`sign-in failed: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function apiCall(url, token, method, path, body) {
  const response = await fetch(`${url}/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The demo event's Main room, as `session` sees it. */
export async function mainRoom(url, session) {
  return (await apiCall(url, session.token, 'GET', '/rooms')).find((r) => r.room.name === 'Main').room;
}

/** A public room "Side" in the demo event, made by `owner` and joined by each of `members`. */
export async function sideRoom(url, owner, ...members) {
  const main = await mainRoom(url, owner);
  const side = await apiCall(url, owner.token, 'POST', `/events/${main.event_id}/rooms`, {
    name: 'Side', kind: 'topic', visibility: 'public',
  });
  for (const member of members) await apiCall(url, member.token, 'POST', `/rooms/${side.id}/join`);
  return side;
}

/**
 * Runs `fn(url)` against a fresh in-memory server started with `args`, then closes the test's
 * pages and stops the server, and checks that no page threw an uncaught error.
 */
export async function withServer(browser, args, fn) {
  const server = await startServer({ args });
  try {
    await fn(server.url);
  } finally {
    for (const page of browser.context.pages()) await page.close();
    await server.stop();
  }
  if (browser.pageErrors.length) {
    throw new Error(`uncaught errors in the pages: ${browser.pageErrors.map(String).join('; ')}`);
  }
}

/**
 * One browser for a test file (launched before its tests, closed after them), and
 * `withServer(args, fn)` bound to it.
 */
export function browserForFile() {
  const file = { browser: null };
  before(async () => {
    file.browser = await launchBrowser();
  });
  after(async () => {
    await file.browser.close();
  });
  file.withServer = (args, fn) => withServer(file.browser, args, fn);
  return file;
}
