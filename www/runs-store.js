// The runs of this device (issue 29.5), kept in this origin's IndexedDB: one record per Apply
// of a sheet (lifecycle, provisioning, membership), in the page and in the Excel pane. Private
// data (usernames, the rows a run sent, their results) that never leaves this browser profile
// and is never written into a workbook; the token is never in a record. At most MAX_RUNS runs
// are kept (the oldest go first); a run's rows are kept only up to MAX_KEPT_ROWS (above that,
// its counts and status only).
//
// A tiny promise wrapper over IndexedDB, written here rather than a dependency: one object store
// keyed by the run's id, read whole (50 records at most).

/** The database and its store. */
const DB_NAME = 'qualtrics-roster';
const STORE = 'runs';
const VERSION = 1;
/** Runs kept: the newest this many (a run still sending is never dropped). */
export const MAX_RUNS = 50;
/** Rows of a run kept (its sheet and per-row results); a bigger run keeps its counts only. */
export const MAX_KEPT_ROWS = 20_000;

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {'lifecycle' | 'provision' | 'membership'} RunKind */
/**
 * A run's status: `sending` while it applies (a record still sending when no window holds its
 * lock was interrupted: the window closed or reloaded mid-apply), then `done`, `partly failed`
 * (some rows failed or were not sent), `cancelled` (the administrator pressed Cancel) or
 * `interrupted`.
 * @typedef {'sending' | 'done' | 'partly failed' | 'cancelled' | 'interrupted'} RunStatus
 */
/** @typedef {{ done: number, unchanged: number, failed: number, refused: number, skipped: number }} RunCounts */
/**
 * One run as kept.
 * @typedef {object} RunRecord
 * @property {string} id
 * @property {RunKind} kind
 * @property {'page' | 'pane'} where Where it ran (the page and the pane share this origin's store).
 * @property {number} startedAt Unix milliseconds.
 * @property {number | null} endedAt
 * @property {string} by Who applied it (the connection's user name).
 * @property {string | null} brand
 * @property {string} source Where its rows came from ("leavers.csv", "Leavers!A1:C42").
 * @property {number} rowCount
 * @property {number} changes Changes planned.
 * @property {RunStatus} status
 * @property {RunCounts | null} counts Per-row outcome counts, once it ended.
 * @property {string} journalId The key of its journal (localStorage): Resume plans with it.
 * @property {number} width How many of `table`'s columns are the input's (the rest are outcomes).
 * @property {Table | null} table The input with its outcome columns beside it (null: too big to keep).
 * @property {number[]} failedRows Row numbers that failed or were not sent (Retry plans them).
 * @property {Table | null} before Lifecycle: the accounts it changed as they were (Undo plans it).
 * @property {string} [defaultAction] Lifecycle: the action chosen for rows without one.
 * @property {{ what: 'retry' | 'undo' | 'resume', of: string } | null} origin What it was made from.
 * @property {string | null} [resumedBy] The run that resumed this interrupted one.
 */

/** @type {Promise<IDBDatabase> | null} */
let opened = null;

/** The answer of an IndexedDB request, as a promise. */
function done(/** @type {IDBRequest} */ req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** The database, opened (and made) once per window. */
function database() {
  if (typeof indexedDB === 'undefined') return Promise.reject(new Error('This browser keeps no IndexedDB here (private mode?): runs are not kept on this device.'));
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, VERSION);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB did not open'));
    req.onblocked = () => reject(new Error('IndexedDB is blocked by another window of this app: close it and reload.'));
  });
  opened.catch(() => { opened = null; });
  return opened;
}

/** Runs `fn` on the store in a transaction of `mode`, resolving once it is committed. */
async function withStore(/** @type {IDBTransactionMode} */ mode, /** @type {(store: IDBObjectStore) => IDBRequest | void} */ fn) {
  const db = await database();
  const tx = db.transaction(STORE, mode);
  const req = fn(tx.objectStore(STORE));
  const result = req ? done(req) : Promise.resolve(undefined);
  await new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(undefined);
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted (storage full?)'));
  });
  return result;
}

/** Every run kept, newest first. */
export async function listRuns() {
  /** @type {RunRecord[]} */
  const all = /** @type {RunRecord[]} */ (await withStore('readonly', (s) => s.getAll()));
  return all.sort((a, b) => b.startedAt - a.startedAt);
}

/** One run, or null. */
export async function getRun(/** @type {string} */ id) {
  return /** @type {RunRecord | undefined} */ (await withStore('readonly', (s) => s.get(id))) ?? null;
}

/** Keeps `record` (a new run, or a change to one), then drops the oldest beyond MAX_RUNS. */
export async function putRun(/** @type {RunRecord} */ record) {
  await withStore('readwrite', (s) => s.put(record));
  const runs = await listRuns();
  const extra = runs.filter((r) => r.status !== 'sending').slice(Math.max(0, MAX_RUNS - runs.filter((r) => r.status === 'sending').length));
  if (extra.length) await withStore('readwrite', (s) => { for (const r of extra) s.delete(r.id); });
}

/** Changes the run `id` with `change` (nothing when it is gone); resolves to it as kept. */
export async function updateRun(/** @type {string} */ id, /** @type {Partial<RunRecord>} */ change) {
  const record = await getRun(id);
  if (!record) return null;
  const next = { ...record, ...change };
  await withStore('readwrite', (s) => s.put(next));
  return next;
}

/** Forgets the run `id`. */
export async function removeRun(/** @type {string} */ id) {
  await withStore('readwrite', (s) => s.delete(id));
}
