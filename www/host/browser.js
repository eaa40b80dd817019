// The browser host: tables come from a CSV file or pasted text; sheets are tables in the page
// (with a CSV download) or, for sheets the page has no place for, CSV downloads. The Excel host
// (host/excel.js) offers the same functions over a workbook.
import { readCsv, readFile, tableToCsv } from '../pkg/qualtrics_roster.js';
import { $, renderTable, download, showProgress } from '../ui.js';

/** Where each sheet is shown in the page: Users in its own table, a flow's Plan and Outcomes
 * in that flow's table (`lc-table`, `pv-table`). */
const PAGE_TABLES = { Users: 'users-table', Membership: 'mp-long-table', 'Membership matrix': 'mp-matrix-table' };
const sheetTable = (name, prefix = '') => PAGE_TABLES[name] ?? (['Plan', 'Outcomes'].includes(name) ? `${prefix}table` : null);

/** The sheet chooser beside a flow's file input, made when a workbook has several sheets. */
function sheetPicker(prefix) {
  let select = $(`${prefix}sheet`);
  if (!select) {
    const file = $(`${prefix}file`);
    const label = Object.assign(document.createElement('label'), { htmlFor: `${prefix}sheet`, textContent: 'Sheet' });
    select = Object.assign(document.createElement('select'), { id: `${prefix}sheet` });
    file.after(label, select);
    file.addEventListener('change', () => { select.replaceChildren(); label.hidden = select.hidden = true; });
  }
  return { select, label: select.previousElementSibling };
}

/**
 * The browser host. Files and pasted rows are read, planned and applied by the sheet worker
 * (`worker`, see sheet-worker.js), so big files never freeze the page.
 */
export function createBrowserHost({ worker } = {}) {
  const shown = new Map();
  const fileName = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const host = {
    kind: 'browser',
    worker,

    /** Wraps a progress callback so the worker can call it. */
    callback: (fn) => (worker ? worker.callback(fn) : fn),

    /** Offers bytes or text as a download. */
    download,

    /**
     * The flow's chosen file (CSV in any common encoding, or an .xlsx workbook), else its pasted
     * text, read in the worker: `{ref, id, columns, rowCount, source, description, notes}`.
     */
    async readTable(prefix = 'lc-', kind = 'lifecycle') {
      const file = $(`${prefix}file`).files?.[0];
      const pasted = $(`${prefix}paste`).value;
      if (!file && !pasted.trim()) {
        throw new Error('Choose a CSV or Excel file, or paste the rows (with their header row) first.');
      }
      if (!worker) {
        const read = file ? readFile(new Uint8Array(await file.arrayBuffer())) : readCsv(pasted);
        return { ...read, source: file ? file.name : 'pasted text' };
      }
      const picker = file ? sheetPicker(prefix) : null;
      const chosen = picker?.select.value || undefined;
      host.progress(prefix, { text: `Reading ${file ? file.name : 'the pasted rows'}…` });
      let read;
      try {
        read = await worker.read(file ? { file, sheet: chosen, kind } : { text: pasted, kind });
      } finally {
        host.progress(prefix, { done: true });
      }
      if (picker && read.sheets.length > 1) {
        picker.select.replaceChildren(...read.sheets.map((name) => new Option(name, name, false, name === read.sheet)));
        picker.select.hidden = picker.label.hidden = false;
      }
      return { ...read, source: file ? (read.sheet ? `${file.name}, sheet "${read.sheet}"` : file.name) : 'pasted text' };
    },

    /** The Roles sheet: the chosen file, else the pasted text, else null (groups only). */
    async readRoles() {
      const file = $('rl-file').files?.[0];
      const text = file ? await file.text() : $('rl-paste').value;
      if (!text.trim()) return null;
      return readCsv(text);
    },

    /** Puts a Roles sheet in the page's Roles box. */
    async setRoles(table) {
      $('rl-file').value = '';
      $('rl-paste').value = tableToCsv(table).replace(/^\uFEFF/, '');
      return { shown: 'Roles' };
    },

    /** Shows a table in the page (Users, Plan), or downloads it as CSV. */
    async writeSheet(name, table, { failedRows, prefix = '' } = {}) {
      const id = sheetTable(name, prefix);
      if (!id) {
        download(`${fileName(name)}.csv`, tableToCsv(table));
        return { downloaded: `${fileName(name)}.csv` };
      }
      renderTable($(id), table, {
        rowKey: (i) => table.rowNumbers?.[i],
        rowClass: (i) => (failedRows?.has(table.rowNumbers?.[i]) ? 'row-failed' : ''),
      });
      shown.set(`${PAGE_TABLES[name] ? '' : prefix}${name}`, table);
      return { shown: name };
    },

    /**
     * Outcome columns beside the input: the page shows `table` (the core's input-plus-outcomes
     * table) in place of the plan and keeps it for the Outcome CSV.
     */
    async writeColumns(input, columns, byRow, { failed = new Set(), table, prefix }) {
      await this.writeSheet('Outcomes', table, { failedRows: failed, prefix });
      return { written: byRow.size, notWritten: [] };
    },

    /** The audit log as JSON Lines. */
    saveAudit(jsonl) {
      download('audit.jsonl', jsonl, 'application/x-ndjson');
    },

    /** Downloads a sheet shown in the page. */
    downloadSheet(name, filename) {
      download(filename, tableToCsv(shown.get(name)));
    },

    /** Downloads sheets shown in the page (and the Roles box, when asked) as one workbook. */
    async downloadWorkbook(names, filename) {
      const sheets = [];
      for (const name of names) {
        const table = name === 'Roles' ? await host.readRoles() : shown.get(name);
        if (table) sheets.push({ name, table: { columns: table.columns, rows: table.rows } });
      }
      download(filename, await worker.workbook(sheets), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    },

    /** Progress of a long step, in the page. */
    progress: showProgress,

    /** Remembered connection: in this browser's localStorage (not encrypted). */
    tokenStore: {
      async get(key) { return localStorage.getItem(key); },
      async set(key, value) { localStorage.setItem(key, value); },
      async remove(key) { localStorage.removeItem(key); },
    },
  };
  return host;
}
