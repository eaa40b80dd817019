// A picture of the brand on the Users view (issue 29.11): how many accounts are active and
// disabled, and how many of each user type and division, as horizontal bars in plain HTML (no
// chart library). Each bar is a button that filters the listed users to those (the host's
// filterUsers: in the page the Users grid's own filter, whose select then shows it and clears
// it; in the pane the Users sheet's table); the same bar again shows everyone.
import { formatNumber } from './format.js';
import { nameOf } from './names.js';

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */

/**
 * The groups of bars: the Users table's column, the group's heading, and how a value is named
 * (divisions by the names Qualtrics gave, user types by those given on this device, else their ids).
 * @type {{ column: string, title: string, name: (value: string) => string }[]}
 */
const GROUPS = [
  { column: 'Account status', title: 'Accounts', name: (v) => (v ? v.charAt(0).toUpperCase() + v.slice(1) : 'No status') },
  { column: 'User type', title: 'By user type', name: (v) => (v ? nameOf(v) || v : 'No user type') },
  { column: 'Division', title: 'By division', name: (v) => (v ? nameOf(v) || v : 'No division') },
];

/** Bars shown per group, the biggest first; the rest are summed in one line. */
const MAX_BARS = 12;

/**
 * Draws the picture of `table` (the Users listing) into `box`. `filter(column, value)` makes
 * each bar a button that filters the users to those with that value (null: everyone again),
 * and `active(column)` says which value a column is filtered by now (its bar shows pressed);
 * without `filter` the bars are a plain list.
 * @param {HTMLElement} box
 * @param {Table | null} table
 * @param {{ filter?: (column: string, value: string | null) => void, active?: (column: string) => string | null }} [how]
 */
export function drawBrandPicture(box, table, { filter, active } = {}) {
  box.replaceChildren();
  box.hidden = !table || !table.rows.length;
  if (!table || !table.rows.length) return;
  const total = table.rows.length;
  for (const group of GROUPS) {
    const col = table.columns.indexOf(group.column);
    if (col < 0) continue;
    /** @type {Map<string, number>} */
    const counts = new Map();
    for (const row of table.rows) {
      const v = row[col] ?? '';
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const sorted = [...counts].sort((a, b) => b[1] - a[1] || group.name(a[0]).localeCompare(group.name(b[0])));
    const section = document.createElement('section');
    section.className = 'picture-group';
    const headingId = `${box.id}-${group.column.toLowerCase().replace(/\W+/g, '-')}`;
    const h = Object.assign(document.createElement('h3'), { id: headingId, textContent: group.title });
    const list = document.createElement('ul');
    list.setAttribute('aria-labelledby', headingId);
    const max = Math.max(1, ...counts.values());
    const now = active?.(group.column) ?? null;
    for (const [value, n] of sorted.slice(0, MAX_BARS)) {
      const li = document.createElement('li');
      const name = group.name(value);
      const label = Object.assign(document.createElement('span'), { className: 'picture-label', textContent: name });
      const track = document.createElement('span');
      track.className = 'picture-track';
      const bar = document.createElement('span');
      bar.className = 'picture-bar';
      bar.style.width = `${Math.max(2, (n / max) * 100)}%`;
      track.append(bar);
      const count = Object.assign(document.createElement('span'), { className: 'picture-count', textContent: formatNumber(n) });
      const parts = [label, track, count];
      if (filter) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'picture-row';
        b.dataset.column = group.column;
        b.dataset.value = value;
        b.setAttribute('aria-pressed', String(now === value));
        b.title = `Show only these ${formatNumber(n)} users`;
        b.append(...parts);
        b.addEventListener('click', () => filter(group.column, b.getAttribute('aria-pressed') === 'true' ? null : value));
        li.append(b);
      } else {
        li.className = 'picture-row';
        li.dataset.column = group.column;
        li.dataset.value = value;
        li.append(...parts);
      }
      list.append(li);
    }
    if (sorted.length > MAX_BARS) {
      const rest = sorted.slice(MAX_BARS).reduce((a, [, n]) => a + n, 0);
      list.append(Object.assign(document.createElement('li'), { className: 'hint', textContent: `…and ${formatNumber(sorted.length - MAX_BARS)} more (${formatNumber(rest)} users): the grid's filter lists them all.` }));
    }
    section.append(h, list);
    box.append(section);
  }
  const caption = Object.assign(document.createElement('p'), { className: 'hint picture-caption', textContent: `${formatNumber(total)} users.${filter ? ' Choose a bar to show only those users; choose it again to show all.' : ''}` });
  box.prepend(caption);
}

/**
 * Marks the bars of the values the grid filters by now as pressed (after the grid's own
 * filters changed), without drawing them again (a bar keeps the keyboard focus).
 * @param {HTMLElement} box
 * @param {(column: string) => string | null} active
 */
export function markActive(box, active) {
  for (const b of box.querySelectorAll('button.picture-row')) {
    const { column = '', value = '' } = /** @type {HTMLElement} */ (b).dataset;
    b.setAttribute('aria-pressed', String(active(column) === value));
  }
}
