// The page's sheet worker: reads files (CSV in any encoding, workbooks), plans and applies runs
// off the main thread, so a 50 MB file never freezes the page. It holds its own WASM core and
// client (the same token the page's client has, in this worker's memory only). The page talks
// to it through Comlink (www/sheet-worker.js); big tables stay here and the page gets a preview
// plus the row count, and asks for whole tables as CSV or XLSX when it downloads them.
import init, { RosterClient, Sheet, tableToCsv } from './pkg/qualtrics_roster.js';
import * as Comlink from './pkg/comlink.mjs';

/** Rows of a table the page shows; the rest are in the downloads. */
const PREVIEW_ROWS = 1000;

const ready = init();
let client = null;
const tables = new Map();
let nextRef = 1;
let workbookModule = null;

async function workbooks() {
  if (!workbookModule) {
    const mod = await import('./pkg/qualtrics_roster_xlsx.js');
    await mod.default();
    workbookModule = mod;
  }
  return workbookModule;
}

const isZip = (b) => b.length > 1 && b[0] === 0x50 && b[1] === 0x4b;

/** A run (lifecycle, provisioning, membership) as the flow uses it, with tables cut for the
 * page and whole tables on request. */
function runFacade(run) {
  const tableOf = { outcomes: () => run.outcomeTable(), plan: () => run.plan().table };
  return Comlink.proxy({
    plan() { return run.plan(PREVIEW_ROWS); },
    apply(onProgress) { return run.apply((p) => { onProgress(p); }); },
    cancel() { run.cancel(); },
    outcomeColumns() { return run.outcomeColumns(); },
    outcomeRows() { return run.outcomeRows(); },
    outcomeTable() { return run.outcomeTable(PREVIEW_ROWS); },
    beforeTable() { return run.beforeTable(); },
    auditTable() { return run.auditTable(); },
    auditJsonl() { return run.auditJsonl(); },
    /** A whole table ('outcomes' or 'plan') as CSV. */
    tableCsv(which) { return tableToCsv(tableOf[which]()); },
    /** The outcomes beside the input, and the plan, as one workbook's bytes. */
    async workbook() {
      const { writeWorkbook } = await workbooks();
      const bytes = writeWorkbook([
        { name: 'Outcomes', table: run.outcomeTable() },
        { name: 'Plan', table: run.plan().table },
      ], Date.now());
      return Comlink.transfer(bytes, [bytes.buffer]);
    },
    free() { run.free(); },
  });
}

const api = {
  /** Makes the worker's client: `{relay: true, url, datacenter, token}` or `{url, token}`. */
  async connect(spec) {
    await ready;
    client?.free();
    client = spec.relay ? RosterClient.viaRelay(spec.url, spec.datacenter, spec.token) : RosterClient.direct(spec.url, spec.token);
  },

  /**
   * Reads a file's bytes (`{bytes, name, sheet}`) or pasted text (`{text}`) and keeps the table
   * here: `{ref, id, columns, rowCount, description, notes, sheets, sheet}`.
   */
  async read({ bytes, text, name, sheet: chosen, kind }) {
    await ready;
    let sheet;
    let workbook = null;
    if (bytes && (isZip(bytes) || /\.xlsx$/i.test(name ?? ''))) {
      workbook = (await workbooks()).readWorkbook(bytes, chosen || undefined);
      sheet = Sheet.fromTable(workbook);
    } else {
      // The rows stay in the core's memory; only the summary crosses to the page.
      sheet = bytes ? Sheet.fromBytes(bytes) : Sheet.fromText(text);
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
    };
  },

  /** Plans a kept table: `kind` is lifecycle, provision or membership. */
  async plan(kind, ref, options, journal, onPage, roles) {
    if (!client) throw new Error('Connect first.');
    const table = tables.get(ref);
    if (!table) throw new Error('The file was read again or closed: press Plan again.');
    // Planning takes the sheet over.
    tables.delete(ref);
    const progress = (p) => { onPage(p); };
    let run;
    if (kind === 'lifecycle') run = await client.planLifecycle(table, { ...options, journal }, progress);
    else if (kind === 'provision') run = await client.planProvision(table, { ...options, journal }, progress);
    else run = await client.planMembership(table, roles, options, progress);
    return runFacade(run);
  },

  /** Tables (`[{name, table}]`) as one workbook's bytes. */
  async workbook(sheets) {
    const bytes = (await workbooks()).writeWorkbook(sheets, Date.now());
    return Comlink.transfer(bytes, [bytes.buffer]);
  },

  /** Forgets a kept table. */
  drop(ref) { tables.delete(ref); },
};

Comlink.expose(api);
