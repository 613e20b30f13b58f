// Takes the README's screenshots (docs/screenshots/) from a fresh example server: a small
// conversation in the demo event (with a poll), shown on a desktop in light and dark and on a
// phone.
//
//   cargo build --example server && cd e2e && npm run screenshots

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import {
  startServer, launchBrowser, signIn, apiSession, apiCall, mainRoom, sideRoom,
} from './lib/harness.js';

const out = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'docs', 'screenshots');

/** A 96×96 PNG: a sunset over a lake, for Sarah's profile picture (made here, so that no
 * binary hides in the tree). */
function picture() {
  const size = 96;
  const rows = [];
  for (let y = 0; y < size; y += 1) {
    const row = [0];
    for (let x = 0; x < size; x += 1) {
      const sun = (x - 48) ** 2 + (y - 52) ** 2 < 18 ** 2 && y < 60;
      const rgb = y >= 60 ? [40, 90 + y, 160] : sun ? [255, 196, 64] : [240, 120 + y, 90 + y];
      row.push(...rgb);
    }
    rows.push(Buffer.from(row));
  }
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k += 1) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A fresh server with the scene: User One has read up to the plan, so what follows is new. */
async function scene() {
  const server = await startServer();
  const url = server.url;
  const [sarah, one, two] = await Promise.all(
    ['sarah@example.com', 'user1@example.com', 'user2@example.com'].map((e) => apiSession(url, e)),
  );
  const uploaded = await fetch(`${url}/v1/me/avatar`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${sarah.token}`, 'Content-Type': 'image/png' },
    body: picture(),
  });
  if (!uploaded.ok) throw new Error(`profile picture: ${uploaded.status} ${await uploaded.text()}`);
  const main = await mainRoom(url, sarah);
  const side = await sideRoom(url, sarah, one, two);
  await apiCall(url, sarah.token, 'PATCH', `/rooms/${side.id}`, { name: 'Logistics' });
  const post = (who, room, body) => apiCall(url, who.token, 'POST', `/rooms/${room}/messages`, body).then((r) => r.message);
  const welcome = await post(sarah, main.id, { text: 'Welcome to the **lake trip** chat! :tada:' });
  await post(sarah, main.id, { text: 'The plan is at https://example.com/trip and we leave at 9.' });
  await apiCall(url, one.token, 'POST', `/rooms/${main.id}/read`, { seq: welcome.seq + 1 });
  await post(two, main.id, { text: `Sounds great @[User One](${one.user.id}), are you driving?` });
  await post(one, main.id, { text: 'Yes! I have room for three. :car: Bring:\n> snacks\n> sunscreen' });
  for (const who of [two, one]) {
    await apiCall(url, who.token, 'PUT', `/messages/${welcome.id}/reactions/${encodeURIComponent('🎉')}`);
  }
  await post(two, main.id, { text: 'Count me in', reply_to: welcome.id });
  const poll = await post(sarah, main.id, {
    text: 'Where do we eat on the way back?',
    payload: { kind: 'poll', data: { options: ['Lake café', 'Pizza in town', 'Picnic'] } },
  });
  for (const [who, option] of [[sarah, 0], [two, 0], [one, 2]]) {
    await apiCall(url, who.token, 'PUT', `/messages/${poll.id}/poll/vote`, { option });
  }
  await post(sarah, side.id, { text: `@[User One](${one.user.id}) can you bring the cooler?` });
  return server;
}

const browser = await launchBrowser();
try {
  for (const [name, look] of [
    ['desktop-light', { phone: false, dark: false }],
    ['desktop-dark', { phone: false, dark: true }],
    ['phone-light', { phone: true, dark: false }],
  ]) {
    const server = await scene();
    const page = await signIn(browser, server.url, 'user1@example.com', look);
    await page.locator('#messages li.message[data-id]', { hasText: 'Count me in' }).waitFor();
    await page.locator('#messages li.new-line').waitFor();
    await page.locator('#messages .poll-total', { hasText: '3 votes' }).waitFor();
    if (!look.phone) {
      await page.click('#members-button');
      await page.locator('#members li.member').nth(2).waitFor();
    }
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`wrote docs/screenshots/${name}.png`);
    await page.close();
    await server.stop();
  }
} finally {
  await browser.close();
}
