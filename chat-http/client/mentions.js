// Mentions in the composer. Typing `@` and a few letters opens a listbox of matching room
// members; choosing one (click, Enter or Tab) puts `@Name` in the text, shown as a pill. The
// text sent carries the token `@[Name](id)` in its place, so the person is mentioned however
// many people share the name; a pill whose name is edited stops being a mention, as in Slack.
//
// A textarea cannot style parts of its text, so the pills are drawn on a backdrop behind it
// that holds the same text in the same font and wrapping, with each mention marked: the
// textarea stays a plain textarea (native editing, undo, IME, spell-check, accessibility).

import { mentionToken } from './render.js';

const TOKEN = /@\[((?:\\.|[^\\\[\]])+)\]\(([0-9a-fA-F-]{36})\)/g;

/** A textarea whose chosen mentions show as pills and leave as tokens. */
export class PillBox {
  constructor(textarea) {
    this.textarea = textarea;
    this.mentions = new Map(); // display name → user id
    this.backdrop = document.createElement('div');
    this.backdrop.className = 'pill-backdrop';
    this.backdrop.setAttribute('aria-hidden', 'true');
    textarea.before(this.backdrop);
    textarea.classList.add('pill-input');
    textarea.addEventListener('input', () => this.render());
    textarea.addEventListener('scroll', () => {
      this.backdrop.scrollTop = textarea.scrollTop;
    });
    new ResizeObserver(() => this.render()).observe(textarea);
  }

  /** Records a chosen mention (its `@Name` is in the text). */
  add(name, userId) {
    this.mentions.set(name, userId);
    this.render();
  }

  /** The `[start, end, userId]` of every `@Name` of a chosen mention, left to right; a longer
   * name wins where two start alike ("@Sam Lee" over "@Sam"). */
  ranges(text) {
    const names = [...this.mentions.keys()].sort((a, b) => b.length - a.length);
    const found = [];
    for (let i = text.indexOf('@'); i !== -1; i = text.indexOf('@', i + 1)) {
      if (found.length && i < found[found.length - 1][1]) continue;
      const name = names.find((n) => text.startsWith(n, i + 1) && !/[\p{L}\p{N}_]/u.test(text[i + 1 + n.length] || ''));
      if (name) found.push([i, i + 1 + name.length, this.mentions.get(name)]);
    }
    return found;
  }

  /** The text to send: each pill as its token. */
  encode(text = this.textarea.value) {
    let out = '';
    let last = 0;
    for (const [start, end, userId] of this.ranges(text)) {
      out += text.slice(last, start) + mentionToken(text.slice(start + 1, end), userId);
      last = end;
    }
    return out + text.slice(last);
  }

  /** Text with tokens (a refused message, a message to edit) as the box shows it: each token
   * becomes a pill. */
  decode(text) {
    return text.replace(TOKEN, (whole, escaped, userId) => {
      const name = escaped.replace(/\\(.)/g, '$1');
      this.mentions.set(name, userId);
      return `@${name}`;
    });
  }

  /** Sets the text (tokens become pills). */
  set(text) {
    this.textarea.value = this.decode(text);
    this.render();
  }

  clear() {
    this.textarea.value = '';
    this.mentions.clear();
    this.render();
  }

  render() {
    const text = this.textarea.value;
    const nodes = [];
    let last = 0;
    for (const [start, end] of this.ranges(text)) {
      nodes.push(document.createTextNode(text.slice(last, start)));
      const pill = document.createElement('mark');
      pill.className = 'pill';
      pill.textContent = text.slice(start, end);
      nodes.push(pill);
      last = end;
    }
    // A trailing newline needs a character after it to take up its line, as in the textarea.
    nodes.push(document.createTextNode(`${text.slice(last)}\u200b`));
    this.backdrop.replaceChildren(...nodes);
    // A scrollbar narrows the textarea's text but not the backdrop's: match it.
    const bar = this.textarea.offsetWidth - this.textarea.clientWidth - 2;
    this.backdrop.style.paddingRight = `${8 + Math.max(0, bar)}px`;
    this.backdrop.scrollTop = this.textarea.scrollTop;
  }
}

// The `@word` that ends at the caret. Names may contain spaces ("Sarah Chen"), but the
// query stops at the second word so ordinary text after an @ does not keep the list open.
const QUERY = /(?:^|\s)@([^\s@\[\]()]{0,32}(?: [^\s@\[\]()]{0,32})?)$/;

export class MentionPicker {
  /** lookup(prefix) resolves to [{ user_id, display_name }]; chosen members go into `pills`. */
  constructor(pills, listbox, lookup) {
    const { textarea } = pills;
    this.pills = pills;
    this.textarea = textarea;
    this.listbox = listbox;
    this.lookup = lookup;
    this.matches = [];
    this.active = 0;
    this.query = null;
    this.generation = 0;
    textarea.addEventListener('input', () => this.update());
    textarea.addEventListener('click', () => this.update());
    // Closing waits a moment so a click on an option lands first, and only if focus has
    // not come back meanwhile.
    textarea.addEventListener('blur', () =>
      setTimeout(() => {
        if (document.activeElement !== textarea) this.close();
      }, 150));
    textarea.addEventListener('keydown', (e) => this.key(e), true);
  }

  get open() {
    return !this.listbox.hidden;
  }

  async update() {
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const match = QUERY.exec(before);
    if (!match) {
      this.close();
      return;
    }
    this.query = { start: before.length - match[1].length - 1, text: match[1] };
    const generation = ++this.generation;
    let matches = [];
    try {
      matches = await this.lookup(match[1]);
    } catch (e) {
      matches = [];
    }
    // An older lookup finishing late must not replace a newer one.
    if (generation !== this.generation) return;
    // Two words without a match is ordinary text after an @, not a mention in progress.
    if (matches.length === 0 && match[1].includes(' ')) {
      this.close();
      return;
    }
    this.matches = matches;
    this.active = 0;
    this.render();
  }

  render() {
    this.listbox.replaceChildren();
    if (this.matches.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'No matching members';
      this.listbox.append(empty);
    }
    this.matches.forEach((member, i) => {
      const option = document.createElement('li');
      option.setAttribute('role', 'option');
      option.id = `mention-${i}`;
      option.setAttribute('aria-selected', String(i === this.active));
      option.textContent = member.display_name;
      // mousedown, not click: it fires before the textarea loses focus.
      option.addEventListener('mousedown', (e) => {
        e.preventDefault();
        this.choose(i);
      });
      this.listbox.append(option);
    });
    this.listbox.hidden = false;
    if (this.matches.length) this.textarea.setAttribute('aria-activedescendant', `mention-${this.active}`);
  }

  key(e) {
    if (!this.open || this.matches.length === 0) {
      if (this.open && e.key === 'Escape') this.close();
      return;
    }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const step = e.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.matches.length) % this.matches.length;
      this.render();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      this.choose(this.active);
    } else if (e.key === 'Escape') {
      this.close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }

  choose(i) {
    const member = this.matches[i];
    if (!member || !this.query) return;
    const value = this.textarea.value;
    const caret = this.textarea.selectionStart;
    const shown = `@${member.display_name} `;
    this.textarea.value = value.slice(0, this.query.start) + shown + value.slice(caret);
    const at = this.query.start + shown.length;
    this.textarea.setSelectionRange(at, at);
    this.pills.add(member.display_name, member.user_id);
    this.close();
    this.textarea.focus();
  }

  close() {
    this.generation += 1;
    this.query = null;
    this.listbox.hidden = true;
    this.textarea.removeAttribute('aria-activedescendant');
  }
}
