// Tables an administrator can work with: search, sort by any column (its header button), filter
// by the columns that sort rows into a few kinds (status, user type, division, the plan's change,
// problems only), with the count of rows each choice would show. Up to VIRTUAL_ABOVE rows every
// row is in the document; above it only the rows in view are (a "virtual" table: the scrolling
// region keeps the whole height, the table is moved by its margins), so 50,000 rows scroll and
// filter without a long frame (bench/table-50k.mjs). Cells show names beside UT_/DV_ ids
// (names.js) and the plan's change and outcome status as badges; a cell's text stays its value.

import { nameOf, isNamedId, onNames, withName } from './names.js';
import { formatNumber, formatTime } from './format.js';

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */

/**
 * Rows above which only the rows in view are in the document. 2,000: a table of 5,000 rows all
 * in the document cost some 300 ms of layout each time its view was shown or focused (the Users
 * grid's bulk Disable spent 0.6 s of its 1.6 s there: bench/bulk-select.mjs).
 */
export const VIRTUAL_ABOVE = 2000;
/** Rows drawn above and below the ones in view. */
const OVERSCAN = 12;
/** Distinct values a column may have to be offered as a filter. */
const MAX_FACET_VALUES = 200;

/** Columns offered as filters, by their header (lower case), and how the filter is labelled. */
/** @type {Record<string, string>} */
const FACETS = { 'account status': 'Status', status: 'Status', 'user type': 'User type', division: 'Division', plan: 'Change', action: 'Change', kind: 'Kind' };
/**
 * Columns whose cells are badges: in a plan table (its first column is "Row") the plan's change,
 * headed "Change" as data add-ins head it; in any table an outcome's or account's status.
 */
/** @type {Record<string, string>} */
const PLAN_BADGES = { plan: 'Change', action: 'Change' };
/** @type {Record<string, string>} */
const BADGES = { status: 'Status', 'account status': 'Account status' };
/** What a column's cells are: a badge (and its header) or plain text. */
const badgeOf = (/** @type {string[]} */ columns, /** @type {string} */ column) => {
  const key = column.trim().toLowerCase();
  return (columns[0] === 'Row' ? PLAN_BADGES[key] : undefined) ?? BADGES[key];
};

/**
 * The badge tone of a change or status, in the colours Excel users know from data add-ins:
 * creations and successes green, updates blue, removals orange, expiry amber, nothing grey,
 * problems red.
 */
export function tone(/** @type {string} */ value) {
  const v = value.toLowerCase();
  if (/invalid|not found|duplicate|failed|error/.test(v)) return 'bad';
  if (/^(unchanged|skipped|not sent)/.test(v)) return 'none';
  if (/create|add to|join|^enable|^done$|^active$/.test(v)) return 'add';
  if (/disable|remove|leave/.test(v)) return 'remove';
  if (/expir/.test(v)) return 'expiry';
  if (/update|set attributes|attribute/.test(v)) return 'update';
  return 'none';
}

/** A date and time with its zone, as the core writes one (ISO 8601, usually UTC). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An outcome's status as shown: the core's "skipped" (no request was sent) reads "not sent". */
export const statusWord = (/** @type {string} */ value) => (value === 'skipped' ? 'not sent' : value);

/** Columns that name the person a row is about, best first (shown first in a narrow window). */
const PERSON = ['username', 'user', 'email', 'user id', 'name', 'first name'];
/** At this width and narrower, tables show the person, the change and the status first. */
export const NARROW = '(max-width: 400px)';

/**
 * The order columns are shown in: the table's own, or in a narrow window the person, the
 * change and the status first (the rest after, in their order).
 * @param {string[]} columns
 * @param {boolean} narrow
 * @returns {number[]}
 */
export function columnOrder(columns, narrow) {
  const all = columns.map((_, i) => i);
  if (!narrow) return all;
  const keys = columns.map((c) => c.trim().toLowerCase());
  const person = PERSON.map((p) => keys.indexOf(p)).find((i) => i >= 0);
  const change = columns.findIndex((c) => badgeOf(columns, c) === 'Change');
  const status = keys.findIndex((k) => k === 'status' || k === 'account status');
  const first = [person, change, status].filter((i) => i !== undefined && i >= 0);
  return [...first, ...all.filter((i) => !first.includes(i))].map(Number);
}

/**
 * The plan with each row's outcome beside its change (issue 29.4: outcomes are added to the
 * plan, never put in its place): the plan's columns, with the outcome's Status and the rest of
 * its columns right after the plan's change column (Plan, Change or Action), each row joined by
 * its sheet row number (without row numbers, its Row cell). The
 * outcome's Message is called "Outcome" when the plan has a Message of its own; other outcome
 * columns the plan already has (the User ID, the username) are not repeated. Rows without an
 * outcome keep blank cells.
 * @param {{ columns: string[], rows: string[][], rowNumbers?: number[] }} plan
 * @param {string[]} columns the outcome columns
 * @param {Map<number, string[]>} byRow each row's outcome values, by sheet row number
 */
export function planWithOutcomes(plan, columns, byRow) {
  const taken = new Set(plan.columns.map((c) => c.toLowerCase()));
  const kept = columns.map((c, i) => ({ c, i })).filter(({ c }) => !taken.has(c.toLowerCase()) || c.toLowerCase() === 'message');
  const named = kept.map(({ c }) => (taken.has(c.toLowerCase()) ? 'Outcome' : c));
  const change = plan.columns.findIndex((c) => badgeOf(plan.columns, c) === 'Change');
  const at = change >= 0 ? change + 1 : plan.columns.length;
  const blank = kept.map(() => '');
  const cells = (/** @type {string[] | undefined} */ values) => (values ? kept.map(({ i }) => values[i] ?? '') : blank);
  // Each plan row's sheet row: its row number, else its Row cell (every plan has one: a sheet
  // may skip rows, so a position is never taken for a row number), else the position.
  const rowCol = plan.columns.findIndex((c) => c.toLowerCase() === 'row');
  const rowOf = (/** @type {number} */ i) => (plan.rowNumbers?.length ? plan.rowNumbers[i]
    : rowCol >= 0 && /^\d+$/.test(plan.rows[i][rowCol] ?? '') ? Number(plan.rows[i][rowCol]) : i + 2);
  const rowNumbers = plan.rows.map((_, i) => rowOf(i));
  return {
    ...plan,
    columns: [...plan.columns.slice(0, at), ...named, ...plan.columns.slice(at)],
    rows: plan.rows.map((r, i) => [...r.slice(0, at), ...cells(byRow.get(rowNumbers[i])), ...r.slice(at)]),
    rowNumbers,
  };
}

/**
 * What the grid is given with a table: each row's number in its sheet (`data-row`, what the
 * problem list jumps to) and the rows that failed (red, and the "Problems only" filter).
 * @typedef {object} GridRows
 * @property {(i: number) => number | undefined} [rowKey]
 * @property {(i: number) => boolean} [failed]
 */

/**
 * @typedef {object} Facet
 * @property {number} col
 * @property {string} label
 * @property {HTMLSelectElement} select
 * @property {string[]} values
 */

/**
 * How a table's rows are selected (the Users grid: a checkbox per row, "Select all N shown"):
 * `key` is a row's identity (kept in a Set, so a selection survives sorting, filtering and the
 * virtual table drawing only the rows in view), `name` names it for its checkbox ("Select
 * USERNAME"), and `onChange` is told each change.
 * @typedef {object} Selectable
 * @property {(row: string[], columns: string[]) => string} key
 * @property {(row: string[], columns: string[]) => string} name
 * @property {() => void} [onChange]
 * @property {(i: number, opener: HTMLElement) => void} [details] Opens the details of row `i`
 *   (an index into the table): each row then has a button "Details of USERNAME" beside its box.
 */

/** @type {WeakMap<HTMLTableElement, ReturnType<typeof createGrid>>} */
const grids = new WeakMap();

/** The grid of a `<table>` inside its `.table-wrap` (made on first use). */
export function gridOf(/** @type {HTMLTableElement} */ tableEl) {
  let grid = grids.get(tableEl);
  if (!grid) {
    grid = createGrid(tableEl);
    grids.set(tableEl, grid);
  }
  return grid;
}

/** @param {HTMLTableElement} tableEl */
function createGrid(tableEl) {
  const wrap = /** @type {HTMLElement} */ (tableEl.parentElement);
  const id = tableEl.id;
  const label = tableEl.getAttribute('aria-label') ?? id;
  const thead = tableEl.tHead ?? tableEl.createTHead();
  const tbody = tableEl.tBodies[0] ?? tableEl.createTBody();

  // The toolbar: search, the filters, problems only, and the count.
  const tools = document.createElement('div');
  tools.className = 'grid-tools';
  tools.id = `${id}-tools`;
  tools.hidden = true;
  tools.innerHTML = `
    <label class="tool"><span>Search</span><input id="${id}-search" type="search" autocomplete="off" spellcheck="false" aria-controls="${id}"></label>
    <span id="${id}-facets" class="facets"></span>
    <details id="${id}-columns" class="tool columns" hidden><summary>Columns</summary><fieldset><legend class="sr-only">Columns shown</legend></fieldset></details>
    <label class="tool check" hidden><input id="${id}-problems" type="checkbox"> <span>Problems only</span></label>
    <span id="${id}-only" class="tool only" data-testid="${id}-only" hidden><span></span> <button type="button" class="link">Show all rows</button></span>
    <span id="${id}-count" class="muted count" role="status"></span>
    <span id="${id}-selected" class="count selected-count" role="status" data-testid="${id}-selected" hidden></span>`;
  wrap.before(tools);
  const search = /** @type {HTMLInputElement} */ (tools.querySelector(`#${id}-search`));
  search.setAttribute('aria-label', `Search ${label}`);
  const facetBox = /** @type {HTMLElement} */ (tools.querySelector('.facets'));
  const problems = /** @type {HTMLInputElement} */ (tools.querySelector(`#${id}-problems`));
  const problemsLabel = /** @type {HTMLElement} */ (problems.closest('label'));
  const problemsText = /** @type {HTMLElement} */ (problemsLabel.querySelector('span'));
  const count = /** @type {HTMLElement} */ (tools.querySelector('.count'));
  const onlyBox = /** @type {HTMLElement} */ (tools.querySelector('.only'));
  const onlyText = /** @type {HTMLElement} */ (onlyBox.querySelector('span'));
  const selectedText = /** @type {HTMLElement} */ (tools.querySelector('.selected-count'));
  const columnsBox = /** @type {HTMLDetailsElement} */ (tools.querySelector('.columns'));
  const columnsList = /** @type {HTMLFieldSetElement} */ (columnsBox.querySelector('fieldset'));

  /** @type {{ cols: number[], table: Table | null, rowKey: (i: number) => number | undefined, failed: (i: number) => boolean, facets: Facet[], hay: string[] | null, sortCol: number, sortDir: 1 | -1, order: Int32Array | null, view: Int32Array, rowH: number, virtual: boolean, drawn: string, frame: number, only: Set<number> | null, select: Selectable | null, keys: string[], selected: Set<string>, chooser: boolean, hiddenCols: Set<string>, onFilter?: () => void }} */
  const s = {
    only: null, select: null, keys: [], selected: new Set(), chooser: false, hiddenCols: new Set(),
    cols: [], table: null, rowKey: () => undefined, failed: () => false, facets: [], hay: null,
    sortCol: -1, sortDir: 1, order: null, view: new Int32Array(0), rowH: 0, virtual: false, drawn: '', frame: 0,
  };

  /** A cell's text as searched and as a filter shows it: the name beside a known id. */
  const shown = withName;

  /** One cell: its value as text, with a name beside a known id, or as a badge. */
  function cell(/** @type {string} */ value, /** @type {boolean} */ badge) {
    const td = document.createElement('td');
    const name = isNamedId(value) ? nameOf(value) : '';
    if (name) {
      td.title = value;
      td.dataset.value = value;
      const n = document.createElement('span');
      n.className = 'name';
      n.textContent = name;
      const i = document.createElement('span');
      i.className = 'id';
      i.textContent = value;
      td.append(n, ' ', i);
    } else if (badge && value) {
      const b = document.createElement('span');
      b.className = `badge tone-${tone(value)}`;
      // A row never sent reads as such (the core's status word for it is "skipped").
      b.textContent = statusWord(value);
      if (b.textContent !== value) td.dataset.value = value;
      td.append(b);
    } else if (ISO_TIME.test(value)) {
      // A time the core writes in UTC (ISO 8601) shows local, with its zone; the value stays.
      td.dataset.value = value;
      td.title = value;
      td.textContent = formatTime(value, { date: true });
    } else {
      td.textContent = value;
    }
    return td;
  }

  function drawHead() {
    const table = /** @type {Table} */ (s.table);
    const tr = document.createElement('tr');
    const order = columnOrder(table.columns, narrow.matches);
    s.cols = order.filter((c) => !s.hiddenCols.has(table.columns[c]));
    // Columns remembered hidden that are all this table has: it shows them all.
    if (!s.cols.length) s.cols = order;
    if (s.select) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.className = 'select';
      const all = document.createElement('input');
      all.type = 'checkbox';
      all.id = `${id}-select-all`;
      all.className = 'select-all';
      all.addEventListener('change', () => selectShown(all.checked));
      th.append(all);
      tr.append(th);
    }
    s.cols.forEach((col) => {
      const c = table.columns[col];
      const th = document.createElement('th');
      th.scope = 'col';
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      const badge = badgeOf(table.columns, c);
      // The plan's change column reads as data add-ins name it; its sheet keeps "Plan".
      b.textContent = badge === 'Change' ? 'Change' : c;
      if (badge === 'Change') b.title = `"${c}" in the sheet`;
      b.addEventListener('click', () => sortBy(col));
      th.setAttribute('aria-sort', s.sortCol === col ? (s.sortDir === 1 ? 'ascending' : 'descending') : 'none');
      th.append(b);
      tr.append(th);
    });
    thead.replaceChildren(tr);
    // The new header's "Select all N shown" box: its name, ticked or mixed.
    selectionChanged(false);
  }

  /** Draws the rows of the view: all of them, or (virtual) those in view and a margin. */
  function drawRows(force = false) {
    const table = s.table;
    if (!table) return;
    const n = s.view.length;
    let first = 0;
    let last = n;
    if (s.virtual) {
      const rowH = s.rowH || 29;
      const headH = thead.offsetHeight || rowH;
      const height = wrap.clientHeight || 600;
      first = Math.max(0, Math.floor((wrap.scrollTop - headH) / rowH) - OVERSCAN);
      last = Math.min(n, Math.ceil((wrap.scrollTop + height) / rowH) + OVERSCAN);
      tableEl.style.marginTop = `${first * rowH}px`;
      tableEl.style.marginBottom = `${Math.max(0, n - last) * rowH}px`;
    } else {
      tableEl.style.marginTop = tableEl.style.marginBottom = '';
    }
    const key = `${first}:${last}`;
    if (!force && key === s.drawn) return;
    s.drawn = key;
    const badges = table.columns.map((c) => badgeOf(table.columns, c) !== undefined);
    const frag = document.createDocumentFragment();
    for (let k = first; k < last; k++) {
      const i = s.view[k];
      const tr = document.createElement('tr');
      if (s.failed(i)) tr.className = 'row-failed';
      const rowKey = s.rowKey(i);
      if (rowKey !== undefined) tr.dataset.row = String(rowKey);
      if (s.virtual) tr.setAttribute('aria-rowindex', String(k + 2));
      const row = table.rows[i];
      if (s.select) {
        const td = document.createElement('td');
        td.className = 'select';
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.className = 'row-select';
        box.dataset.i = String(i);
        box.checked = s.selected.has(s.keys[i]);
        box.setAttribute('aria-label', `Select ${s.select.name(row, table.columns)}`);
        td.append(box);
        if (s.select.details) {
          const more = document.createElement('button');
          more.type = 'button';
          more.className = 'link row-details';
          more.dataset.i = String(i);
          more.title = 'Details';
          more.setAttribute('aria-label', `Details of ${s.select.name(row, table.columns)}`);
          td.append(more);
        }
        tr.append(td);
        if (box.checked) tr.classList.add('row-selected');
      }
      for (const c of s.cols) tr.append(cell(row[c] ?? '', badges[c]));
      frag.append(tr);
    }
    tbody.replaceChildren(frag);
    if (s.virtual && !s.rowH && tbody.rows[0]) {
      s.rowH = tbody.rows[0].getBoundingClientRect().height || 29;
      drawRows(true);
    }
  }

  /**
   * The searched text of each row, up to row `upTo`: built in slices while the page is idle
   * after a table is shown, so the first key typed in the search does not build it all.
   */
  function buildHay(/** @type {number} */ upTo) {
    const table = s.table;
    if (!table) return;
    s.hay ??= [];
    const hay = s.hay;
    const end = Math.min(upTo, table.rows.length);
    for (let i = hay.length; i < end; i++) hay.push(table.rows[i].map(shown).join('\u0001').toLowerCase());
  }
  function buildHayWhenIdle() {
    const table = s.table;
    if (!table || (s.hay && s.hay.length >= table.rows.length)) return;
    setTimeout(() => {
      if (s.table !== table) return;
      buildHay((s.hay?.length ?? 0) + 2000);
      buildHayWhenIdle();
    }, 16);
  }

  /** Filters (and sorts) the rows into the view, counts each filter's choices, and draws. */
  function filter() {
    const table = s.table;
    if (!table) return;
    const q = search.value.trim().toLowerCase();
    if (q) buildHay(table.rows.length);
    const hay = s.hay;
    const wants = s.facets.map((f) => (f.select.value === '' ? null : f.values[Number(f.select.value)]));
    const onlyProblems = problems.checked;
    const counts = s.facets.map(() => /** @type {Map<string, number>} */ (new Map()));
    let problemCount = 0;
    const rows = table.rows;
    const n = rows.length;
    const view = new Int32Array(n);
    let m = 0;
    const add = (/** @type {Map<string, number>} */ map, /** @type {string} */ v) => map.set(v, (map.get(v) ?? 0) + 1);
    for (let k = 0; k < n; k++) {
      const i = s.order ? s.order[k] : k;
      if (q && hay && !hay[i].includes(q)) continue;
      if (s.only && !s.only.has(s.rowKey(i) ?? -1)) continue;
      const row = rows[i];
      const failed = s.failed(i);
      // Each filter's counts are of the rows every other filter lets through.
      let misses = 0;
      let missed = -1;
      for (let f = 0; f < wants.length; f++) {
        const want = wants[f];
        if (want !== null && row[s.facets[f].col] !== want) {
          misses++;
          missed = f;
          if (misses > 1) break;
        }
      }
      const problemMiss = onlyProblems && !failed;
      if (misses === 0) {
        if (failed) problemCount++;
        if (problemMiss) continue;
        for (let f = 0; f < wants.length; f++) add(counts[f], row[s.facets[f].col]);
        view[m++] = i;
      } else if (misses === 1 && !problemMiss) {
        add(counts[missed], row[s.facets[missed].col]);
      }
    }
    s.view = view.subarray(0, m);
    s.facets.forEach((f, fi) => {
      const total = [...counts[fi].values()].reduce((a, b) => a + b, 0);
      const options = f.select.options;
      options[0].textContent = `All (${formatNumber(total)})`;
      f.values.forEach((v, vi) => { options[vi + 1].textContent = `${shown(v) || '(blank)'} (${formatNumber(counts[fi].get(v) ?? 0)})`; });
    });
    problemsText.textContent = `Problems only (${formatNumber(problemCount)})`;
    const total = formatNumber(n);
    count.textContent = m === n ? `${total} row${n === 1 ? '' : 's'}` : `${formatNumber(m)} of ${total} rows shown`;
    if (s.virtual) tableEl.setAttribute('aria-rowcount', String(m + 1));
    else tableEl.removeAttribute('aria-rowcount');
    s.drawn = '';
    drawRows(true);
    selectionChanged(false);
    s.onFilter?.();
  }

  /**
   * After the selection or the rows shown changed: the header's box (ticked when every row
   * shown is selected, mixed when some are) and its name with the count shown, and the
   * "N selected" status (saying how many of them the search or filters hide).
   */
  function selectionChanged(/** @type {boolean} */ tell) {
    if (!s.select) return;
    const all = /** @type {HTMLInputElement | null} */ (thead.querySelector('.select-all'));
    let shownSelected = 0;
    if (s.selected.size) for (const i of s.view) if (s.selected.has(s.keys[i])) shownSelected++;
    const shownCount = s.view.length;
    if (all) {
      all.checked = shownCount > 0 && shownSelected === shownCount;
      all.indeterminate = shownSelected > 0 && shownSelected < shownCount;
      all.setAttribute('aria-label', `Select all ${formatNumber(shownCount)} shown`);
      all.disabled = shownCount === 0;
    }
    const n = s.selected.size;
    const hidden = n - shownSelected;
    // Always in the document while rows can be selected, so each change is announced.
    selectedText.hidden = false;
    selectedText.textContent = n ? `${formatNumber(n)} selected${hidden ? ` (${formatNumber(hidden)} not shown by the search or filters)` : ''}` : '';
    if (tell) s.select.onChange?.();
  }

  /** Selects (or unselects) every row the search and filters show. */
  function selectShown(/** @type {boolean} */ on) {
    for (const i of s.view) {
      if (on) s.selected.add(s.keys[i]);
      else s.selected.delete(s.keys[i]);
    }
    for (const box of /** @type {NodeListOf<HTMLInputElement>} */ (tbody.querySelectorAll('input.row-select'))) {
      box.checked = on;
      box.closest('tr')?.classList.toggle('row-selected', on);
    }
    selectionChanged(true);
  }

  /** Sorts by column `col`: ascending, descending, then back to the sheet's order. */
  function sortBy(/** @type {number} */ col) {
    const table = s.table;
    if (!table) return;
    if (s.sortCol !== col) {
      s.sortCol = col;
      s.sortDir = 1;
    } else if (s.sortDir === 1) s.sortDir = -1;
    else s.sortCol = -1;
    if (s.sortCol === -1) s.order = null;
    else {
      const values = table.rows.map((r) => shown(r[col] ?? ''));
      const numeric = values.every((v) => v === '' || !Number.isNaN(Number(v)));
      const keys = numeric ? values.map((v) => (v === '' ? -Infinity : Number(v))) : values.map((v) => v.toLowerCase());
      const order = Int32Array.from(table.rows.keys());
      const dir = s.sortDir;
      order.sort((a, b) => (keys[a] < keys[b] ? -dir : keys[a] > keys[b] ? dir : a - b));
      s.order = order;
    }
    drawHead();
    filter();
    /** @type {HTMLElement | null} */ (thead.querySelectorAll('button')[s.cols.indexOf(col)])?.focus();
  }

  /** The filters this table offers: its columns that sort rows into a few kinds. */
  function makeFacets() {
    const table = /** @type {Table} */ (s.table);
    /** @type {Facet[]} */
    const facets = [];
    table.columns.forEach((c, col) => {
      const label = FACETS[c.trim().toLowerCase()];
      if (!label || facets.some((f) => f.label === label)) return;
      const distinct = new Set();
      for (const r of table.rows) {
        distinct.add(r[col] ?? '');
        if (distinct.size > MAX_FACET_VALUES) return;
      }
      if (distinct.size < 2) return;
      const values = [...distinct].map(String).sort((a, b) => shown(a).localeCompare(shown(b)));
      const select = document.createElement('select');
      select.id = `${id}-filter-${facets.length}`;
      select.append(new Option('All', ''), ...values.map((v, i) => new Option(v, String(i))));
      select.addEventListener('change', filter);
      const l = document.createElement('label');
      l.className = 'tool';
      const t = document.createElement('span');
      t.textContent = label;
      l.append(t, select);
      facets.push({ col, label, select, values });
      facetBox.append(l);
    });
    return facets;
  }

  /** Where this grid's hidden columns are remembered on this device (by their names). */
  const hiddenKey = `qualtrics-roster:hidden-columns:${id}`;
  /** Remembers the hidden columns on this device (storage unavailable: for this page only). */
  function saveHidden() {
    try {
      if (s.hiddenCols.size) localStorage.setItem(hiddenKey, JSON.stringify([...s.hiddenCols]));
      else localStorage.removeItem(hiddenKey);
    } catch {
      // Private mode or storage full: the choice holds while the page is open.
    }
  }
  /** The hidden columns remembered on this device, if any. */
  function loadHidden() {
    try {
      const kept = JSON.parse(localStorage.getItem(hiddenKey) ?? '[]');
      if (Array.isArray(kept)) s.hiddenCols = new Set(kept.filter((c) => typeof c === 'string'));
    } catch {
      // Nothing usable kept: every column shows.
    }
  }

  /**
   * The column chooser: a box per column of the table, ticked when it is shown. Hidden columns
   * are remembered by name on this device (a new listing, and the next visit, keep them
   * hidden); at least one column stays shown. The search still looks in every column.
   */
  function drawChooser() {
    const table = s.table;
    columnsBox.hidden = !s.chooser || !table;
    if (!s.chooser || !table) return;
    const legend = /** @type {HTMLElement} */ (columnsList.querySelector('legend'));
    const boxes = table.columns.map((c, col) => {
      const label = document.createElement('label');
      label.className = 'check';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = !s.hiddenCols.has(c);
      box.addEventListener('change', () => {
        if (box.checked) s.hiddenCols.delete(c);
        else if (table.columns.filter((x) => !s.hiddenCols.has(x)).length > 1) s.hiddenCols.add(c);
        else box.checked = true; // the last column shown stays
        saveHidden();
        const sorted = s.sortCol === col && s.hiddenCols.has(c);
        if (sorted) {
          s.sortCol = -1;
          s.order = null;
        }
        drawHead();
        if (sorted) filter();
        else drawRows(true);
      });
      label.append(box, ` ${c}`);
      return label;
    });
    columnsList.replaceChildren(legend, ...boxes);
  }

  // A window made narrower or wider shows the columns in its order.
  const narrow = matchMedia(NARROW);
  narrow.addEventListener('change', () => {
    if (!s.table) return;
    drawHead();
    drawRows(true);
  });
  search.addEventListener('input', filter);
  // A row's box: its key joins or leaves the selection (the boxes are redrawn from it).
  tbody.addEventListener('change', (e) => {
    const box = e.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains('row-select')) return;
    const key = s.keys[Number(box.dataset.i)];
    if (key === undefined) return;
    if (box.checked) s.selected.add(key);
    else s.selected.delete(key);
    box.closest('tr')?.classList.toggle('row-selected', box.checked);
    selectionChanged(true);
  });
  // A row's details button: the Selectable's `details` opens them.
  tbody.addEventListener('click', (e) => {
    const more = e.target instanceof HTMLElement ? e.target.closest('button.row-details') : null;
    if (!(more instanceof HTMLButtonElement) || !s.select?.details) return;
    s.select.details(Number(more.dataset.i), more);
  });
  /** Shows every row again after `only`. */
  function showAll() {
    s.only = null;
    onlyBox.hidden = true;
    filter();
  }
  /** @type {HTMLButtonElement} */ (onlyBox.querySelector('button')).addEventListener('click', showAll);
  problems.addEventListener('change', filter);
  wrap.addEventListener('scroll', () => {
    if (!s.virtual || s.frame) return;
    s.frame = requestAnimationFrame(() => {
      s.frame = 0;
      drawRows();
    });
  }, { passive: true });
  onNames(() => {
    if (!s.table) return;
    s.hay = null;
    buildHayWhenIdle();
    s.facets.forEach((f) => { f.values.sort((a, b) => shown(a).localeCompare(shown(b))); });
    filter();
  });

  return {
    /**
     * Shows `table` (its filters and sort start afresh).
     * @param {Table} table
     * @param {GridRows} [how]
     */
    set(table, { rowKey = () => undefined, failed = () => false } = {}) {
      onlyBox.hidden = true;
      Object.assign(s, { only: null, table, rowKey, failed, hay: null, sortCol: -1, sortDir: 1, order: null, rowH: 0, virtual: table.rows.length > VIRTUAL_ABOVE });
      // A new table: nothing is selected in it.
      const had = s.selected.size > 0;
      s.selected = new Set();
      const select = s.select;
      s.keys = select ? table.rows.map((r) => select.key(r, table.columns)) : [];
      search.value = '';
      problems.checked = false;
      facetBox.replaceChildren();
      s.facets = makeFacets();
      problemsLabel.hidden = !table.rows.some((_, i) => failed(i));
      tableEl.caption?.remove();
      if (table.totalRows !== undefined && table.totalRows > table.rows.length) {
        // A preview of a big table (the sheet worker sends the first rows and the count).
        tableEl.createCaption().textContent = `Showing the first ${formatNumber(table.rows.length)} of ${formatNumber(table.totalRows)} rows; the downloads have them all.`;
      }
      wrap.scrollTop = 0;
      tools.hidden = wrap.hidden = false;
      drawHead();
      filter();
      drawChooser();
      buildHayWhenIdle();
      if (had) s.select?.onChange?.();
    },

    /** Empties the table and hides it with its toolbar. */
    clear() {
      const had = s.selected.size > 0;
      s.selected = new Set();
      s.keys = [];
      if (had) s.select?.onChange?.();
      selectedText.hidden = true;
      s.table = null;
      s.view = new Int32Array(0);
      thead.replaceChildren();
      tbody.replaceChildren();
      tableEl.caption?.remove();
      tableEl.style.marginTop = tableEl.style.marginBottom = '';
      tools.hidden = wrap.hidden = true;
    },

    /**
     * Scrolls to the row numbered `rowKey` in its sheet and focuses it, clearing the filters
     * that hide it. False when the table has no such row.
     */
    jumpTo(/** @type {number} */ rowKey) {
      const table = s.table;
      if (!table) return false;
      const i = table.rows.findIndex((_, r) => s.rowKey(r) === rowKey);
      if (i < 0) return false;
      if (!s.view.includes(i)) {
        s.only = null;
        onlyBox.hidden = true;
        search.value = '';
        problems.checked = false;
        for (const f of s.facets) f.select.value = '';
        filter();
      }
      const k = s.view.indexOf(i);
      if (s.virtual) {
        const rowH = s.rowH || 29;
        wrap.scrollTop = Math.max(0, k * rowH - wrap.clientHeight / 3);
        drawRows(true);
      }
      const tr = /** @type {HTMLTableRowElement | null} */ (tbody.querySelector(`tr[data-row="${rowKey}"]`));
      if (!tr) return false;
      for (const old of tbody.querySelectorAll('tr[tabindex]')) old.removeAttribute('tabindex');
      tr.tabIndex = -1;
      if (!s.virtual) tr.scrollIntoView({ block: 'center' });
      tr.focus({ preventScroll: s.virtual });
      return true;
    },

    /**
     * Shows only the rows numbered `rowKeys` (a group of problems: "these 1,234 rows"), saying
     * why in the toolbar with a "Show all rows" button; the other filters still apply.
     */
    only(/** @type {number[]} */ rowKeys, /** @type {string} */ why) {
      if (!s.table) return;
      s.only = new Set(rowKeys);
      onlyText.textContent = why;
      onlyBox.hidden = false;
      filter();
      wrap.scrollTop = 0;
    },

    /**
     * Filters the rows by the filter of the column headed `column` (its select shows it, and
     * clears it): only those whose cell is `value` ('' the blank ones), or every row for null.
     * False when the table offers no filter for that column or no row has that value.
     */
    filterBy(/** @type {string} */ column, /** @type {string | null} */ value) {
      const table = s.table;
      if (!table) return false;
      const facet = s.facets.find((f) => table.columns[f.col] === column);
      if (!facet) {
        // No filter offered: every row has one value there (all shown already), or the column is not here.
        const col = table.columns.indexOf(column);
        return col >= 0 && (value === null || table.rows.every((r) => (r[col] ?? '') === value));
      }
      const at = facet.values.indexOf(value ?? '');
      if (value !== null && at < 0) return false;
      facet.select.value = value === null ? '' : String(at);
      filter();
      wrap.scrollTop = 0;
      return true;
    },

    /** The value the filter of the column headed `column` lets through, or null when it shows all. */
    filteredBy(/** @type {string} */ column) {
      const table = s.table;
      const facet = table ? s.facets.find((f) => table.columns[f.col] === column) : undefined;
      if (!facet || facet.select.value === '') return null;
      return facet.values[Number(facet.select.value)] ?? null;
    },

    /** Calls `fn` after each filtering (the search, a filter, a sort): the Users picture marks its bars. */
    onFilter(/** @type {() => void} */ fn) { s.onFilter = fn; },

    /** How many rows the table has, shows and has selected (tests and the benchmark). */
    counts: () => ({ rows: s.table?.rows.length ?? 0, shown: s.view.length, inDocument: tbody.rows.length, selected: s.selected.size }),

    /**
     * Gives the rows a checkbox each and the header a "Select all N shown" box (see
     * Selectable); takes effect with the next table shown.
     * @param {Selectable} how
     */
    selectable(how) { s.select = how; },

    /**
     * Offers the column chooser (the Users grid), with the columns hidden here before (this
     * device); takes effect with the next table shown.
     */
    chooseColumns() {
      s.chooser = true;
      loadHidden();
    },

    /** Selects (true) or unselects every row shown, as the header's box does. */
    selectShown,

    /** Unselects every row. */
    clearSelection() {
      s.selected = new Set();
      drawRows(true);
      selectionChanged(true);
    },

    /**
     * The selected rows (indexes into the table): those shown first, in the order shown, then
     * any the search or filters hide, in the table's order.
     * @returns {number[]}
     */
    selectedRows() {
      const table = s.table;
      if (!table || !s.selected.size) return [];
      /** @type {number[]} */
      const out = [];
      const seen = new Uint8Array(table.rows.length);
      for (const i of s.view) {
        if (s.selected.has(s.keys[i])) {
          out.push(i);
          seen[i] = 1;
        }
      }
      if (out.length < s.selected.size) {
        for (let i = 0; i < table.rows.length; i++) if (!seen[i] && s.selected.has(s.keys[i])) out.push(i);
      }
      return out;
    },

    /** The rows shown (indexes into the table), in the order shown. */
    shownRows: () => Array.from(s.view),

    /** The columns shown (indexes into the table's columns), in the order shown. */
    shownColumns: () => [...s.cols],

    /** The table shown, if any. */
    table: () => s.table,
  };
}
