// The app shared by the page and the Excel task pane: connection, users, lifecycle. It draws
// the UI and hands every decision to the WASM core; the host reads and writes tables.
// The token lives in the WASM client and the password field (this tab's memory), and on this
// device only if the user ticks "Remember on this device": then for REMEMBER_HOURS, stamped with
// when it is to be forgotten, and deleted at the first load after that.
// The console module: connecting, listing users, templates. Planning and the membership pull
// are in the full core module, loaded on first use (run.js).
import init, { RosterClient, checkDatacenter, discoveryDatacenter, sheetTemplate, rolesTemplate } from './pkg/qualtrics_roster_console.js';
import * as core from './pkg/qualtrics_roster_console.js';
import { forgetSheetsClient, sheetsClient } from './run.js';
import { $, find, show, guarded, messageOf, renderBarChart } from './ui.js';
import { createFlowView } from './flow.js';
import { gridOf } from './grid.js';
import { startViews } from './views.js';
import { createAutomations } from './automations.js';
import { startBulkActions, userKey, userName } from './bulk.js';
import { startUserDetails } from './details.js';
import { listRuns } from './runs-store.js';
import { drawBrandPicture, markActive } from './brand.js';
import { loadNames, nameOf, setName, namedUserTypes, isNamedId, onNames, knownDivisions, keepQualtricsNames, namedByQualtrics } from './names.js';
import { createRunsView } from './runs.js';
import { startGroups } from './groups.js';

/** @typedef {import('./host/host.js').Host} Host */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./worker.js').ConnectionSpec} ConnectionSpec */
/** @typedef {import('./pkg/qualtrics_roster.js').RunProgress} Progress */

/** @typedef {import('./pkg/qualtrics_roster.js').Connected} Who */
/** @typedef {import('./pkg/qualtrics_roster.js').Pulled} Pulled */

/** The form's fields, by their type. */
const input = (/** @type {string} */ id) => $(id, HTMLInputElement);
const select = (/** @type {string} */ id) => $(id, HTMLSelectElement);
const textarea = (/** @type {string} */ id) => $(id, HTMLTextAreaElement);
const button = (/** @type {string} */ id) => $(id, HTMLButtonElement);
/** A button the page has and the pane may not (sections.js). */
const optionalButton = (/** @type {string} */ id) => find(id, HTMLButtonElement);

const REMEMBER_KEY = 'qualtrics-roster:connection';
/** Where a lifecycle sheet made from the Users grid's selection came from, as its plan says. */
const GRID_SOURCE = 'the Users grid';
/** Where the pane's bulk actions take their rows from (the rows selected in the Users sheet). */
const USERS_SHEET_SOURCE = 'the Users sheet';
/** How long a remembered token is kept (the box's label says so: sections.js). */
export const REMEMBER_HOURS = 8;
const REMEMBER_MS = REMEMBER_HOURS * 3600 * 1000;

/**
 * A remembered connection as stored under REMEMBER_KEY: `expiresAt` in Unix milliseconds.
 * @typedef {{ datacenter?: string, token?: string, expiresAt?: number }} Remembered
 */

/**
 * Starts the app once the host is ready. `makeHost(core)` builds the host after the WASM loads.
 * @param {(wasm: typeof core) => Host} makeHost
 */
export async function startApp(makeHost) {
  /**
   * `users`: the last listing of this connection; `listed`: when it was read and on which
   * connection (null once this app applied anything since: the listing no longer says what the
   * brand has).
   * @type {{ client: RosterClient | null, users: Table | null, listed: { at: number, spec: ConnectionSpec } | null, pulled: boolean, spec: ConnectionSpec | null, brand: string | null, by: string, remembered: Remembered | null }}
   */
  const state = { client: null, users: null, listed: null, pulled: false, spec: null, brand: null, by: '', remembered: null };
  // The views first, so the one the URL names shows even if the core does not load.
  /** @type {ReturnType<typeof createAutomations> | null} */
  let automations = null;
  /** The Runs view, once the core has loaded (a view opened before then reads it at ready). */
  /** @type {ReturnType<typeof createRunsView> | null} */
  let runs = null;
  const views = startViews({
    onOpen: (name) => {
      // Connected, it reads the events; before, it says to connect first.
      if (name === 'automations' && automations) {
        if (state.spec) automationsRefresh();
        else automations.refresh({ quiet: true }).catch(() => {});
      }
      if (name === 'runs') runs?.refresh();
      // The Users view lists the brand's users as it opens, once per connection.
      if (name === 'users' && state.client && !state.users && !lock.busy) listOnOpen?.();
    },
  });
  /** @type {import('./ui.js').Lock} */
  const lock = { busy: false };
  /** Lists the users (guarded), set once the app is ready. */
  let listOnOpen = /** @type {(() => Promise<void>) | null} */ (null);
  /** The Brand radio button of `value` (sandbox, qualtrics). */
  const modeRadio = (/** @type {string} */ value) => /** @type {HTMLInputElement} */ (document.querySelector(`input[name=mode][value=${value}]`));
  const mode = () => (modeRadio('qualtrics').checked ? 'qualtrics' : 'sandbox');
  const syncModeFields = () => { $('qualtrics-fields').hidden = mode() !== 'qualtrics'; };

  window.addEventListener('unhandledrejection', (e) => show($('error'), messageOf(e.reason)));
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', syncModeFields);
  syncModeFields();
  try {
    await init();
  } catch (err) {
    show($('error'), `The WebAssembly core did not load (${messageOf(err)}). Run "npm start" to build it.`);
    button('connect').disabled = true;
    return;
  }
  const host = makeHost(core);
  automations = createAutomations({ credentials: () => (state.spec ? { token: state.spec.token, bearer: state.spec.bearer } : null) });
  const au = automations;
  // Its own lock: reading the events never holds up (or waits for) a plan or an apply.
  const auLock = { busy: false };
  const automationsRefresh = guarded(auLock, au.error, () => au.refresh());
  // Live while it is on screen: new events show within seconds, without Refresh.
  au.live(() => !$('view-automations').hidden);
  // The Automations tab shows only where the server has hooks (it answers 404 otherwise).
  au.available().then((on) => views.setAvailable('automations', on), () => {});
  await loadNames(host.tokenStore);

  /** Forgets the remembered connection (storage unavailable: nothing was stored). */
  const forget = () => {
    state.remembered = null;
    return host.tokenStore.remove(REMEMBER_KEY).catch(() => {});
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let forgetTimer;
  /** Deletes the remembered token when its time is up, even with the page left open. */
  const forgetAt = (/** @type {number} */ expiresAt) => {
    clearTimeout(forgetTimer);
    forgetTimer = setTimeout(() => { forget(); }, Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)));
  };

  // A remembered connection, if the user asked for one on this device and its time is not up.
  // One without a time (stored before tokens expired) or past it is deleted, never used.
  try {
    const stored = await host.tokenStore.get(REMEMBER_KEY);
    /** @type {Remembered | null} */
    const saved = stored ? JSON.parse(stored) : null;
    const expiresAt = Number(saved?.expiresAt);
    if (saved && !(Number.isFinite(expiresAt) && expiresAt > Date.now() && expiresAt <= Date.now() + REMEMBER_MS)) {
      await forget();
    } else if (saved?.token) {
      state.remembered = saved;
      forgetAt(expiresAt);
      modeRadio('qualtrics').checked = true;
      input('datacenter').value = saved.datacenter ?? '';
      input('token').value = saved.token;
      input('remember').checked = true;
      syncModeFields();
    }
  } catch {
    // Nothing remembered, unreadable (deleted), or storage unavailable.
    await forget();
  }

  /**
   * Where and how to connect: `{url, token}` (sandbox) or `{relay, url, datacenter, token}`.
   * @returns {Promise<ConnectionSpec>}
   */
  async function connectionSpec() {
    if (mode() === 'sandbox') {
      const res = await fetch('sandbox/connect-info').catch(() => null);
      if (!res || !res.ok) {
        throw new Error('This server has no sandbox brand (it was started without --sandbox). Choose "My Qualtrics brand".');
      }
      const info = await res.json();
      return { url: new URL(info.apiPath, location.href).href, token: info.adminToken };
    }
    // Blank: ask any datacenter, and Qualtrics names the brand's own (the core's connect follows it).
    const typed = input('datacenter').value.trim();
    const datacenter = typed ? checkDatacenter(typed) : discoveryDatacenter(); // throws a message saying what to type
    return { relay: true, url: new URL('relay', location.href).href, datacenter, token: input('token').value };
  }

  // Unticking "Remember" forgets the stored token at once, whatever happens next.
  input('remember').addEventListener('change', () => {
    if (!input('remember').checked) {
      clearTimeout(forgetTimer);
      forget();
    }
  });

  async function connect() {
    // Another connection (or brand) makes every plan stale.
    for (const flow of [lifecycle, provision, membership]) flow.invalidate();
    state.client?.free();
    forgetSheetsClient();
    state.client = null;
    state.spec = null;
    state.brand = null;
    show($('notice'), '');
    $('who').textContent = 'Connecting…';
    try {
      const spec = await connectionSpec();
      // The core connects: whoami, and the brand's own datacenter when Qualtrics names another.
      const client = await RosterClient.connect(spec, null);
      const who = /** @type {Who} */ (client.connected);
      let moved = '';
      if (client.movedTo) {
        const typed = input('datacenter').value.trim();
        moved = typed
          ? `Qualtrics says this brand is on datacenter ${client.movedTo}, not ${typed}: connected to ${client.movedTo}.`
          : `Qualtrics says this brand is on datacenter ${client.movedTo}: connected there.`;
        spec.datacenter = client.movedTo;
        input('datacenter').value = spec.datacenter;
      } else if (spec.relay && !input('datacenter').value.trim()) {
        input('datacenter').value = spec.datacenter ?? '';
      }
      // The page's sheet worker plans and applies with a client of its own.
      await host.connect(spec);
      // Another brand's groups, pull and change sheet are not this one's.
      if (state.brand !== (who.brandId ?? null)) forgetBrandData();
      state.client = client;
      state.spec = spec;
      state.brand = who.brandId ?? null;
      state.by = who.userName ?? who.userId ?? '';
      state.users = null;
      state.listed = null;
      $('who').textContent = `Connected as ${who.userName ?? who.userId} · brand ${who.brandId ?? '?'} · ${who.datacenter ?? ''}`;
      show($('notice'), [moved, who.notice].filter(Boolean).join(' '));
    } catch (err) {
      $('who').textContent = 'Not connected';
      showConnected(false);
      throw err;
    }
    if (mode() === 'qualtrics' && input('remember').checked) {
      // For REMEMBER_HOURS from when it was first remembered: connecting again with the same
      // token does not make it last longer.
      const token = input('token').value.trim();
      const kept = state.remembered?.token === token && state.remembered.expiresAt && state.remembered.expiresAt > Date.now();
      const expiresAt = kept ? Number(state.remembered?.expiresAt) : Date.now() + REMEMBER_MS;
      /** @type {Remembered} */
      const remembered = { datacenter: input('datacenter').value.trim(), token, expiresAt };
      await host.tokenStore.set(REMEMBER_KEY, JSON.stringify(remembered));
      state.remembered = remembered;
      forgetAt(expiresAt);
    } else if (mode() === 'qualtrics') {
      clearTimeout(forgetTimer);
      await forget();
    }
    // Connected: the card gives way to the header's item, and the Users view lists at once.
    showConnected(true);
    if (views.current() === 'users') await listUsers();
  }

  /**
   * Connected or not: the Connect card, or the header's item (who, the brand, the datacenter)
   * with Switch brand and Disconnect.
   */
  function showConnected(/** @type {boolean} */ on) {
    $('view-connect').hidden = on;
    $('connection-actions').hidden = !on;
    button('connect-cancel').hidden = true;
    button('switch-brand').setAttribute('aria-expanded', 'false');
  }

  /** Switch brand: the Connect form again, the current connection kept until another is made. */
  function switchBrand() {
    const card = $('view-connect');
    const opening = card.hidden;
    card.hidden = !opening;
    button('connect-cancel').hidden = !opening;
    button('switch-brand').setAttribute('aria-expanded', String(opening));
    if (opening) /** @type {HTMLInputElement} */ (document.querySelector('input[name=mode]:checked')).focus();
  }

  /**
   * Disconnect: the client and every plan go, the token is forgotten in this tab's memory (the
   * field, the worker's client) and on this device (the remembered connection), and the Connect
   * form is back.
   */
  async function disconnect() {
    for (const flow of [lifecycle, provision, membership]) flow.invalidate();
    state.client?.free();
    forgetSheetsClient();
    Object.assign(state, { client: null, spec: null, brand: null, users: null, listed: null, pulled: false });
    await host.disconnect();
    input('token').value = '';
    input('remember').checked = false;
    clearTimeout(forgetTimer);
    await forget();
    forgetBrandData();
    show($('notice'), '');
    $('who').textContent = 'Not connected';
    showConnected(false);
    /** @type {HTMLInputElement} */ (document.querySelector('input[name=mode]:checked')).focus();
  }

  /**
   * Nothing of a brand stays on screen once it is left (Disconnect, or connecting to another):
   * its users, its groups and roles, the change sheet built on them, the groups the Users bar
   * offers, the pull a user's details read.
   */
  function forgetBrandData() {
    state.users = null;
    state.listed = null;
    state.pulled = false;
    $('summary').textContent = '';
    $('mp-summary').textContent = '';
    $('mp-notes').replaceChildren();
    $('mp-chart').replaceChildren();
    groups?.clear();
    for (const id of ['users-table', 'mp-long-table', 'mp-matrix-table']) {
      const table = find(id, HTMLTableElement);
      if (table) gridOf(table).clear();
    }
    drawPicture();
    bulk?.setGroups([]);
    pulledMembership = null;
  }

  /** The client, once connected (the buttons that need one are off until then). */
  const connected = () => {
    if (!state.client) throw new Error('Connect first.');
    return state.client;
  };

  async function listUsers() {
    state.users = null;
    state.listed = null;
    $('summary').textContent = '';
    // The listing's time is when it began: a change made while it was read may be in it or not.
    const listed = { at: Date.now(), spec: state.spec };
    host.progress('', { text: 'Loading the first page…' });
    try {
      const result = await connected().listUsers((/** @type {Progress} */ p) => {
        // After the listing, the names of divisions not seen before (one request each).
        if (p.phase === 'divisions') {
          host.progress('', { text: `All users read; reading the names of their divisions${p.finished ? '' : '…'}` });
        } else if (p.pagesRead) {
          host.progress('', { text: `Page ${p.pagesRead}: ${p.itemsRead} users so far${p.finished ? '' : '…'}` });
        }
      }, knownDivisions());
      // Division names Qualtrics gave (issue 29.2), kept so the next listing need not read them.
      await keepQualtricsNames(result.divisionNames ?? {}).catch(() => {});
      state.users = { columns: result.columns, rows: result.rows };
      if (listed.spec && listed.spec === state.spec) state.listed = { at: listed.at, spec: listed.spec };
      const where = await host.writeSheet('Users', state.users);
      const pages = `${result.pages} page${result.pages === 1 ? '' : 's'}`;
      $('summary').textContent = where.sheet
        ? `${result.rows.length} users (${pages}) written to the "${where.sheet}" sheet.`
        : `${result.rows.length} users, ${pages}.`;
      if (result.notice) show($('notice'), result.notice);
      drawNames();
      drawPicture();
    } finally {
      host.progress('', { done: true });
    }
  }

  /**
   * User type names for provisioning: those named on this device (names.js), then the box's
   * "Name = UT_…" lines, which are remembered too (a name given once is known from then on).
   */
  function provisionUserTypes() {
    const typed = Object.fromEntries(textarea('pv-types').value.split('\n').map((l) => l.split('=').map((x) => x.trim())).filter((p) => p.length === 2 && p[0] && /^UT_[A-Za-z0-9]+$/.test(p[1])));
    for (const [name, id] of Object.entries(typed)) {
      if (nameOf(id) !== name) setName(id, name).catch(() => {});
    }
    return { ...namedUserTypes(), ...typed };
  }

  /**
   * The picture of the brand above the Users grid (brand.js): active and disabled accounts, and
   * the users of each user type and division; in the page each bar filters the grid (through
   * its own filters), in the pane the bars are a list.
   */
  function drawPicture() {
    const box = find('users-picture');
    if (!box) return;
    const tableEl = find('users-table', HTMLTableElement);
    const grid = tableEl ? gridOf(tableEl) : null;
    // Without a grid (the pane) the values filtered by are the bars pressed here.
    pictureFilters.clear();
    const active = (/** @type {string} */ column) => (grid ? grid.filteredBy(column) : pictureFilters.get(column) ?? null);
    drawBrandPicture(box, state.users, {
      filter: (column, value) => {
        show($('error'), '');
        host.filterUsers(column, value).then(() => {
          if (value === null) pictureFilters.delete(column);
          else pictureFilters.set(column, value);
          markActive(box, active);
        }, (err) => show($('error'), messageOf(err)));
      },
      active,
    });
  }
  /** @type {Map<string, string>} */
  const pictureFilters = new Map();

  /**
   * The names editor under Users: each user type and division of the last listing, with how
   * many users have it and a box for its name (remembered on this device, names.js).
   */
  function drawNames() {
    const users = state.users;
    const list = $('names-list');
    if (!users) return;
    /** @type {Map<string, number>} */
    const seen = new Map();
    const cols = ['User type', 'Division'].map((c) => users.columns.indexOf(c)).filter((i) => i >= 0);
    for (const row of users.rows) {
      for (const c of cols) {
        const v = row[c];
        if (v && isNamedId(v)) seen.set(v, (seen.get(v) ?? 0) + 1);
      }
    }
    const ids = [...seen.keys()].sort((a, b) => a.localeCompare(b));
    $('names-empty').hidden = ids.length > 0;
    list.replaceChildren(...ids.map((id) => {
      const row = document.createElement('div');
      row.className = 'name-row';
      const n = seen.get(id) ?? 0;
      const what = `${id.startsWith('UT_') ? 'User type' : 'Division'} ${id} (${n} user${n === 1 ? '' : 's'})`;
      if (namedByQualtrics(id)) {
        // Qualtrics named it: shown, not typed (issue 29.2).
        const label = document.createElement('span');
        label.textContent = what;
        const name = document.createElement('span');
        name.id = `name-${id}`;
        name.textContent = `${nameOf(id)} (from Qualtrics)`;
        row.append(label, name);
        return row;
      }
      const label = document.createElement('label');
      label.htmlFor = `name-${id}`;
      label.textContent = what;
      const box = document.createElement('input');
      box.id = `name-${id}`;
      box.autocomplete = 'off';
      box.value = nameOf(id);
      box.placeholder = id.startsWith('UT_') ? 'e.g. Dashboard Viewer' : 'e.g. EMEA';
      box.addEventListener('change', () => { setName(id, box.value).catch((err) => show($('error'), messageOf(err))); });
      row.append(label, box);
      return row;
    }));
  }

  const getClient = () => state.client;
  const brand = () => state.brand;
  /** Each Apply goes on record in the Runs view (runs.js), which plans Retry, Undo and Resume
   * in these flows. */
  /** @type {import('./flow.js').RunRecorder} */
  const recorder = {
    start: (r) => {
      // This app is changing the brand: its listing no longer says what the brand has, so no
      // plan is made from it again until the users are listed again.
      state.listed = null;
      return runs?.recorder.start(r) ?? Promise.resolve(null);
    },
    finish: (id, end) => runs?.recorder.finish(id, end) ?? Promise.resolve(),
    drop: (id) => runs?.recorder.drop(id) ?? Promise.resolve(),
  };
  // The action for lifecycle rows without one: nothing is preselected, and it is chosen again
  // for each file or sheet ("Choose…": those rows are refused by the plan, saying so).
  const lcDefault = select('lc-default');
  const defaultAction = () => (lcDefault.value === 'disable' || lcDefault.value === 'enable' ? lcDefault.value : '');
  /** The table planned was the Users grid's selection: every row has its Action, so no choice. */
  let fromGrid = false;
  const lifecycleChoice = () => {
    if (fromGrid) return null;
    const chosen = lcDefault.selectedOptions[0];
    return `Rows without an Action: ${lcDefault.value && chosen ? chosen.text : 'no action chosen, so they are refused'}.`;
  };
  /** Where the choice was last planned with (a file, or a sheet of the workbook). */
  let choiceFor = /** @type {string | null} */ (null);
  let choiceMade = false;
  lcDefault.addEventListener('change', () => { choiceMade = true; });
  const resetChoice = () => {
    lcDefault.value = '';
    choiceMade = false;
  };
  // A new file in the page, or another sheet of a workbook: choose again.
  find('lc-file')?.addEventListener('change', resetChoice);
  document.addEventListener('change', (e) => { if (e.target instanceof HTMLElement && e.target.id === 'lc-sheet') resetChoice(); });
  /**
   * Each table planned: another sheet than the one the choice was planned with (the pane reads
   * the selection, so there is no file to watch) starts from "Choose…" again, unless the
   * administrator chose since.
   * @param {import('./host/host.js').TableInput} table
   */
  const lifecycleTable = (table) => {
    fromGrid = table.source === GRID_SOURCE || table.source.startsWith(`${USERS_SHEET_SOURCE}, `);
    const where = table.source.replace(/![^!]*$/, '');
    if (choiceFor !== null && where !== choiceFor && !choiceMade) resetChoice();
    choiceFor = where;
    choiceMade = false;
  };
  const lifecycle = createFlowView({
    host, getClient, lock, prefix: 'lc-', kind: 'lifecycle', journalKey: core.journalKey, columnFit: core.columnFit, checkMapping: core.checkMapping, brand, recorder,
    options: () => ({ defaultAction: defaultAction() }),
    choice: lifecycleChoice,
    onTable: lifecycleTable,
  });
  const provision = createFlowView({
    host, getClient, lock, prefix: 'pv-', kind: 'provision', journalKey: core.journalKey, columnFit: core.columnFit, checkMapping: core.checkMapping, brand, recorder,
    options: () => ({
      route: select('pv-route').value,
      userTypes: provisionUserTypes(),
      jobSize: 100,
    }),
  });
  const membershipOptions = () => ({ filter: input('mp-filter').value });
  const membership = createFlowView({
    host, getClient, lock, prefix: 'mb-', kind: 'membership', journalKey: core.journalKey, columnFit: core.columnFit, checkMapping: core.checkMapping, brand, recorder,
    options: membershipOptions,
  });

  /**
   * The last membership pull's long table and how many roles it knew (a user's details show
   * their groups and roles from it); null before one and after a disconnect.
   * @type {import('./details.js').PulledMembership | null}
   */
  let pulledMembership = null;

  /** Pulls who is in which group and role into the Membership and matrix sheets and the chart. */
  async function pullMembership() {
    $('mp-summary').textContent = '';
    $('mp-notes').replaceChildren();
    const roles = await host.readRoles();
    host.progress('mp-', { text: 'Reading users, groups and the directory…' });
    /** @type {Pulled} */
    let pulled;
    try {
      // The pull is the full core module's (loaded now, on its first use in this tab), on the
      // connection the console's client made.
      if (!state.spec) throw new Error('Connect first.');
      const client = await sheetsClient(state.spec);
      pulled = await client.pullMembership(roles, membershipOptions(), (/** @type {Progress} */ p) => {
        host.progress('mp-', { value: p.total - p.remaining, max: p.total, text: `Reading ${p.phase}: ${p.total - p.remaining} of ${p.total} listings, ${p.itemsRead ?? 0} read, ${p.requestsSent} requests` });
      });
    } finally {
      host.progress('mp-', { done: true });
    }
    await host.writeSheet('Membership', pulled.long, { activate: false });
    await host.writeSheet('Membership matrix', pulled.matrix, { activate: false });
    renderBarChart($('mp-chart'), pulled.counts);
    const p = pulled.pages;
    const n = (/** @type {number} */ count, /** @type {string} */ word) => `${count} ${word}${count === 1 ? '' : 's'}`;
    const kinds = (/** @type {string} */ k) => pulled.counts.filter((c) => c.kind === k).length;
    $('mp-summary').textContent = `${n(pulled.users, 'user')}, ${n(pulled.long.rows.length, 'membership')} (${n(kinds('group'), 'group')}, ${n(kinds('role'), 'role')}). ${n(pulled.requests, 'request')}: ${p.users} for users, ${p.groups} for groups, ${p.members} for group members, ${p['group records'] ? `${p['group records']} for group records (which are automatic), ` : ''}${p.directory} for the directory.`;
    $('mp-notes').replaceChildren(...pulled.notes.map((n) => Object.assign(document.createElement('li'), { textContent: n })));
    state.pulled = true;
    await groups?.pulled(pulled, roles);
    // A user's details show their groups and roles from it.
    pulledMembership = { long: pulled.long, roles: kinds('role'), at: Date.now() };
    // The groups the Users grid's bar offers (Add to group, Remove from group): not the
    // automatic ones, whose members Qualtrics decides (issue 29.8).
    bulk?.setGroups(pulled.counts.filter((c) => c.kind === 'group' && !c.automatic).map((c) => c.name));
  }

  /** Where the change sheet of Groups and roles came from, as its plan says. */
  const CHANGE_SHEET_SOURCE = 'the change sheet';
  /** Set when the membership plan shown is the change sheet's (an edit then forgets it). */
  let plannedSheet = false;
  // Groups and roles' sub-views, editable matrix, people picker and change sheet (issue 29.8).
  /** @type {ReturnType<typeof startGroups> | null} */
  const groups = startGroups({
    lock,
    errorEl: membership.error,
    users: () => state.users,
    async plan(table, description) {
      show(membership.error, '');
      plannedSheet = true;
      // In Excel it is written to a sheet of its own and planned from there (outcomes beside it).
      await membership.planTable(table, CHANGE_SHEET_SOURCE, description, { sheetName: 'Membership changes' });
    },
    save: (table) => host.writeSheet('Membership changes', table),
    forget() {
      if (!plannedSheet) return;
      plannedSheet = false;
      membership.forgetTable();
      membership.invalidate();
    },
  });
  /** A membership sheet handed over from elsewhere (the Users bar, the Runs view) is planned in
   * the Changes sub-view, and it is not the change sheet (editing that one must not forget it). */
  function membershipHandedOver() {
    plannedSheet = false;
    groups?.showChanges();
  }
  // A file or paste planned instead: Plan reads it, not the change sheet handed over.
  for (const id of ['mb-file', 'mb-paste']) find(id)?.addEventListener('input', () => { plannedSheet = false; membership.forgetTable(); });

  /** The sandbox's own role rules (its Automatic Role Assignment), as a Roles sheet. */
  async function sandboxRoles() {
    const res = await fetch('sandbox/connect-info').catch(() => null);
    if (!res || !res.ok) throw new Error('This server has no sandbox brand, so it has no sandbox roles: write your brand\'s rules in the Roles sheet (Roles template).');
    const info = await res.json();
    /** @type {{ role: string, attribute: string, operator: string, value: string }[]} */
    const rules = info.roleRules;
    const table = { columns: ['Role', 'Attribute', 'Operator', 'Value'], rows: rules.map((r) => [r.role, r.attribute, r.operator, r.value]) };
    await host.setRoles(table);
  }

  runs = createRunsView({
    where: host.kind === 'excel' ? 'pane' : 'page',
    lock,
    flows: { lifecycle, provision, membership },
    open: (name) => {
      views.show(name);
      if (name === 'membership') membershipHandedOver();
      $(`view-${name}`).focus();
    },
    connected: () => !!state.client,
    whoAmI: () => (state.client ? { by: state.by, brand: state.brand } : null),
    hooks: { available: () => au.available(), events: () => au.latest() },
  });
  runs.setHost(host);

  // A name given to a user type or division shows in the picture's bars at once.
  onNames(drawPicture);

  // The Users grid acts (the page): a box per row, "Select all N shown", and the bar of actions
  // on the selected users, which plans them in the lifecycle view as a file would be.
  const usersTable = find('users-table', HTMLTableElement);
  /** @type {ReturnType<typeof startBulkActions> | null} */
  let bulk = null;
  /**
   * The users listing the bar's sheets are made from, for the core to plan from instead of
   * reading the brand again while it is recent (issue 29.3): only the last listing of the
   * current connection (Disconnect and another brand forget it: forgetBrandData), and none once
   * this app applied anything since. The core decides whether it is recent enough.
   * @returns {import('./pkg/qualtrics_roster.js').HeldListing | null}
   */
  const heldListing = () => (state.users && state.listed && state.spec && state.listed.spec === state.spec
    ? { users: state.users, asOf: state.listed.at }
    : null);
  /** Plans a sheet the bar made in the lifecycle view or Groups and roles (`how`: the pane's sheet). */
  const planBulk = async (/** @type {'lifecycle' | 'membership'} */ kind, /** @type {Table} */ table, /** @type {string} */ source, /** @type {string} */ description, /** @type {{ sheetName?: string }} */ how = {}) => {
    const flow = kind === 'membership' ? membership : lifecycle;
    // The old plan goes before the view shows (its table is not laid out again for nothing).
    flow.invalidate();
    views.show(kind);
    if (kind === 'membership') membershipHandedOver();
    $(`view-${kind}`).focus();
    // A plan's failure is the view's, shown there.
    show(flow.error, '');
    try {
      // A lifecycle sheet of listed users may be planned from that listing.
      await flow.planTable(table, source, description, kind === 'lifecycle' ? { ...how, listing: heldListing } : how);
    } catch (err) {
      show(flow.error, messageOf(err));
    }
  };
  const readSelectedUsers = host.readSelectedUsers;
  if (!usersTable && find('users-bulk') && readSelectedUsers) {
    // The pane: the same actions on the rows selected in the Users sheet, each planned from a
    // sheet of its own (its outcomes are written beside its rows).
    bulk = startBulkActions({
      lock,
      errorEl: $('error'),
      canAct: () => !lock.busy && !!state.client,
      async selected() {
        const got = await readSelectedUsers();
        const n = got.rowNumbers;
        const rows = n.length === 1 ? `row ${n[0]}` : n.every((r, i) => i === 0 || r === n[i - 1] + 1) ? `rows ${n[0]}-${n[n.length - 1]}` : `${n.length} rows`;
        const left = got.hidden ? `; ${got.hidden} hidden row${got.hidden === 1 ? '' : 's'} left out` : '';
        return { users: got.table, rows: got.table.rows.map((_, i) => i), description: `${rows} selected${left}` };
      },
      plan: (kind, table, description) => planBulk(kind, table, USERS_SHEET_SOURCE, description, { sheetName: kind === 'membership' ? 'Bulk membership' : 'Bulk lifecycle' }),
      readGroups: pullMembership,
    });
    // One user's details: the first user of the rows selected in the Users sheet.
    const details = startUserDetails({ table: () => null, lock, membership: () => pulledMembership, pull: pullMembership, runs: listRuns });
    const detailsButton = button('bulk-details');
    detailsButton.addEventListener('click', guarded(lock, $('error'), async () => {
      show($('error'), '');
      const got = await readSelectedUsers();
      details.show(got.table.columns, got.table.rows[0], detailsButton);
    }));
  }
  if (usersTable && find('users-bulk')) {
    const grid = gridOf(usersTable);
    // Between the grid's toolbar (search, filters, "N selected") and the table.
    $('users-table-wrap').before($('users-bulk'));
    // One user's details, from the "Details of USERNAME" button beside the row's box.
    const details = startUserDetails({ table: () => grid.table(), lock, membership: () => pulledMembership, pull: pullMembership, runs: listRuns });
    grid.selectable({ key: userKey, name: userName, onChange: () => bulk?.refresh(), details: details.open });
    grid.chooseColumns();
    // The picture's bars show pressed while the grid filters by them (set there or here).
    grid.onFilter(() => { const box = find('users-picture'); if (box) markActive(box, (c) => grid.filteredBy(c)); });
    bulk = startBulkActions({
      grid,
      lock,
      errorEl: $('error'),
      canAct: () => !lock.busy && !!state.client,
      plan: (kind, table, description) => planBulk(kind, table, GRID_SOURCE, description),
      readGroups: pullMembership,
    });
  }

  // The page's downloads (the pane writes sheets instead: sections.js).
  const downloadCsv = optionalButton('download-csv');
  const downloadXlsx = optionalButton('download-xlsx');
  const pulledDownloads = find('mp-downloads');
  lock.onChange = () => {
    button('connect').disabled = lock.busy;
    // Never while a plan or an apply runs: it would pull the connection from under it.
    button('disconnect').disabled = lock.busy;
    button('switch-brand').disabled = lock.busy;
    button('list-users').disabled = lock.busy || !state.client;
    if (downloadCsv) downloadCsv.disabled = lock.busy || !state.users;
    if (downloadXlsx) downloadXlsx.disabled = lock.busy || !state.users;
    lifecycle.refreshButtons();
    provision.refreshButtons();
    membership.refreshButtons();
    button('mp-pull').disabled = lock.busy || !state.client;
    groups?.refresh();
    bulk?.refresh();
    if (pulledDownloads) pulledDownloads.hidden = !state.pulled;
  };
  lock.onChange();
  /**
   * Runs `fn` on a click (a submit for the form), one action at a time, its failure shown in
   * `errorEl`. A button only the page has (sections.js) is skipped in the pane.
   * @param {string} id
   * @param {HTMLElement} errorEl
   * @param {() => Promise<unknown>} fn
   */
  const on = (id, errorEl, fn) => find(id)?.addEventListener(id === 'connect-form' ? 'submit' : 'click', guarded(lock, errorEl, fn));
  const err = $('error');
  on('connect-form', err, connect);
  on('list-users', err, listUsers);
  on('disconnect', err, disconnect);
  $('switch-brand').addEventListener('click', switchBrand);
  $('connect-cancel').addEventListener('click', () => {
    showConnected(!!state.client);
    button('switch-brand').focus();
  });
  listOnOpen = guarded(lock, err, listUsers);
  // Leaving the page while Apply is sending would leave the rest unsent: the browser asks first.
  window.addEventListener('beforeunload', (e) => {
    if (![lifecycle, provision, membership].some((f) => f.applying())) return;
    e.preventDefault();
    e.returnValue = '';
  });
  on('download-csv', err, async () => host.downloadSheet('Users', 'qualtrics-users.csv'));
  on('download-xlsx', err, async () => host.downloadWorkbook(['Users'], 'qualtrics-users.xlsx'));
  // What a plan was made from: changing any of it forgets the plan (Apply off, table cleared).
  const planInputs = {
    'lc-': ['lc-file', 'lc-paste', 'lc-default', 'lc-include-hidden'],
    'pv-': ['pv-file', 'pv-paste', 'pv-route', 'pv-types', 'pv-include-hidden'],
    'mb-': ['mb-file', 'mb-paste', 'rl-file', 'rl-paste', 'mp-filter', 'mb-include-hidden'],
  };
  /** @type {[keyof typeof planInputs, ReturnType<typeof createFlowView>][]} */
  const flows = [['lc-', lifecycle], ['pv-', provision], ['mb-', membership]];
  // A file chosen or rows pasted: Plan reads them, not the Users grid's selection handed over.
  for (const id of ['lc-file', 'lc-paste']) find(id)?.addEventListener('input', () => lifecycle.forgetTable());
  // Another file or paste: its columns are mapped again (pre-filled when remembered).
  for (const [prefix, flow] of /** @type {const} */ ([['lc-', lifecycle], ['pv-', provision], ['mb-', membership]])) {
    for (const id of [`${prefix}file`, `${prefix}paste`]) find(id)?.addEventListener('input', () => flow.forgetMapping());
  }
  for (const [prefix, flow] of flows) {
    // The file and paste boxes are the page's (the pane reads the selection); the
    // include-hidden boxes are the pane's.
    for (const id of planInputs[prefix]) {
      for (const type of ['input', 'change']) find(id)?.addEventListener(type, () => flow.invalidate());
    }
    // The workbook sheet picker appears after a first read.
    document.addEventListener('change', (e) => { if (e.target instanceof HTMLElement && e.target.id === `${prefix}sheet`) flow.invalidate(); });
  }
  for (const [prefix, flow] of flows) {
    on(`${prefix}plan`, flow.error, flow.plan);
    on(`${prefix}apply`, flow.error, flow.apply);
    on(`${prefix}map-plan`, flow.error, flow.confirmMapping);
    $(`${prefix}cancel`).addEventListener('click', () => flow.cancel());
    on(`${prefix}download-outcomes`, flow.error, flow.downloadOutcomes);
    on(`${prefix}download-before`, flow.error, flow.writeBefore);
    on(`${prefix}download-audit`, flow.error, flow.writeAudit);
    on(`${prefix}download-xlsx`, flow.error, flow.downloadWorkbook);
    on(`${prefix}retry`, flow.error, flow.retry);
  }
  // Templates: a sheet in Excel, a CSV download in the page (`<name>.csv`).
  on('pv-template', provision.error, async () => host.writeSheet('Provisioning template', sheetTemplate('provision')));
  on('mp-pull', $('mp-error'), pullMembership);
  on('rl-sandbox', $('mp-error'), sandboxRoles);
  on('rl-template', $('mp-error'), async () => host.writeSheet('Roles template', rolesTemplate()));
  on('mb-template', membership.error, async () => host.writeSheet('Membership template', sheetTemplate('membership')));
  on('mp-download-long', $('mp-error'), async () => host.downloadSheet('Membership', 'membership.csv'));
  on('mp-download-matrix', $('mp-error'), async () => host.downloadSheet('Membership matrix', 'membership-matrix.csv'));
  on('mp-download-xlsx', $('mp-error'), async () => host.downloadWorkbook(['Membership', 'Membership matrix', 'Roles'], 'membership.xlsx'));
  $('au-refresh').addEventListener('click', automationsRefresh);
  // A run this window was sending when it reloaded (Excel on the web reloads idle add-ins
  // silently) is shown at once in Runs, with Resume.
  if (await runs.start()) views.show('runs');
  else if (views.current() === 'runs') await runs.refresh();
  document.body.dataset.ready = 'true';
  performance.mark('qualtrics-roster:ready'); // bench/pane-load.mjs: navigation to usable
}
