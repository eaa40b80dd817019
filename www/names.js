// Names for the ids Qualtrics lists users with: user types (UT_…, no API lists them: the user
// names them once) and divisions (DV_…: the users list gives only the id, and each listing
// reads the names of divisions not yet known with GET /divisions/{id}, issue 29.2). Both are
// remembered on this device (the host's storage: this browser's localStorage, or Office's own
// storage in the pane, never the workbook) and shown beside the ids in every table. A name
// Qualtrics gave wins over one typed here.

/** @typedef {import('./host/host.js').TokenStore} TokenStore */

/** Names every brand shares. */
export const KNOWN = /** @type {Readonly<Record<string, string>>} */ ({ UT_BRANDADMIN: 'Brand Administrator' });

const KEY = 'qualtrics-roster:names';
/** Where the names Qualtrics gave are kept (apart from the typed ones, so neither hides the other). */
const FROM_QUALTRICS = 'qualtrics-roster:names:qualtrics';

/** @type {Record<string, string>} */
let given = {};
/** @type {Record<string, string>} */
let fromQualtrics = {};
/** @type {TokenStore | null} */
let store = null;
/** @type {Set<() => void>} */
const listeners = new Set();

/** Whether a cell holds an id that may have a name. */
export const isNamedId = (/** @type {string} */ value) => /^(UT|DV)_[A-Za-z0-9]+$/.test(value);

/** The name of `id`, or '' when none is known. */
export function nameOf(/** @type {string} */ id) {
  return fromQualtrics[id] || given[id] || KNOWN[id] || '';
}

/** A cell as tables show and search it: a known id with its name beside it ("EMEA (DV_…)"). */
export function withName(/** @type {string} */ value) {
  const name = isNamedId(value) ? nameOf(value) : '';
  return name ? `${name} (${value})` : value;
}

/** Whether `id`'s name came from Qualtrics (it is then not typed by hand). */
export const namedByQualtrics = (/** @type {string} */ id) => Boolean(fromQualtrics[id]);

/** The division ids whose names Qualtrics gave (a listing need not read them again). */
export const knownDivisions = () => Object.keys(fromQualtrics).filter((id) => id.startsWith('DV_'));

/** Keeps the names Qualtrics gave (`{DV_…: name}`) on this device; nothing when `names` is empty. */
export async function keepQualtricsNames(/** @type {Record<string, string>} */ names) {
  const fresh = Object.entries(names).filter(([id, name]) => isNamedId(id) && name && fromQualtrics[id] !== name);
  if (!fresh.length) return;
  for (const [id, name] of fresh) fromQualtrics[id] = name;
  for (const fn of listeners) fn();
  if (store) await store.set(FROM_QUALTRICS, JSON.stringify(fromQualtrics));
}

/** Reads the remembered names from `tokenStore`; later changes are written there. */
export async function loadNames(/** @type {TokenStore} */ tokenStore) {
  store = tokenStore;
  given = await readNames(tokenStore, KEY);
  fromQualtrics = await readNames(tokenStore, FROM_QUALTRICS);
  for (const fn of listeners) fn();
}

/** The names kept under `key`, or none when nothing (or something unreadable) is there. */
async function readNames(/** @type {TokenStore} */ tokenStore, /** @type {string} */ key) {
  try {
    const saved = JSON.parse((await tokenStore.get(key)) ?? '{}');
    return saved && typeof saved === 'object' && !Array.isArray(saved) ? saved : {};
  } catch {
    return {};
  }
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
