// Attachments in the browser: one user drops an image and a PDF into the chat; the other sees
// the thumbnail arrive live, opens the image full size, and downloads the PDF with the same
// bytes. An oversized file and a refused type show their errors, and the text typed stays.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { signIn, openRoom, storedMessages, browserForFile } from '../lib/harness.js';

const file = browserForFile();
const { withServer } = file;

/** A small valid PDF, padded to `size` bytes with comment lines. */
function pdf(size) {
  let text = '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n'
    + '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n';
  while (text.length < size - 80) text += `%${'itinerary '.repeat(7)}\n`;
  return `${text}%%EOF\n`;
}

test('an image and a PDF travel from one user to another; bad files are refused clearly', () =>
  withServer([], async (url) => {
    const one = await signIn(file.browser, url, 'user1@example.com');
    const sarah = await signIn(file.browser, url, 'sarah@example.com');
    await openRoom(one);
    await openRoom(sarah);

    // Drag and drop, as a person would from their file manager: a PNG drawn in the page and
    // a PDF, dropped together onto the chat.
    const itinerary = pdf(20_000);
    const transfer = await one.evaluateHandle(async (pdfText) => {
      const canvas = document.createElement('canvas');
      canvas.width = 800;
      canvas.height = 600;
      const ctx = canvas.getContext('2d');
      const gradient = ctx.createLinearGradient(0, 0, 800, 600);
      gradient.addColorStop(0, '#ff7a18');
      gradient.addColorStop(1, '#3358d4');
      ctx.fillStyle = gradient;
      ctx.fillRect(0, 0, 800, 600);
      const png = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
      const dt = new DataTransfer();
      dt.items.add(new File([png], 'sunset.png', { type: 'image/png' }));
      dt.items.add(new File([pdfText], 'itinerary.pdf', { type: 'application/pdf' }));
      return dt;
    }, itinerary);
    await one.dispatchEvent('#chat', 'dragenter', { dataTransfer: transfer });
    await one.locator('#drop-hint').waitFor();
    await one.dispatchEvent('#chat', 'drop', { dataTransfer: transfer });
    await one.locator('#upload-tray li.upload.done').nth(1).waitFor();
    assert.equal(await one.locator('#upload-tray li.upload').count(), 2);
    await one.fill('#message-input', 'photos and the plan');
    await one.press('#message-input', 'Enter');
    await storedMessages(one, 'photos and the plan').waitFor();
    assert.ok(await one.locator('#upload-tray').isHidden(), 'the tray empties once sent');

    // Sarah sees it live: the thumbnail (320 px wide, from an 800 px image) and a file chip.
    const row = sarah.locator('#messages li.message[data-id]', { hasText: 'photos and the plan' });
    await row.waitFor();
    const thumb = row.locator('img.thumb');
    await thumb.waitFor();
    await sarah.waitForFunction(
      (img) => img.complete && img.naturalWidth > 0,
      await thumb.elementHandle(),
    );
    assert.equal(await thumb.evaluate((img) => img.naturalWidth), 320);
    assert.equal(await thumb.getAttribute('alt'), 'sunset.png');
    const chip = row.locator('a.file-chip');
    await chip.locator('.file-name', { hasText: 'itinerary.pdf' }).waitFor();
    assert.match(await chip.locator('.file-size').textContent(), /KB$/);

    // Opening the image shows it full size, in a tab of its own.
    await sarah.waitForFunction((a) => a.href.includes('sig='), await row.locator('a.image').elementHandle());
    const [full] = await Promise.all([
      file.browser.context.waitForEvent('page'),
      row.locator('a.image').click(),
    ]);
    await full.waitForLoadState();
    assert.equal(await full.evaluate(() => document.images[0] && document.images[0].naturalWidth), 800);
    await full.close();

    // The PDF downloads with exactly the uploaded bytes.
    await sarah.waitForFunction((a) => a.href.includes('sig='), await chip.elementHandle());
    const [download] = await Promise.all([sarah.waitForEvent('download'), chip.click()]);
    assert.equal(download.suggestedFilename(), 'itinerary.pdf');
    const bytes = readFileSync(await download.path());
    assert.equal(bytes.toString("latin1"), itinerary);

    // Too large: refused at once, with the limit in words; the typed text stays.
    await one.fill('#message-input', 'here is the big one');
    await one.setInputFiles('#file-input', {
      name: 'huge-scan.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from(pdf(6 * 1024 * 1024)),
    });
    const tooLarge = one.locator('#upload-tray li.upload.failed', { hasText: 'huge-scan.pdf' });
    await tooLarge.locator('[role="alert"]', { hasText: 'is too large (the limit is 5 MB)' }).waitFor();
    // A type the server refuses, sniffed from the bytes: a zip archive named like a photo.
    await one.setInputFiles('#file-input', {
      name: 'holiday.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('PK\u0003\u0004\u0014\u0000\u0000\u0000\u0008\u0000 not really a photo', 'latin1'),
    });
    await one
      .locator('#upload-tray li.upload.failed', { hasText: 'holiday.jpg is a type of file that cannot be shared here' })
      .waitFor();
    assert.equal(await one.inputValue('#message-input'), 'here is the big one');
    await tooLarge.getByRole('button', { name: 'Remove huge-scan.pdf' }).click();
    assert.equal(await one.locator('#upload-tray li.upload').count(), 1);
  }));
