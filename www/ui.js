// Small DOM helpers shared by the page's views. No logic about Qualtrics lives here.
import { formatNumber } from './format.js';

/** @typedef {import('./host/host.js').ProgressState} ProgressState */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {{ busy: boolean, onChange?: () => void }} Lock One action at a time; `onChange` redraws the buttons. */

/**
 * The element with this id, checked to be a `type` (an HTMLElement when not given). Throws when
 * the document has none, so a renamed id fails where it is used.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
export function $(id, type) {
  const el = find(id, type);
  if (!el) throw new Error(`This page has no element #${id}.`);
  return el;
}

/**
 * The element with this id, if the document has it (the page and the pane show different
 * parts: sections.js), checked to be a `type`.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T | null}
 */
export function find(id, type) {
  const el = document.getElementById(id);
  if (!el) return null;
  const want = type ?? HTMLElement;
  if (!(el instanceof want)) throw new Error(`#${id} is a <${el.localName}>, not a ${want.name}.`);
  return /** @type {T} */ (el);
}

/**
 * Sets an element's text and hides it when there is none.
 * @param {HTMLElement} el
 * @param {string | null | undefined} text
 */
export function show(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** The message of anything thrown. */
/** A column's index by its header (case and surrounding spaces forgiven), or -1. */
export function columnOf(/** @type {string[]} */ columns, /** @type {string} */ name) {
  const want = name.trim().toLowerCase();
  return columns.findIndex((c) => c.trim().toLowerCase() === want);
}

export function messageOf(/** @type {unknown} */ err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The `code` of a RosterError (what the core throws: which operation failed), or null for any
 * other error. Branch on it, never on the message, which is for people.
 * @returns {import('./pkg/qualtrics_roster.js').ErrorCode | null}
 */
export function errorCode(/** @type {unknown} */ err) {
  const code = err instanceof Error && err.name === 'RosterError' ? /** @type {{ code?: unknown }} */ (err).code : null;
  return typeof code === 'string' ? /** @type {import('./pkg/qualtrics_roster.js').ErrorCode} */ (code) : null;
}

/**
 * Wraps an event handler: runs one at a time per `lock`, clears and shows `errorEl`,
 * and turns every failure into a message (never an unhandled rejection).
 * @param {Lock} lock
 * @param {HTMLElement} errorEl
 * @param {(event?: Event) => Promise<unknown>} fn
 * @returns {(event?: Event) => Promise<void>}
 */
export function guarded(lock, errorEl, fn) {
  return async (event) => {
    event?.preventDefault?.();
    if (lock.busy) return;
    show(errorEl, '');
    lock.busy = true;
    lock.onChange?.();
    try {
      await fn(event);
    } catch (err) {
      show(errorEl, messageOf(err));
    } finally {
      lock.busy = false;
      lock.onChange?.();
    }
  };
}

/**
 * Renders `{columns, rows}` into a <table>. `rowClass(i)` may give a class per row;
 * `rowKey(i)` sets data-row (the sheet row number) so tests and hosts can find rows.
 * @param {HTMLTableElement} tableEl
 * @param {Table | null} table
 * @param {{ rowClass?: (i: number) => string, rowKey?: (i: number) => number | undefined }} [how]
 */
export function renderTable(tableEl, table, { rowClass, rowKey } = {}) {
  const thead = tableEl.tHead ?? tableEl.createTHead();
  const tbody = tableEl.tBodies[0] ?? tableEl.createTBody();
  thead.replaceChildren();
  tbody.replaceChildren();
  tableEl.caption?.remove();
  if (!table) return;
  const head = document.createElement('tr');
  for (const c of table.columns) {
    const th = document.createElement('th');
    th.textContent = c;
    head.append(th);
  }
  thead.append(head);
  const frag = document.createDocumentFragment();
  table.rows.forEach((row, i) => {
    const tr = document.createElement('tr');
    const cls = rowClass?.(i);
    if (cls) tr.className = cls;
    const key = rowKey?.(i);
    if (key !== undefined) tr.dataset.row = String(key);
    for (const cell of row) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    frag.append(tr);
  });
  tbody.append(frag);
  // A preview of a big table (the sheet worker sends the first rows and the count).
  if (table.totalRows !== undefined && table.totalRows > table.rows.length) {
    tableEl.createCaption().textContent = `Showing the first ${formatNumber(table.rows.length)} of ${formatNumber(table.totalRows)} rows; the downloads have them all.`;
  }
}

/**
 * Offers text or bytes as a file download.
 * @param {string} filename
 * @param {string | Uint8Array} data
 */
export function download(filename, data, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([/** @type {BlobPart} */ (data)], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Shows progress in the view's progress row (`{prefix}progress-row`, `…progress`,
 * `…progress-text`): `value`/`max` for a bar, none for an indeterminate one, `done` hides it.
 * @param {string} prefix
 * @param {ProgressState} [state]
 */
export function showProgress(prefix, { value, max, text, done = false } = {}) {
  const row = $(`${prefix}progress-row`);
  const bar = $(`${prefix}progress`, HTMLProgressElement);
  row.hidden = done;
  if (done) return;
  if (max === undefined) bar.removeAttribute('value');
  else {
    bar.max = max;
    bar.value = value ?? 0;
  }
  if (text !== undefined) $(`${prefix}progress-text`).textContent = text;
}

/**
 * Draws counts as a horizontal bar chart (SVG) in `el`: members per group and role, `counts`
 * `[{name, kind: "group" | "role", members, unreadable}]` (roles without a rule show a grey bar
 * and "?": their membership cannot be read), or outcomes per row (`kind` the outcome: done,
 * failed…, coloured as such). `label` names the chart for screen readers.
 * @param {HTMLElement} el
 * @param {{ name: string, kind: string, members: number, unreadable?: boolean }[]} counts
 */
export function renderBarChart(el, counts, label = 'Members per group and role') {
  el.replaceChildren();
  if (!counts?.length) return;
  const ns = 'http://www.w3.org/2000/svg';
  const rowH = 18;
  const labelW = 170;
  const barW = 220;
  const max = Math.max(1, ...counts.map((c) => c.members));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${labelW + barW + 40} ${counts.length * rowH + 4}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${counts.map((c) => `${c.name} ${c.unreadable ? 'unknown' : c.members}`).join(', ')}`);
  /** @type {(tag: string, attrs: Record<string, string | number>, text?: string) => SVGElement} */
  const add = (tag, attrs, text) => {
    const e = /** @type {SVGElement} */ (document.createElementNS(ns, tag));
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  counts.forEach((c, i) => {
    const y = i * rowH + 2;
    const name = `${c.name}${c.kind === 'role' ? ' (role)' : ''}`;
    add('text', { x: labelW - 6, y: y + 12, 'text-anchor': 'end' }, name.length > 28 ? `${name.slice(0, 27)}…` : name);
    const w = c.unreadable ? 4 : Math.max(1, (c.members / max) * barW);
    const bar = add('rect', { x: labelW, y, width: w, height: rowH - 4, class: c.unreadable ? 'bar-unreadable' : `bar-${c.kind}` });
    bar.dataset.name = c.name;
    bar.dataset.members = String(c.members);
    add('text', { x: labelW + w + 4, y: y + 12 }, c.unreadable ? '?' : String(c.members));
  });
  el.append(svg);
}

/** The URL's fragment, decoded ('' when it is not valid percent-encoding: a bad link opens the
 * first view rather than stopping the page). */
export function hashText() {
  try {
    return decodeURIComponent(location.hash.slice(1));
  } catch {
    return '';
  }
}
