// Names for the ids Qualtrics gives without one: user types (UT_…, no API lists them) and
// divisions (DV_…, the users list gives only the id). The user names them once; the names are
// remembered on this device (the host's storage: this browser's localStorage, or Office's own
// storage in the pane, never the workbook) and shown beside the ids in every table.

/** @typedef {import('./host/host.js').TokenStore} TokenStore */

/** Names every brand shares. */
export const KNOWN = /** @type {Readonly<Record<string, string>>} */ ({ UT_BRANDADMIN: 'Brand Administrator' });

const KEY = 'qualtrics-roster:names';

/** @type {Record<string, string>} */
let given = {};
/** @type {TokenStore | null} */
let store = null;
/** @type {Set<() => void>} */
const listeners = new Set();

/** Whether a cell holds an id that may have a name. */
export const isNamedId = (/** @type {string} */ value) => /^(UT|DV)_[A-Za-z0-9]+$/.test(value);

/** The name of `id`, or '' when none is known. */
export function nameOf(/** @type {string} */ id) {
  return given[id] || KNOWN[id] || '';
}

/** Reads the remembered names from `tokenStore`; later changes are written there. */
export async function loadNames(/** @type {TokenStore} */ tokenStore) {
  store = tokenStore;
  try {
    const saved = JSON.parse((await tokenStore.get(KEY)) ?? '{}');
    given = saved && typeof saved === 'object' ? saved : {};
  } catch {
    given = {};
  }
  for (const fn of listeners) fn();
}

/** Names `id` (a blank name forgets it) and remembers it on this device. */
export async function setName(/** @type {string} */ id, /** @type {string} */ name) {
  const clean = name.trim();
  if (clean) given[id] = clean;
  else delete given[id];
  for (const fn of listeners) fn();
  if (!store) return;
  if (Object.keys(given).length) await store.set(KEY, JSON.stringify(given));
  else await store.remove(KEY);
}

/** Calls `fn` whenever a name changes. */
export function onNames(/** @type {() => void} */ fn) {
  listeners.add(fn);
}

/** The user types the user named, as provisioning reads them: `{name: UT_…}`. */
export function namedUserTypes() {
  return Object.fromEntries(Object.entries(given).filter(([id]) => id.startsWith('UT_')).map(([id, name]) => [name, id]));
}
