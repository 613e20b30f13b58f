// The theme: the system's light or dark, unless the reader picks one (remembered).

import { $ } from './ui.js';

const THEME_KEY = 'chat-engine.theme';
const THEMES = ['system', 'light', 'dark'];

function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const b = $('theme-toggle');
  const label = { system: 'Theme: Auto', light: 'Theme: Light', dark: 'Theme: Dark' }[theme];
  b.querySelector('.label').textContent = ` ${label}`;
  b.setAttribute('aria-label', label);
  b.title = 'Change the theme (Auto follows the system)';
}

applyTheme(localStorage.getItem(THEME_KEY) || 'system');
$('theme-toggle').addEventListener('click', () => {
  const current = localStorage.getItem(THEME_KEY) || 'system';
  const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
});
