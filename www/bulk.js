// The Users grid acts (issue 29): a checkbox per row and "Select all N shown" (grid.js keeps the
// selection as a Set of user ids, so it holds across search, sort, filters and the virtual
// table), and a bar of actions on the selected users. Disable, Enable and Set expiry turn them
// into a lifecycle sheet (User ID, Username, Action, and Expiration date for an expiry) and hand
// it to the lifecycle view, which plans it through the same run, plan view and confirmation as
// a file: nothing is sent until the administrator applies and confirms there. "Download as edit
// sheet" writes them, in the columns shown, with an Action column to fill in: that file, read
// back in the lifecycle view, is a lifecycle sheet. Add to group and Remove from group (issue
// 29.3) turn them into a membership change sheet (User, Group or role, Member) for the group
// chosen, planned in Groups and roles through its plan view and confirmation the same way.
import { tableToCsv } from './pkg/qualtrics_roster_console.js';
import { $, find, download, guarded, columnOf } from './ui.js';

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {ReturnType<typeof import('./grid.js').gridOf>} Grid */
/** @typedef {'disable' | 'enable' | 'expire'} BulkAction */

/** A Users row's identity: its user id (the username when a listing has no ids). */
export function userKey(/** @type {string[]} */ row, /** @type {string[]} */ columns) {
  const id = columnOf(columns, 'User ID');
  return row[id >= 0 ? id : columnOf(columns, 'Username')] ?? '';
}

/** How a Users row is named to a screen reader ("Select jdoe@example.edu"). */
export function userName(/** @type {string[]} */ row, /** @type {string[]} */ columns) {
  const name = row[columnOf(columns, 'Username')];
  return name || row[columnOf(columns, 'User ID')] || 'this user';
}

/**
 * The lifecycle sheet of Users rows `rows` (indexes into `users`): each row's User ID and
 * Username, the action (`disable`, `enable`, `expire`: the words the core reads) and, for an
 * expiry, the date (YYYY-MM-DD) in "Expiration date".
 * @param {Table} users
 * @param {number[]} rows
 * @param {BulkAction} action
 * @param {string} [expiry]
 * @returns {Table}
 */
export function lifecycleSheet(users, rows, action, expiry = '') {
  const id = columnOf(users.columns, 'User ID');
  const name = columnOf(users.columns, 'Username');
  const columns = ['User ID', 'Username', 'Action'];
  if (action === 'expire') columns.push('Expiration date');
  const out = new Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const r = users.rows[rows[k]];
    const line = [id >= 0 ? r[id] ?? '' : '', name >= 0 ? r[name] ?? '' : '', action];
    if (action === 'expire') line.push(expiry);
    out[k] = line;
  }
  return { columns, rows: out };
}

/**
 * A membership change sheet, the one way the page writes one (the Users bar, the Groups and roles
 * change sheet): per change its user (User ID or username), the group or role written `group:
 * NAME` / `role: NAME` (so that a role of a group's name is never meant) and Member `yes` (add)
 * or `no` (remove): the columns the core's membership plan reads (the Membership template's).
 * @param {{ user: string, kind: 'group' | 'role', name: string, member: boolean }[]} changes
 * @returns {Table}
 */
export function changeSheet(changes) {
  return { columns: ['User', 'Group or role', 'Member'], rows: changes.map((c) => [c.user, `${c.kind}: ${c.name}`, c.member ? 'yes' : 'no']) };
}

/**
 * The membership change sheet of Users rows `rows` for the group `group`: each row's user by its
 * User ID, else its username.
 * @param {Table} users
 * @param {number[]} rows
 * @param {string} group
 * @param {boolean} member
 * @returns {Table}
 */
export function membershipSheet(users, rows, group, member) {
  return changeSheet(rows.map((i) => ({ user: userKey(users.rows[i], users.columns), kind: 'group', name: group, member })));
}

/**
 * The edit sheet of Users rows `rows`: the columns `cols` (as the grid shows them, in its order)
 * and an Action column, blank, for the administrator to fill in (disable, enable, expire). With
 * both User ID and Username hidden, the User ID comes first all the same: without it the sheet
 * would not name its accounts.
 * @param {Table} users
 * @param {number[]} rows
 * @param {number[]} cols
 * @returns {Table}
 */
export function editSheet(users, rows, cols) {
  const named = ['User ID', 'Username'].map((n) => columnOf(users.columns, n));
  if (!named.some((c) => cols.includes(c)) && named[0] >= 0) cols = [named[0], ...cols];
  const columns = [...cols.map((c) => users.columns[c]), 'Action'];
  return { columns, rows: rows.map((i) => [...cols.map((c) => users.rows[i][c] ?? ''), '']) };
}

/**
 * Wires the bar (`#users-bulk`, sections.js) to the selected users: the Users grid's (`grid`,
 * the page: the bar shows while rows are selected) or, without a grid (the pane), those
 * `selected()` reads (the rows selected in the Users sheet). `plan(kind, table, description)`
 * opens the lifecycle view (or Groups and roles, for a membership sheet) and plans the sheet
 * there (`description` says which rows); `canAct()` says whether the actions may run now
 * (connected, nothing else running); `readGroups()` pulls the membership (the groups offered
 * come from it: `setGroups`).
 * @param {{ grid?: Grid | null, selected?: () => Promise<{ users: Table, rows: number[], description: string }>,
 *   lock: import('./ui.js').Lock, errorEl: HTMLElement, canAct: () => boolean,
 *   plan: (kind: 'lifecycle' | 'membership', table: Table, description: string) => Promise<void>,
 *   readGroups: () => Promise<unknown> }} parts
 */
export function startBulkActions({ grid = null, selected, lock, errorEl, canAct, plan, readGroups }) {
  const bar = $('users-bulk');
  const buttons = ['bulk-disable', 'bulk-enable', 'bulk-expire', 'bulk-add-group', 'bulk-remove-group', 'bulk-read-groups', 'bulk-download']
    .map((id) => find(id, HTMLButtonElement)).filter((b) => b !== null);
  const expiry = $('bulk-expiry', HTMLInputElement);
  const group = $('bulk-group', HTMLSelectElement);
  const readButton = $('bulk-read-groups', HTMLButtonElement);

  /** The grid's bar shows while rows are selected; its actions wait for a connection and the lock. */
  function refresh() {
    if (grid) bar.hidden = grid.counts().selected === 0;
    const off = !canAct();
    for (const b of buttons) b.disabled = b.id === 'bulk-download' ? lock.busy : off;
  }

  /**
   * The groups offered (the brand's, from the last membership pull; none before one, or after
   * a disconnect): the one chosen stays chosen while the brand still has it.
   */
  function setGroups(/** @type {string[]} */ names) {
    const chosen = group.value;
    const first = /** @type {HTMLOptionElement} */ (group.options[0]);
    const options = [...new Set(names)].sort((a, b) => a.localeCompare(b)).map((n) => new Option(n, n));
    group.replaceChildren(first, ...options);
    group.value = names.includes(chosen) ? chosen : '';
    readButton.hidden = names.length > 0;
  }

  /** The selected rows, the Users table they are rows of, and which rows they are in words. */
  async function selection() {
    if (!grid) {
      if (!selected) throw new Error('Nothing to act on here.');
      return selected();
    }
    const users = grid.table();
    const rows = grid.selectedRows();
    if (!users || !rows.length) throw new Error('Select the users first (the box at the start of each row).');
    return { users, rows, description: 'selected' };
  }

  const act = (/** @type {BulkAction} */ action) => guarded(lock, errorEl, async () => {
    const date = expiry.value;
    if (action === 'expire' && !date) {
      expiry.focus();
      throw new Error('Choose the expiry date first (beside Set expiry).');
    }
    const { users, rows, description } = await selection();
    await plan('lifecycle', lifecycleSheet(users, rows, action, date), description);
  });

  const member = (/** @type {boolean} */ yes) => guarded(lock, errorEl, async () => {
    const name = group.value;
    if (!name) {
      group.focus();
      throw new Error(group.options.length > 1
        ? `Choose the group first (beside ${yes ? 'Add to group' : 'Remove from group'}).`
        : 'Read the brand\'s groups first (Read the groups, beside Add to group), then choose one.');
    }
    const { users, rows, description } = await selection();
    await plan('membership', membershipSheet(users, rows, name, yes), description);
  });

  $('bulk-disable').addEventListener('click', act('disable'));
  $('bulk-enable').addEventListener('click', act('enable'));
  $('bulk-expire').addEventListener('click', act('expire'));
  $('bulk-add-group').addEventListener('click', member(true));
  $('bulk-remove-group').addEventListener('click', member(false));
  readButton.addEventListener('click', guarded(lock, errorEl, async () => {
    await readGroups();
    group.focus();
  }));
  find('bulk-download')?.addEventListener('click', guarded(lock, errorEl, async () => {
    const { users, rows } = await selection();
    if (grid) download('users-edit-sheet.csv', tableToCsv(editSheet(users, rows, grid.shownColumns())));
  }));
  find('bulk-clear')?.addEventListener('click', () => {
    grid?.clearSelection();
    /** @type {HTMLElement | null} */ (document.getElementById('users-table-select-all'))?.focus();
  });
  return { refresh, setGroups };
}
