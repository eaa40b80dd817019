// Small DOM helpers shared by the page's views. No logic about Qualtrics lives here.

export const $ = (id) => document.getElementById(id);

/** Sets an element's text and hides it when there is none. */
export function show(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** The message of anything thrown. */
export function messageOf(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Wraps an event handler: runs one at a time per `lock`, clears and shows `errorEl`,
 * and turns every failure into a message (never an unhandled rejection).
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
 */
export function renderTable(tableEl, table, { rowClass, rowKey } = {}) {
  const thead = tableEl.tHead;
  const tbody = tableEl.tBodies[0];
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
    if (key !== undefined) tr.dataset.row = key;
    for (const cell of row) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    frag.append(tr);
  });
  tbody.append(frag);
  // A preview of a big table (the sheet worker sends the first rows and the count).
  if (table.totalRows > table.rows.length) {
    tableEl.createCaption().textContent = `Showing the first ${table.rows.length.toLocaleString('en-US')} of ${table.totalRows.toLocaleString('en-US')} rows; the downloads have them all.`;
  }
}

/** Offers `text` as a file download. */
export function download(filename, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
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
 */
export function showProgress(prefix, { value, max, text, done = false } = {}) {
  const row = $(`${prefix}progress-row`);
  const bar = $(`${prefix}progress`);
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
 * Draws members per group and role as a horizontal bar chart (SVG) in `el`: `counts` is
 * `[{name, kind: "group" | "role", members, unreadable}]`. Roles without a rule show a grey
 * bar and "?" (their membership cannot be read).
 */
export function renderBarChart(el, counts) {
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
  svg.setAttribute('aria-label', 'Members per group and role');
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  counts.forEach((c, i) => {
    const y = i * rowH + 2;
    const label = `${c.name}${c.kind === 'role' ? ' (role)' : ''}`;
    add('text', { x: labelW - 6, y: y + 12, 'text-anchor': 'end' }, label.length > 28 ? `${label.slice(0, 27)}…` : label);
    const w = c.unreadable ? 4 : Math.max(1, (c.members / max) * barW);
    const bar = add('rect', { x: labelW, y, width: w, height: rowH - 4, class: c.unreadable ? 'bar-unreadable' : `bar-${c.kind}` });
    bar.dataset.name = c.name;
    bar.dataset.members = String(c.members);
    add('text', { x: labelW + w + 4, y: y + 12 }, c.unreadable ? '?' : String(c.members));
  });
  el.append(svg);
}
