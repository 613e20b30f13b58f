// Two instances behind a real load balancer (Debian's HAProxy, installed by .ci/run), on one
// PostgreSQL database, with live changes crossing through the PostgreSQL broker.
//
// Each browser is pinned to an instance: HAProxy listens on two ports, each sending to "its"
// instance and to the other only as a backup. The two people chat live across instances;
// then one instance is killed, its user is moved to the other by the proxy, and sees what was
// sent meanwhile exactly once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startServer, freshDatabase, launchBrowser, signIn, openRoom, send, storedMessages,
} from '../lib/harness.js';

let db;
let browsers;

before(async () => {
  db = freshDatabase();
  browsers = [await launchBrowser(), await launchBrowser()];
});

after(async () => {
  for (const b of browsers) await b.close();
  db.drop();
});

/** A free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * HAProxy with one frontend per instance: frontend i prefers instance i and falls back to the
 * other. Health checks on /readyz notice a dead instance within a few hundred milliseconds.
 */
async function startProxy(ports) {
  const fronts = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'chat-haproxy-'));
  const backend = (name, primary, backup) => `
backend ${name}
    option httpchk GET /readyz
    option redispatch
    retries 3
    default-server inter 200ms fall 1 rise 2
    server primary 127.0.0.1:${primary} check
    server backup 127.0.0.1:${backup} check backup
`;
  const config = `
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
frontend a
    bind 127.0.0.1:${fronts[0]}
    default_backend via_a
frontend b
    bind 127.0.0.1:${fronts[1]}
    default_backend via_b
${backend('via_a', ports[0], ports[1])}
${backend('via_b', ports[1], ports[0])}
`;
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child = spawn(process.env.HAPROXY || 'haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  // Ready once it answers through a frontend.
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${fronts[1]}/readyz`);
      if (r.ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`haproxy did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    urls: fronts.map((p) => `http://127.0.0.1:${p}`),
    async stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('two browsers on two instances behind HAProxy chat live; a dead instance loses nothing', async () => {
  const a = await startServer({ args: ['--database-url', db.url, '--demo', '--metrics-bind', 'off'] });
  const b = await startServer({ args: ['--database-url', db.url, '--no-demo', '--metrics-bind', 'off'] });
  const proxy = await startProxy([a.port, b.port]);
  try {
    const one = await signIn(browsers[0], proxy.urls[0], 'user1@example.com');
    const two = await signIn(browsers[1], proxy.urls[1], 'user2@example.com');
    await openRoom(one);
    await openRoom(two);

    // Live across instances, both ways.
    await send(one, 'hello from instance a');
    await storedMessages(two, 'hello from instance a').waitFor({ timeout: 5000 });
    await send(two, 'hello from instance b');
    await storedMessages(one, 'hello from instance b').waitFor({ timeout: 5000 });

    // Instance a dies; its user is moved to b by the proxy and misses nothing.
    await a.stop('SIGKILL');
    await one.locator('#status', { hasText: 'Reconnecting' }).waitFor();
    const meanwhile = ['while a was down 1', 'while a was down 2'];
    for (const text of meanwhile) {
      await send(two, text);
      await storedMessages(two, text).waitFor();
    }
    await one.locator('#status', { hasText: 'Connected' }).waitFor({ timeout: 20000 });
    for (const text of meanwhile) await storedMessages(one, text).waitFor({ timeout: 5000 });

    // And it is live on its new instance.
    await send(two, 'after the move');
    await storedMessages(one, 'after the move').waitFor({ timeout: 5000 });
    await send(one, 'back from a, now on b');
    await storedMessages(two, 'back from a, now on b').waitFor({ timeout: 5000 });

    for (const text of ['hello from instance a', 'hello from instance b', ...meanwhile, 'after the move']) {
      assert.equal(await storedMessages(one, text).count(), 1, `"${text}" shown once on page one`);
      assert.equal(await storedMessages(two, text).count(), 1, `"${text}" shown once on page two`);
    }
    for (const browser of browsers) assert.deepEqual(browser.pageErrors.map(String), []);
  } finally {
    await proxy.stop();
    await a.stop();
    await b.stop();
  }
});
