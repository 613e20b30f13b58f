// Mention autocomplete: typing `@` and a few letters in the composer opens a listbox of
// matching room members; choosing one (click, Enter or Tab) inserts `@[Name](id)`.

import { mentionToken } from './render.js';

// The `@word` that ends at the caret. Names may contain spaces ("Sarah Chen"), but the
// query stops at the second word so ordinary text after an @ does not keep the list open.
const QUERY = /(?:^|\s)@([^\s@\[\]()]{0,32}(?: [^\s@\[\]()]{0,32})?)$/;

export class MentionPicker {
  /** lookup(prefix) resolves to [{ user_id, display_name }]. */
  constructor(textarea, listbox, lookup) {
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
    const token = `${mentionToken(member.display_name, member.user_id)} `;
    this.textarea.value = value.slice(0, this.query.start) + token + value.slice(caret);
    const at = this.query.start + token.length;
    this.textarea.setSelectionRange(at, at);
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
