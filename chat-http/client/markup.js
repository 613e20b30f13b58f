// Message text as DOM: a small, safe markdown subset. Every piece of user text becomes a text
// node (or the text of an element made here), never HTML, so `<img onerror=…>` shows as
// those characters. What is recognised:
//
// - ```code blocks``` and `inline code` (nothing inside them is interpreted);
// - lines starting with "> " as quotes;
// - **bold**, *italic* or _italic_, ~~strike~~;
// - http(s) URLs as links that open in a new tab without a referrer or an opener;
// - `@[Name](userId)` mentions as pills;
// - :shortcode: emoji from a fixed list (unknown ones stay as typed).

// `@[Name](uuid)`, where the name escapes `[`, `]` and `\` with a backslash (chat-core's
// mention syntax).
const MENTION_SOURCE = String.raw`@\[((?:\\.|[^\\\[\]])+)\]\(([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\)`;

/** The common shortcodes (Slack's and GitHub's names for the same emoji). */
export const SHORTCODES = {
  '+1': '👍', thumbsup: '👍', '-1': '👎', thumbsdown: '👎', tada: '🎉', heart: '❤️',
  smile: '😄', grin: '😁', joy: '😂', laughing: '😆', wink: '😉', blush: '😊',
  slightly_smiling_face: '🙂', thinking: '🤔', eyes: '👀', fire: '🔥', rocket: '🚀',
  wave: '👋', clap: '👏', pray: '🙏', ok_hand: '👌', raised_hands: '🙌', muscle: '💪',
  sparkles: '✨', star: '⭐', '100': '💯', white_check_mark: '✅', heavy_check_mark: '✔️',
  x: '❌', warning: '⚠️', sob: '😭', cry: '😢', sweat_smile: '😅', sunglasses: '😎',
  party: '🥳', partying_face: '🥳', coffee: '☕', pizza: '🍕', beers: '🍻', sun: '☀️',
  boat: '⛵', car: '🚗', airplane: '✈️', calendar: '📅', pushpin: '📌', memo: '📝', bulb: '💡',
};

// One pass finds the earliest of these; `inline` recurses into emphasis only.
const INLINE = new RegExp(
  [
    '(`+)([^`]+?)\\1', // 1, 2: inline code
    MENTION_SOURCE, // 3, 4: mention
    '(https?:\\/\\/[^\\s<>"]+)', // 5: URL
    '\\*\\*(?=\\S)([\\s\\S]+?)(?<=\\S)\\*\\*', // 6: bold
    '~~(?=\\S)([\\s\\S]+?)(?<=\\S)~~', // 7: strike
    '(?<![\\w*])\\*(?=\\S)([^*]+?)(?<=\\S)\\*(?![\\w*])', // 8: italic with *
    '(?<![\\w_])_(?=\\S)([^_]+?)(?<=\\S)_(?![\\w_])', // 9: italic with _
    ':([a-z0-9_+-]{1,32}):', // 10: shortcode
  ].join('|'),
  'g',
);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A URL as typed, less trailing punctuation that ends the sentence rather than the URL. */
function trimUrl(url) {
  let end = url.length;
  while (end > 0 && '.,;:!?\'"'.includes(url[end - 1])) end -= 1;
  let trimmed = url.slice(0, end);
  // A closing parenthesis belongs to the URL only when it opened one: "(see https://x.y/a)".
  while (trimmed.endsWith(')') && (trimmed.match(/\(/g) || []).length < (trimmed.match(/\)/g) || []).length) {
    trimmed = trimmed.slice(0, -1);
  }
  return trimmed;
}

function link(url) {
  const a = el('a', 'link-out', url);
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/** Inline markup of one run of text, appended to `parent`. */
function inline(text, parent, myId) {
  let last = 0;
  INLINE.lastIndex = 0;
  const matches = [...text.matchAll(INLINE)];
  for (const m of matches) {
    if (m.index < last) continue;
    let node = null;
    let consumed = m[0].length;
    if (m[2] !== undefined) {
      node = el('code', 'inline-code', m[2]);
    } else if (m[4] !== undefined) {
      const name = m[3].replace(/\\(.)/g, '$1');
      node = el('span', m[4] === myId ? 'mention me' : 'mention', `@${name}`);
      node.dataset.userId = m[4];
    } else if (m[5] !== undefined) {
      const url = trimUrl(m[5]);
      consumed = url.length;
      node = link(url);
    } else if (m[6] !== undefined) {
      node = el('strong');
      inline(m[6], node, myId);
    } else if (m[7] !== undefined) {
      node = el('del');
      inline(m[7], node, myId);
    } else if (m[8] !== undefined || m[9] !== undefined) {
      node = el('em');
      inline(m[8] !== undefined ? m[8] : m[9], node, myId);
    } else if (m[10] !== undefined) {
      const emoji = SHORTCODES[m[10]];
      if (!emoji) continue;
      node = el('span', 'emoji', emoji);
      node.title = `:${m[10]}:`;
    }
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    parent.append(node);
    last = m.index + consumed;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

/** Message text as nodes (a fragment): code blocks, quotes, then inline markup. */
export function renderText(text, myId) {
  const fragment = document.createDocumentFragment();
  // Code fences first: nothing inside them is markup.
  const parts = text.split(/```/);
  parts.forEach((part, i) => {
    const fenced = i % 2 === 1 && i < parts.length - 1;
    if (fenced) {
      // An optional language tag on the opening line is dropped, as chat clients do.
      const code = part.replace(/^[\w+-]*\n/, '').replace(/\n$/, '');
      const pre = el('pre', 'code-block');
      pre.append(el('code', '', code));
      fragment.append(pre);
      return;
    }
    const chunk = i % 2 === 1 ? `\`\`\`${part}` : part; // an unclosed fence stays as typed
    const lines = chunk.split('\n');
    let quote = null;
    lines.forEach((line, n) => {
      const quoted = /^>\s?/.test(line);
      if (quoted) {
        if (!quote) {
          quote = el('blockquote');
          fragment.append(quote);
        } else {
          quote.append(document.createTextNode('\n'));
        }
        inline(line.replace(/^>\s?/, ''), quote, myId);
        return;
      }
      quote = null;
      inline(line, fragment, myId);
      if (n < lines.length - 1) fragment.append(document.createTextNode('\n'));
    });
  });
  return fragment;
}

/** Replaces known `:shortcode:`s in composer text with their emoji, as they are typed. */
export function expandShortcodes(text) {
  return text.replace(/:([a-z0-9_+-]{1,32}):/g, (whole, name) => SHORTCODES[name] || whole);
}

/** Message text as one line of plain text, as it reads once rendered: no markers, mentions as
 * `@Name`, shortcodes as emoji. For quotes and previews, where markup would be noise. */
export function plainText(text) {
  const box = document.createElement('div');
  box.append(renderText(text));
  return box.textContent.replace(/\s+/g, ' ').trim();
}
