// One user's details (issue 29.3), opened from a row of the Users grid (the "Details of
// USERNAME" button beside its box): the user's fields as listed, the groups they are in and their
// roles by rule, from the last membership pull (before one, a button pulls it), and the runs of
// this device that touched them (runs-store.js keeps each run's rows: a run touched a user when
// one of its input cells is their User ID or username). A modal dialog (sections.js,
// `#user-details`): Escape or Close shuts it and the focus goes back to the row's button.
import { $, guarded, columnOf, messageOf } from './ui.js';
import { formatTime } from './format.js';
import { withName } from './names.js';
import { RUN_KINDS } from './runs.js';

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./runs-store.js').RunRecord} RunRecord */
/**
 * What the last membership pull found: its long table (one row per user and group or role)
 * how many roles it knew rules for (0: the pull had no Roles sheet), and when (Unix ms).
 * @typedef {{ long: Table, roles: number, at: number }} PulledMembership
 */

/** How many runs the panel lists (newest first). */
const RECENT_RUNS = 5;

/**
 * The groups and roles by rule of the user `id` (or `username`) in a pull's long table.
 * @param {Table} long
 * @param {string} id
 * @param {string} username
 */
export function membershipOf(long, id, username) {
  const [idCol, nameCol, whatCol, kindCol] = ['User ID', 'Username', 'Group or role', 'Kind'].map((c) => columnOf(long.columns, c));
  const low = username.toLowerCase();
  /** @type {string[]} */
  const groups = [];
  /** @type {string[]} */
  const roles = [];
  for (const r of long.rows) {
    const mine = (id && r[idCol] === id) || (!!low && (r[nameCol] ?? '').toLowerCase() === low);
    if (!mine) continue;
    if (r[kindCol] === 'group') groups.push(r[whatCol]);
    else roles.push(r[whatCol]);
  }
  return { groups: groups.sort((a, b) => a.localeCompare(b)), roles: roles.sort((a, b) => a.localeCompare(b)) };
}

/**
 * The runs (newest first) whose input names the user `id` or `username`, each with that row's
 * status, at most `limit`.
 * @param {RunRecord[]} runs
 * @param {string} id
 * @param {string} username
 * @param {number} [limit]
 */
export function runsTouching(runs, id, username, limit = RECENT_RUNS) {
  const low = username.toLowerCase();
  /** @type {{ run: RunRecord, status: string }[]} */
  const out = [];
  for (const run of [...runs].sort((a, b) => b.startedAt - a.startedAt)) {
    const t = run.table;
    if (!t) continue;
    const width = run.width || t.columns.length;
    let status = -1;
    for (let c = width; c < t.columns.length; c++) if (t.columns[c].trim().toLowerCase() === 'status') status = c;
    const row = t.rows.find((r) => r.slice(0, width).some((v) => (id && v === id) || (!!low && v.toLowerCase() === low)));
    if (!row) continue;
    out.push({ run, status: status >= 0 ? row[status] ?? '' : '' });
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Wires the dialog: `open(i, opener)` shows the user of row `i` of `table()` (the page's Users
 * grid), `show(columns, row, opener)` a user given as a row (the pane: the row selected in the
 * Users sheet). `membership()` is the last pull (null before one), `pull()` pulls it, `runs()`
 * lists this device's runs.
 * @param {{ table: () => Table | null, lock: import('./ui.js').Lock, membership: () => PulledMembership | null,
 *   pull: () => Promise<unknown>, runs: () => Promise<RunRecord[]> }} parts
 */
export function startUserDetails({ table: tableOf, lock, membership, pull, runs }) {
  const dialog = $('user-details', HTMLDialogElement);
  const errorEl = $('user-details-error');
  const pullRow = $('user-details-pull-row');
  /** The user shown: their id and username (the row may move as the grid redraws). */
  let who = { id: '', username: '' };
  /** @type {HTMLElement | null} */
  let opener = null;

  const para = (/** @type {string} */ text) => Object.assign(document.createElement('p'), { className: 'hint', textContent: text });
  const list = (/** @type {string[]} */ items, /** @type {string} */ label) => {
    const ul = document.createElement('ul');
    ul.className = 'confirm-list';
    ul.setAttribute('aria-label', label);
    ul.append(...items.map((t) => Object.assign(document.createElement('li'), { textContent: t })));
    return ul;
  };

  /** The groups and roles part: from the pull, or the button that reads it. */
  function drawMembership() {
    const pulled = membership();
    const groupsBox = $('user-details-groups');
    const rolesBox = $('user-details-roles');
    pullRow.hidden = !!pulled;
    if (!pulled) {
      groupsBox.replaceChildren(para('Not read yet: Read groups and roles reads who is in which group (the whole brand, once).'));
      rolesBox.replaceChildren(para('Not read yet.'));
      return;
    }
    const { groups, roles } = membershipOf(pulled.long, who.id, who.username);
    const asOf = para(`As read at ${formatTime(pulled.at)} (Groups and roles reads it again).`);
    groupsBox.replaceChildren(groups.length ? list(groups, 'Groups') : para('In no group.'), asOf);
    rolesBox.replaceChildren(pulled.roles === 0
      ? para('No role rules known: give them in Groups and roles (the Roles sheet) and read again.')
      : roles.length ? list(roles, 'Roles by rule') : para('In no role by its rule.'));
  }

  /** The runs part: read from this device's store (a failure to read says so there). */
  async function drawRuns() {
    const box = $('user-details-runs');
    box.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'Reading…' }));
    /** @type {{ run: RunRecord, status: string }[]} */
    let touched;
    try {
      touched = runsTouching(await runs(), who.id, who.username);
    } catch (err) {
      box.replaceChildren(Object.assign(document.createElement('li'), { textContent: `Runs not read: ${messageOf(err)}` }));
      return;
    }
    box.replaceChildren(...(touched.length
      ? touched.map(({ run, status }) => Object.assign(document.createElement('li'), {
        textContent: `${RUN_KINDS[run.kind]?.name ?? run.kind}, ${formatTime(run.startedAt, { date: true })}, from ${run.source}: ${status ? `this user ${status === 'skipped' ? 'not sent' : status}` : run.status}`,
      }))
      : [Object.assign(document.createElement('li'), { textContent: 'None on this device.' })]));
  }

  /** Shows the user of row `i` of the Users table. */
  function open(/** @type {number} */ i, /** @type {HTMLElement} */ from) {
    const table = tableOf();
    const row = table?.rows[i];
    if (table && row) show(table.columns, row, from);
  }

  /** Shows the user a Users row (`row`, under `columns`) names. */
  function show(/** @type {string[]} */ columns, /** @type {string[]} */ row, /** @type {HTMLElement} */ from) {
    const table = { columns, rows: [row] };
    opener = from;
    const id = columnOf(table.columns, 'User ID');
    const username = columnOf(table.columns, 'Username');
    who = { id: id >= 0 ? row[id] ?? '' : '', username: username >= 0 ? row[username] ?? '' : '' };
    const first = row[columnOf(table.columns, 'First name')] ?? '';
    const last = row[columnOf(table.columns, 'Last name')] ?? '';
    $('user-details-title').textContent = [`${first} ${last}`.trim(), who.username].filter(Boolean).join(' · ') || who.id || 'User';
    const fields = $('user-details-fields');
    fields.replaceChildren(...table.columns.flatMap((c, col) => [
      Object.assign(document.createElement('dt'), { textContent: c }),
      Object.assign(document.createElement('dd'), { textContent: withName(row[col] ?? '') || '—' }),
    ]));
    errorEl.hidden = true;
    drawMembership();
    if (!dialog.open) dialog.showModal();
    $('user-details-close').focus();
    drawRuns();
  }

  $('user-details-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    // Back to the row's button (or, redrawn away, the grid's search).
    const back = opener?.isConnected ? opener : document.getElementById('users-table-search');
    back?.focus();
  });
  $('user-details-pull').addEventListener('click', guarded(lock, errorEl, async () => {
    await pull();
    drawMembership();
    $('user-details-groups-title').focus();
  }));
  return { open, show };
}
