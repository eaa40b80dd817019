// The browser host: tables come from a CSV or Excel file or pasted text, read, planned and
// applied in the page's sheet worker; sheets are tables in the page (with downloads) or, for
// sheets the page has no place for, CSV downloads. The Excel host (host/excel.js) implements
// the same Host (host/host.js) over a workbook.
import { tableToCsv } from '../pkg/qualtrics_roster_console.js';
import { sheetsCore } from '../run.js';
import { $, find, download, showProgress } from '../ui.js';
import { gridOf, planWithOutcomes } from '../grid.js';

/** @typedef {import('./host.js').Host} Host */
/** @typedef {import('../pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('../sheet-worker.js').SheetWorker} SheetWorker */

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Where each sheet is shown in the page: Users in its own table, a flow's Plan and Outcomes
 * in that flow's table (`lc-table`, `pv-table`). */
/** @type {Record<string, string>} */
const PAGE_TABLES = { Users: 'users-table', Membership: 'mp-long-table', 'Membership matrix': 'mp-matrix-table' };
const sheetTable = (/** @type {string} */ name, prefix = '') => PAGE_TABLES[name] ?? (['Plan', 'Outcomes'].includes(name) ? `${prefix}table` : null);

/** The sheet chooser beside a flow's file input, made when a workbook has several sheets. */
function sheetPicker(/** @type {string} */ prefix) {
  let select = find(`${prefix}sheet`, HTMLSelectElement);
  if (!select) {
    const file = $(`${prefix}file`, HTMLInputElement);
    const label = Object.assign(document.createElement('label'), { htmlFor: `${prefix}sheet`, textContent: 'Sheet' });
    const made = Object.assign(document.createElement('select'), { id: `${prefix}sheet` });
    file.after(label, made);
    file.addEventListener('change', () => { made.replaceChildren(); label.hidden = made.hidden = true; });
    select = made;
  }
  return { select, label: /** @type {HTMLElement} */ (select.previousElementSibling) };
}

/**
 * The browser host. Files and pasted rows are read, planned and applied by the sheet worker
 * (`worker`, see sheet-worker.js), so big files never freeze the page.
 * @param {{ worker: SheetWorker }} parts
 * @returns {Host}
 */
export function createBrowserHost({ worker }) {
  /** Tables shown in the page, by sheet name, for their downloads. */
  /** @type {Map<string, Table>} */
  const shown = new Map();
  const fileName = (/** @type {string} */ name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

  /** @type {Host} */
  const host = {
    kind: 'browser',

    progress: showProgress,

    /** Remembered connection: in this browser's localStorage (not encrypted). */
    tokenStore: {
      async get(key) { return localStorage.getItem(key); },
      async set(key, value) { localStorage.setItem(key, value); },
      async remove(key) { localStorage.removeItem(key); },
    },

    /** The worker plans and applies with a client of its own. */
    connect: (spec) => worker.connect(spec),

    /** The worker's client (and the token it holds) goes too. */
    disconnect: () => worker.disconnect(),

    /**
     * The flow's chosen file (CSV in any common encoding, or an .xlsx workbook), else its pasted
     * text, read in the worker, which keeps the rows: `{ref, id, columns, rowCount, source,
     * description, notes}`.
     */
    async readTable(prefix, kind) {
      const file = $(`${prefix}file`, HTMLInputElement).files?.[0];
      const pasted = $(`${prefix}paste`, HTMLTextAreaElement).value;
      if (!file && !pasted.trim()) {
        throw new Error('Choose a CSV or Excel file, or paste the rows (with their header row) first.');
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

    /** A table the app made, kept by the worker as a file read would be. */
    async takeTable(prefix, kind, table, source) {
      const kept = await worker.keep(table, kind);
      return { ...kept, source };
    },

    /** The worker holds the rows read at Plan: they cannot have changed. */
    async verifyTable(input) { return input; },

    /** Plans in the worker, which holds the rows `readTable` read and its own client. */
    async plan(kind, input, request, onProgress) {
      if (input.ref === undefined) throw new Error('The page plans only tables its worker read: press Plan again.');
      return worker.plan(kind, input.ref, request, onProgress);
    },

    /** Progress callbacks cross into the worker as Comlink proxies. */
    callback: (fn) => worker.callback(fn),

    /** The Roles sheet: the chosen file, else the pasted text, else null (groups only). */
    async readRoles() {
      const file = $('rl-file', HTMLInputElement).files?.[0];
      const text = file ? await file.text() : $('rl-paste', HTMLTextAreaElement).value;
      if (!text.trim()) return null;
      // Read by the full core module (the console module reads no files), loaded on first use.
      return (await sheetsCore()).readCsv(text);
    },

    /** Puts a Roles sheet in the page's Roles box. */
    async setRoles(table) {
      $('rl-file', HTMLInputElement).value = '';
      $('rl-paste', HTMLTextAreaElement).value = tableToCsv(table).replace(/^\uFEFF/, '');
    },

    /** Shows a table in the page (Users, Plan, Membership), or downloads it as CSV. */
    async writeSheet(name, table, { failedRows, prefix = '' } = {}) {
      const id = sheetTable(name, prefix);
      if (!id) {
        download(`${fileName(name)}.csv`, tableToCsv(table));
        return { sheet: null };
      }
      // Searchable, sortable and filtered (grid.js); big tables draw only the rows in view.
      gridOf($(id, HTMLTableElement)).set(table, {
        rowKey: (i) => table.rowNumbers?.[i],
        failed: (i) => failedRows?.has(table.rowNumbers?.[i] ?? -1) ?? false,
      });
      shown.set(name, table);
      return { sheet: null };
    },

    /**
     * Outcomes added to the plan shown, beside each row's change (the plan stays: what was
     * asked, then what became of it); without a plan, the core's input-plus-outcomes `table`.
     * The Outcome CSV comes from the run itself.
     */
    async writeColumns(input, columns, byRow, { failed, table, plan, prefix }) {
      // A plan cut to a preview would lose rows: then the whole input-plus-outcomes table.
      const both = plan && !(plan.totalRows && plan.totalRows > plan.rows.length) ? planWithOutcomes(plan, columns, byRow) : table;
      await host.writeSheet('Outcomes', both, { failedRows: failed, prefix });
      return { where: null, notWritten: [] };
    },

    /** Scrolls the flow's table to a row and focuses it (a problem's "go to row"). */
    async showRow(prefix, input, row) {
      const table = find(`${prefix}table`, HTMLTableElement);
      if (!table || !gridOf(table).jumpTo(row)) throw new Error(`Row ${row} is not in the table shown.`);
    },

    /** Filters the flow's table to the rows `rows` (a group of problems), saying `why`. */
    async showRows(prefix, input, rows, why) {
      const table = find(`${prefix}table`, HTMLTableElement);
      if (!table) throw new Error('There is no plan table shown.');
      gridOf(table).only(rows, why);
      table.scrollIntoView({ block: 'nearest' });
    },

    /** Filters the Users grid by its own filter for `column` (its select then shows it). */
    async filterUsers(column, value) {
      const table = $('users-table', HTMLTableElement);
      if (!gridOf(table).filterBy(column, value)) throw new Error(`The Users list has no filter for ${column} = "${value}": list users again.`);
      table.scrollIntoView({ block: 'nearest' });
    },

    /** The audit log as a JSON Lines download. */
    async saveAudit(run) {
      download('audit.jsonl', await run.auditJsonl(), 'application/x-ndjson');
    },

    /** Downloads a sheet shown in the page as CSV. */
    async downloadSheet(name, filename) {
      const table = shown.get(name);
      if (!table) throw new Error(`There is no ${name} table yet.`);
      download(filename, tableToCsv(table));
    },

    /** Downloads sheets shown in the page (and the Roles box, when asked) as one workbook. */
    async downloadWorkbook(names, filename) {
      const sheets = [];
      for (const name of names) {
        const table = name === 'Roles' ? await host.readRoles() : shown.get(name);
        if (table) sheets.push({ name, table: { columns: table.columns, rows: table.rows } });
      }
      download(filename, await worker.workbook(sheets), XLSX_TYPE);
    },
  };
  return host;
}
