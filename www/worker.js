// The page's sheet worker: reads files (CSV in any encoding, workbooks), plans and applies runs
// off the main thread, so a 50 MB file never freezes the page. It holds its own WASM core and
// client (the same token the page's client has, in this worker's memory only). The page talks
// to it through Comlink (www/sheet-worker.js); big tables stay here and the page gets a preview
// plus the row count, and asks for whole tables as CSV or XLSX when it downloads them.
import * as Comlink from './pkg/comlink.mjs';
import { flowRun, forgetSheetsClient, planSheet, sheetsClient, sheetsCore, workbooks } from './run.js';

/** @typedef {import('./pkg/qualtrics_roster.js').SheetKind} Kind */
/** @typedef {import('./run.js').PlanRequest} PlanRequest */
/** @typedef {import('./run.js').OnProgress} OnProgress */

/**
 * Where and how to connect: `{url, token}` (the sandbox) or `{relay: true, url, datacenter, token}`.
 * @typedef {object} ConnectionSpec
 * @property {boolean} [relay]
 * @property {string} url
 * @property {string} [datacenter]
 * @property {string} token
 * @property {boolean} [bearer] An OAuth access token (sent as `Authorization: Bearer`), not an API token.
 */

/**
 * What `read` answers: the table stays here under `ref`; the page gets its summary.
 * @typedef {object} KeptTable
 * @property {number} ref
 * @property {string} id The core's journal key of the table as a sheet of its `kind`.
 * @property {string[]} columns
 * @property {number} rowCount
 * @property {string} description
 * @property {string[]} notes
 * @property {string[]} sheets The workbook's sheets (none for CSV or pasted text).
 * @property {string | null} sheet The sheet read.
 * @property {string[][]} preview The first rows (the mapping step shows them under the mapped names).
 */

// A RosterError keeps its `code` on its way to the page: Comlink sends an Error's message, name
// and stack only, and the page branches on the code ("needs-confirmation", say).
const thrown = /** @type {Comlink.TransferHandler<{ value: unknown }, { isError: boolean, value: Record<string, unknown> }>} */ (Comlink.transferHandlers.get('throw'));
Comlink.transferHandlers.set('throw', {
  canHandle: thrown.canHandle,
  serialize(/** @type {{ value: unknown }} */ value) {
    const [serialized, transferables] = thrown.serialize(value);
    const code = /** @type {{ code?: unknown }} */ (value.value)?.code;
    if (serialized.isError && typeof code === 'string') serialized.value.code = code;
    return [serialized, transferables];
  },
  deserialize: thrown.deserialize,
});

/** Rows of a table the page shows; the rest are in the downloads. */
const PREVIEW_ROWS = 1000;
/** Rows a read table's summary carries for the mapping step's preview. */
const PREVIEW_HEAD = 5;

/** The full core module (this worker's reason to exist), started with the worker. */
const ready = sheetsCore();
/** @type {import('./pkg/qualtrics_roster.js').RosterClient | null} */
let client = null;
/** @type {Map<number, import('./pkg/qualtrics_roster.js').Sheet>} */
const tables = new Map();
let nextRef = 1;

const isZip = (/** @type {Uint8Array} */ b) => b.length > 1 && b[0] === 0x50 && b[1] === 0x4b;
/** Moves (does not copy) bytes to the page. */
const transfer = (/** @type {Uint8Array} */ bytes) => Comlink.transfer(bytes, [bytes.buffer]);

const api = {
  /** Makes the worker's client: `{relay: true, url, datacenter, token}` or `{url, token}`. */
  async connect(/** @type {ConnectionSpec} */ spec) {
    client = await sheetsClient(spec);
  },

  /** Forgets the client, and the token it holds. */
  disconnect() {
    forgetSheetsClient();
    client = null;
  },

  /**
   * Reads a file's bytes (`{bytes, name, sheet}`) or pasted text (`{text}`) and keeps the table
   * here (see KeptTable).
   * @param {{ bytes?: Uint8Array, text?: string, name?: string, sheet?: string, kind: Kind }} what
   * @returns {Promise<KeptTable>}
   */
  async read({ bytes, text, name, sheet: chosen, kind }) {
    const { Sheet } = await ready;
    let sheet;
    let workbook = null;
    if (bytes && (isZip(bytes) || /\.xlsx$/i.test(name ?? ''))) {
      workbook = (await workbooks()).readWorkbook(bytes, chosen || undefined);
      sheet = Sheet.fromTable(workbook);
    } else {
      // The rows stay in the core's memory; only the summary crosses to the page.
      sheet = bytes ? Sheet.fromBytes(bytes) : Sheet.fromText(text ?? '');
    }
    const ref = nextRef++;
    tables.set(ref, sheet);
    return {
      ref,
      id: sheet.journalKey(kind),
      columns: sheet.columns,
      rowCount: sheet.rowCount,
      description: sheet.description,
      notes: sheet.notes,
      sheets: workbook?.sheets ?? [],
      sheet: workbook?.sheet ?? null,
      preview: sheet.head(PREVIEW_HEAD),
    };
  },

  /**
   * Keeps a table the page made (the Users grid's selected rows, say) as if it were a file read:
   * the same summary as `read`, planned the same way.
   * @param {{ table: import('./pkg/qualtrics_roster.js').TableView, kind: Kind }} what
   * @returns {Promise<KeptTable>}
   */
  async keep({ table, kind }) {
    const { Sheet } = await ready;
    const sheet = Sheet.fromTable({ columns: table.columns, rows: table.rows });
    const ref = nextRef++;
    tables.set(ref, sheet);
    return { ref, id: sheet.journalKey(kind), columns: sheet.columns, rowCount: sheet.rowCount, description: sheet.description, notes: sheet.notes, sheets: [], sheet: null, preview: sheet.head(PREVIEW_HEAD) };
  },

  /**
   * Plans a kept table as a `kind` sheet; the run stays here, the page gets a proxy to it.
   * @param {Kind} kind
   * @param {number} ref
   * @param {PlanRequest} request
   * @param {OnProgress} onProgress
   */
  async plan(kind, ref, request, onProgress) {
    if (!client) throw new Error('Connect first.');
    const table = tables.get(ref);
    if (!table) throw new Error('The file was read again or closed: press Plan again.');
    // Planning takes the sheet over.
    tables.delete(ref);
    const run = await planSheet(client, kind, table, request, (p) => { onProgress(p); });
    return Comlink.proxy(flowRun(run, { previewRows: PREVIEW_ROWS, transfer }));
  },

  /** Tables (`[{name, table}]`) as one workbook's bytes. */
  async workbook(/** @type {{ name: string, table: import('./pkg/qualtrics_roster.js').TableView }[]} */ sheets) {
    return transfer((await workbooks()).writeWorkbook(sheets, Date.now()));
  },

  /** Forgets a kept table. */
  drop(/** @type {number} */ ref) { tables.delete(ref); },
};

/** @typedef {typeof api} WorkerApi The worker's calls, for the page's side (sheet-worker.js). */

Comlink.expose(api);
