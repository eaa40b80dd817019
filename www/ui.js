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
