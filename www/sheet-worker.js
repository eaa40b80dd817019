// The page's side of the sheet worker (worker.js): the same calls, answered off the main
// thread. Callbacks (progress) are passed as Comlink proxies; file bytes are transferred, not
// copied.
import * as Comlink from './pkg/comlink.mjs';

/** Starts the worker and returns its API: connect, read, plan (see worker.js). */
export function createSheetWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const api = Comlink.wrap(worker);
  return {
    connect: (spec) => api.connect(spec),
    /** Reads a File (bytes transferred) or pasted text; `kind` keys the journal. */
    async read({ file, text, sheet, kind }) {
      if (file) {
        const bytes = new Uint8Array(await file.arrayBuffer());
        return api.read(Comlink.transfer({ bytes, name: file.name, sheet, kind }, [bytes.buffer]));
      }
      return api.read({ text, kind });
    },
    plan: (kind, ref, options, journal, onPage, roles) => api.plan(kind, ref, options, journal, Comlink.proxy(onPage), roles),
    /** Tables (`[{name, table}]`) as .xlsx bytes. */
    workbook: (sheets) => api.workbook(sheets),
    /** Wraps a progress callback for a run's apply(). */
    callback: (fn) => Comlink.proxy(fn),
  };
}
