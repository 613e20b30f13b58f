// Attachments: uploading files (attach button, drag and drop, paste), with a progress bar and
// a cancel button per file, and showing them in messages (images inline at thumbnail size,
// other files as a chip with name, size and a download link).
//
// Images and downloads use short-lived signed links from the server, which work in <img src>
// and <a href> without the Authorization header. They are fetched when a message is shown
// and cached until shortly before they expire.

import { ApiError, apiUrl, authHeaders, call } from './api.js';

// The server's default limit. The server enforces its own; checking here first spares a
// user the wait of uploading a file that will be refused.
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

const UPLOAD_ERRORS = {
  payload_too_large: 'is too large (the limit is 5 MB)',
  unsupported_media_type: 'is a type of file that cannot be shared here',
  forbidden: 'cannot be shared: you may not post in this room',
  not_found: 'cannot be shared: the room is gone',
  network: 'did not upload: the connection failed',
};

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ----- showing attachments -----

const links = new Map(); // attachment id → Promise of { url, thumbnail_url, expires_at }

/** Signed links for an attachment, reused until 30 s before they expire. */
export function linksFor(id) {
  const cached = links.get(id);
  if (cached && cached.until > Date.now()) return cached.promise;
  const promise = call('GET', `/attachments/${encodeURIComponent(id)}/links`);
  const entry = { promise, until: Date.now() + 60_000 };
  links.set(id, entry);
  promise.then(
    (l) => {
      entry.until = new Date(l.expires_at).getTime() - 30_000;
    },
    () => links.delete(id),
  );
  return promise;
}

/** The attachments of a message, as a block to put under its text. */
export function renderAttachments(attachments) {
  const box = el('div', 'attachments');
  for (const a of attachments) box.append(a.thumbnail ? imageTile(a) : fileChip(a));
  return box;
}

function imageTile(a) {
  const link = el('a', 'image');
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  link.title = `${a.file_name} (${a.width}×${a.height}, ${formatSize(a.size)}) — open full size`;
  const img = el('img', 'thumb');
  img.alt = a.file_name;
  // Reserve the space now, so the list does not jump when the image arrives.
  img.width = a.thumbnail.width;
  img.height = a.thumbnail.height;
  img.dataset.attachmentId = a.id;
  link.append(img);
  linksFor(a.id).then(
    (l) => {
      img.src = l.thumbnail_url;
      link.href = l.url;
    },
    () => img.replaceWith(el('span', 'attachment-gone', `${a.file_name} is no longer available`)),
  );
  return link;
}

function fileChip(a) {
  const chip = el('a', 'file-chip');
  chip.dataset.attachmentId = a.id;
  chip.setAttribute('download', a.file_name);
  chip.rel = 'noopener noreferrer';
  chip.append(el('span', 'file-icon', '📄'), el('span', 'file-name', a.file_name), el('span', 'file-size', formatSize(a.size)));
  chip.title = `Download ${a.file_name}`;
  linksFor(a.id).then(
    (l) => {
      chip.href = l.url;
    },
    () => chip.classList.add('gone'),
  );
  return chip;
}

// ----- uploading -----

/**
 * The files waiting to go with the next message, shown in `tray`. Each uploads at once,
 * with a progress bar and a cancel button; a failure is shown on its item, in words.
 */
export class Uploads {
  constructor(tray, onChange) {
    this.tray = tray;
    this.onChange = onChange;
    this.items = [];
  }

  /** Starts uploading `file` into `roomId`. */
  add(file, roomId) {
    const name = file.name || `pasted-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
    const item = { name, size: file.size, attachment: null, xhr: null, error: null, node: el('li', 'upload') };
    this.items.push(item);
    const progress = el('progress');
    progress.max = 1;
    progress.value = 0;
    const label = el('span', 'upload-name', `${name} · ${formatSize(file.size)}`);
    const status = el('span', 'upload-status', '');
    const cancel = el('button', 'link upload-cancel', 'Cancel');
    cancel.type = 'button';
    cancel.setAttribute('aria-label', `Remove ${name}`);
    cancel.addEventListener('click', () => this.remove(item));
    item.node.append(label, progress, status, cancel);
    this.tray.append(item.node);
    this.tray.hidden = false;

    const failed = (code, message) => {
      item.error = `${name} ${UPLOAD_ERRORS[code] || `did not upload: ${message}`}`;
      item.node.classList.add('failed');
      progress.remove();
      status.textContent = item.error;
      status.setAttribute('role', 'alert');
      cancel.textContent = 'Dismiss';
      this.onChange();
    };
    if (file.size > MAX_UPLOAD_BYTES) {
      failed('payload_too_large');
      return;
    }
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open('POST', apiUrl(`/rooms/${encodeURIComponent(roomId)}/uploads?file_name=${encodeURIComponent(name)}`));
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('Content-Type', file.type || 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) progress.value = e.loaded / e.total;
    });
    xhr.addEventListener('load', () => {
      item.xhr = null;
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (e) {
        body = null;
      }
      if (xhr.status === 201 && body) {
        item.attachment = body;
        item.node.classList.add('done');
        progress.value = 1;
        status.textContent = 'Ready';
        this.onChange();
      } else {
        const err = new ApiError(xhr.status, body);
        failed(err.code, err.message);
      }
    });
    xhr.addEventListener('error', () => {
      item.xhr = null;
      failed('network');
    });
    xhr.send(file);
    this.onChange();
  }

  remove(item) {
    if (item.xhr) item.xhr.abort();
    item.node.remove();
    this.items = this.items.filter((i) => i !== item);
    this.tray.hidden = this.items.length === 0;
    this.onChange();
  }

  /** Whether any file is still uploading. */
  busy() {
    return this.items.some((i) => i.xhr);
  }

  /** The uploaded attachments, in the order they were added. */
  ready() {
    return this.items.filter((i) => i.attachment).map((i) => i.attachment);
  }

  /** Takes the uploaded files out of the tray, for a message being sent. */
  take() {
    const taken = this.ready();
    for (const item of this.items.filter((i) => i.attachment)) this.remove(item);
    return taken;
  }

  /** Puts files of a refused message back, ahead of any added since. */
  restore(attachments) {
    for (const a of attachments.slice().reverse()) {
      const item = { name: a.file_name, size: a.size, attachment: a, xhr: null, error: null, node: el('li', 'upload done') };
      const cancel = el('button', 'link upload-cancel', 'Cancel');
      cancel.type = 'button';
      cancel.addEventListener('click', () => this.remove(item));
      item.node.append(el('span', 'upload-name', `${a.file_name} · ${formatSize(a.size)}`), el('span', 'upload-status', 'Ready'), cancel);
      this.items.unshift(item);
      this.tray.prepend(item.node);
    }
    this.tray.hidden = this.items.length === 0;
    this.onChange();
  }

  /** Drops everything (leaving a room). */
  clear() {
    for (const item of [...this.items]) this.remove(item);
  }
}

/** Files from a drop or a paste, whatever the browser put them in. */
export function filesOf(dataTransfer) {
  if (!dataTransfer) return [];
  if (dataTransfer.files && dataTransfer.files.length) return [...dataTransfer.files];
  return [...(dataTransfer.items || [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter(Boolean);
}
