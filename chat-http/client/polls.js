// Polls: the card a poll message shows (each option with its tally and share, the reader's
// vote, Close for its author and the room's moderators), voting with a click, and the form
// that creates one. Tallies change live: every vote is a `payload_updated` change that
// replaces the row (app.js).

import { api } from './api.js';
import { $, state, button, guard, notice } from './ui.js';

/** Whether a message shows a poll card. */
export function isPoll(message) {
  return Boolean(message && !message.is_deleted && message.payload && message.payload.kind === 'poll');
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const votes = (n) => `${n} ${n === 1 ? 'vote' : 'votes'}`;

/** The card of a poll message. Option labels are user text: text nodes only. */
export function renderPoll(message, myId, canClose) {
  const poll = message.payload.data;
  const total = poll.counts.reduce((sum, n) => sum + n, 0);
  const mine = poll.votes ? poll.votes[myId] : undefined;
  const card = el('div', `poll${poll.closed ? ' closed' : ''}`);
  card.setAttribute('role', 'group');
  card.setAttribute('aria-label', `Poll: ${message.text}`);
  const options = el('ul', 'poll-options');
  poll.options.forEach((option, i) => {
    const count = poll.counts[i] || 0;
    const share = total ? Math.round((count * 100) / total) : 0;
    const choice = el('button', 'poll-option');
    choice.type = 'button';
    choice.dataset.option = String(i);
    choice.disabled = poll.closed;
    choice.setAttribute('aria-pressed', String(mine === i));
    // Through the CSSOM, which the page's content security policy allows (no style attribute).
    choice.style.setProperty('--share', `${share}%`);
    // The name is what is shown ("Lake 2 · 50%", the space unseen between flex items), as
    // speech input expects; aria-pressed says which is the reader's vote.
    choice.append(el('span', 'poll-label', option), ' ', el('span', 'poll-count', `${count} · ${share}%`));
    const hint = poll.closed ? 'the poll is closed' : mine === i ? 'click to take your vote back' : 'click to vote';
    choice.title = `${option}: ${votes(count)}; ${hint}`;
    const item = el('li');
    item.append(choice);
    options.append(item);
  });
  card.append(options);
  const foot = el('div', 'poll-foot');
  foot.append(el('span', 'poll-total', `${votes(total)}${poll.closed ? ' · Closed' : ''}`));
  if (!poll.closed && canClose) foot.append(button('Close poll', 'link poll-close'));
  card.append(foot);
  return card;
}

/** Votes for an option, or takes the vote back when it is the reader's already. */
async function choose(row, option) {
  const message = row.messageData;
  const mine = message?.payload?.data?.votes?.[state.session.user.id];
  await api.vote(row.dataset.id, mine === option ? null : option);
}

for (const list of [$('messages'), $('thread-list')]) {
  list.addEventListener('click', guard(async (e) => {
    const row = e.target.closest('li.message[data-id]');
    if (!row) return;
    const option = e.target.closest('.poll-option');
    if (option) await choose(row, Number(option.dataset.option));
    else if (e.target.closest('.poll-close')) await api.closePoll(row.dataset.id);
  }));
}

// ----- the form that creates a poll -----

const MAX_OPTIONS = 10;
const form = $('poll-form');
const optionList = $('poll-options');

function addOption(value = '') {
  if (optionList.children.length >= MAX_OPTIONS) return null;
  const n = optionList.children.length + 1;
  const item = el('li');
  const input = document.createElement('input');
  input.name = 'option';
  input.maxLength = 100;
  input.value = value;
  input.placeholder = `Option ${n}`;
  input.setAttribute('aria-label', `Option ${n}`);
  item.append(input);
  optionList.append(item);
  $('poll-add').disabled = optionList.children.length >= MAX_OPTIONS;
  return input;
}

function resetForm() {
  form.reset();
  optionList.replaceChildren();
  addOption();
  addOption();
}

export function closePollForm() {
  form.hidden = true;
  $('new-poll').setAttribute('aria-expanded', 'false');
}

$('new-poll').addEventListener('click', () => {
  if (!form.hidden) {
    closePollForm();
    return;
  }
  resetForm();
  form.hidden = false;
  $('new-poll').setAttribute('aria-expanded', 'true');
  form.elements.question.focus();
});

$('poll-add').addEventListener('click', () => addOption()?.focus());
$('poll-cancel').addEventListener('click', () => {
  closePollForm();
  $('message-input').focus();
});
form.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape') return;
  e.preventDefault();
  closePollForm();
  $('new-poll').focus();
});

form.addEventListener('submit', guard(async (e) => {
  e.preventDefault();
  if (!state.room) return;
  const question = form.elements.question.value;
  const options = [...optionList.querySelectorAll('input')].map((i) => i.value).filter((v) => v.trim());
  if (options.length < 2) {
    notice('A poll needs at least two options.');
    return;
  }
  // The poll arrives like any message, live; the same key on a retry sends it once.
  await api.sendPoll(state.room.id, question, options, crypto.randomUUID());
  notice('');
  closePollForm();
  $('message-input').focus();
}));
