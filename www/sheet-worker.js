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

/** Starts the worker and returns its API: connect, read, plan (see worker.js). */
export function createSheetWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  /** @type {Comlink.Remote<import('./worker.js').WorkerApi>} */
  const api = Comlink.wrap(worker);
  return {
    /** @param {ConnectionSpec} spec */
    connect: (spec) => api.connect(spec),
    /** Forgets the worker's client and the token in it. */
    disconnect: () => api.disconnect(),
    /**
     * Reads a File (bytes transferred) or pasted text; `kind` keys the journal.
     * @param {{ file?: File, text?: string, sheet?: string, kind: Kind }} what
     * @returns {Promise<KeptTable>}
     */
    async read({ file, text, sheet, kind }) {
      if (file) {
        const bytes = new Uint8Array(await file.arrayBuffer());
        return api.read(Comlink.transfer({ bytes, name: file.name, sheet, kind }, [bytes.buffer]));
      }
      return api.read({ text, kind });
    },
    /**
     * Keeps a table made in the page (structured-cloned into the worker) as `read` keeps a file.
     * @param {import('./pkg/qualtrics_roster.js').TableView} table
     * @param {Kind} kind
     * @returns {Promise<KeptTable>}
     */
    keep: (table, kind) => api.keep({ table: { columns: table.columns, rows: table.rows }, kind }),
    /**
     * Plans a table the worker keeps; the run stays there (every call on it is answered there).
     * @param {Kind} kind
     * @param {number} ref
     * @param {PlanRequest} request
     * @param {OnProgress} onProgress
     * @returns {Promise<FlowRun>}
     */
    plan: async (kind, ref, request, onProgress) => api.plan(kind, ref, request, Comlink.proxy(onProgress)),
    /**
     * Tables (`[{name, table}]`) as .xlsx bytes.
     * @param {{ name: string, table: import('./pkg/qualtrics_roster.js').TableView }[]} sheets
     */
    workbook: (sheets) => api.workbook(sheets),
    /**
     * Wraps a progress callback for a run's apply().
     * @param {OnProgress} fn
     * @returns {OnProgress}
     */
    callback: (fn) => Comlink.proxy(fn),
  };
}
