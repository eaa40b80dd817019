// The page's side of the sheet worker (worker.js): the same calls, answered off the main
// thread. Callbacks (progress) are passed as Comlink proxies; file bytes are transferred, not
// copied.
import * as Comlink from './pkg/comlink.mjs';

/** @typedef {import('./pkg/qualtrics_roster.js').SheetKind} Kind */
/** @typedef {import('./run.js').FlowRun} FlowRun */
/** @typedef {import('./run.js').PlanRequest} PlanRequest */
/** @typedef {import('./run.js').OnProgress} OnProgress */
/** @typedef {import('./worker.js').KeptTable} KeptTable */
/** @typedef {import('./worker.js').ConnectionSpec} ConnectionSpec */
/** @typedef {ReturnType<typeof createSheetWorker>} SheetWorker */

/**
 * The worker's API: connect, read, plan (see worker.js). The worker (and the full core module it
 * loads) starts on the first read, keep or workbook, not before: a page that only connects and
 * lists users never downloads the planners. The connection is kept here until then and given to
 * the worker first, so every call after it finds the worker connected.
 */
export function createSheetWorker() {
  /** @type {Comlink.Remote<import('./worker.js').WorkerApi> | null} */
  let started = null;
  /** @type {ConnectionSpec | null} */
  let spec = null;
  /** The worker's connection as last given: awaited by every call, so its failure is theirs. */
  let connected = Promise.resolve();
  const worker = async () => {
    if (!started) {
      started = Comlink.wrap(new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }));
      if (spec) connected = started.connect(spec);
    }
    await connected;
    return started;
  };
  return {
    /** @param {ConnectionSpec} given */
    async connect(given) {
      spec = given;
      if (started) await (connected = started.connect(given));
    },
    /** Forgets the worker's client and the token in it. */
    async disconnect() {
      spec = null;
      connected = Promise.resolve();
      if (started) await started.disconnect();
    },
    /**
     * Reads a File (bytes transferred) or pasted text; `kind` keys the journal.
     * @param {{ file?: File, text?: string, sheet?: string, kind: Kind }} what
     * @returns {Promise<KeptTable>}
     */
    async read({ file, text, sheet, kind }) {
      if (file) {
        const bytes = new Uint8Array(await file.arrayBuffer());
        return (await worker()).read(Comlink.transfer({ bytes, name: file.name, sheet, kind }, [bytes.buffer]));
      }
      return (await worker()).read({ text, kind });
    },
    /**
     * Keeps a table made in the page (structured-cloned into the worker) as `read` keeps a file.
     * @param {import('./pkg/qualtrics_roster.js').TableView} table
     * @param {Kind} kind
     * @returns {Promise<KeptTable>}
     */
    keep: async (table, kind) => (await worker()).keep({ table: { columns: table.columns, rows: table.rows }, kind }),
    /**
     * Plans a table the worker keeps; the run stays there (every call on it is answered there).
     * @param {Kind} kind
     * @param {number} ref
     * @param {PlanRequest} request
     * @param {OnProgress} onProgress
     * @returns {Promise<FlowRun>}
     */
    plan: async (kind, ref, request, onProgress) => (await worker()).plan(kind, ref, request, Comlink.proxy(onProgress)),
    /**
     * Tables (`[{name, table}]`) as .xlsx bytes.
     * @param {{ name: string, table: import('./pkg/qualtrics_roster.js').TableView }[]} sheets
     */
    workbook: async (sheets) => (await worker()).workbook(sheets),
    /**
     * Wraps a progress callback for a run's apply().
     * @param {OnProgress} fn
     * @returns {OnProgress}
     */
    callback: (fn) => Comlink.proxy(fn),
  };
}
