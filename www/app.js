// The app shared by the page and the Excel task pane: connection, users, lifecycle. It draws
// the UI and hands every decision to the WASM core; the host reads and writes tables.
// The token lives in the WASM client and the password field, and on this device only if the
// user asks for it.
import init, { RosterClient, checkDatacenter, discoveryDatacenter, provisionTemplate, rolesTemplate, membershipTemplate, tableToCsv } from './pkg/qualtrics_roster.js';
import * as core from './pkg/qualtrics_roster.js';
import { $, show, guarded, messageOf, download, renderBarChart } from './ui.js';
import { createFlowView } from './flow.js';

const REMEMBER_KEY = 'qualtrics-roster:connection';

/** Starts the app once the host is ready. `makeHost(core)` builds the host after the WASM loads. */
export async function startApp(makeHost) {
  const state = { client: null, users: null };
  const lock = { busy: false };
  const mode = () => document.querySelector('input[name=mode]:checked').value;
  const syncModeFields = () => { $('qualtrics-fields').hidden = mode() !== 'qualtrics'; };

  window.addEventListener('unhandledrejection', (e) => show($('error'), messageOf(e.reason)));
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', syncModeFields);
  syncModeFields();
  try {
    await init();
  } catch (err) {
    show($('error'), `The WebAssembly core did not load (${messageOf(err)}). Run "npm start" to build it.`);
    $('connect').disabled = true;
    return;
  }
  const host = makeHost(core);

  // A remembered connection, if the user asked for one on this device.
  try {
    const saved = JSON.parse((await host.tokenStore.get(REMEMBER_KEY)) ?? 'null');
    if (saved?.token) {
      document.querySelector('input[name=mode][value=qualtrics]').checked = true;
      $('datacenter').value = saved.datacenter ?? '';
      $('token').value = saved.token;
      $('remember').checked = true;
      syncModeFields();
    }
  } catch {
    // Nothing remembered, or storage unavailable.
  }

  /** Where and how to connect: `{url, token}` (sandbox) or `{relay, url, datacenter, token}`. */
  async function connectionSpec() {
    if (mode() === 'sandbox') {
      const res = await fetch('sandbox/connect-info').catch(() => null);
      if (!res || !res.ok) {
        throw new Error('This server has no sandbox brand (it was started without --sandbox). Choose "My Qualtrics brand".');
      }
      const info = await res.json();
      return { url: new URL(info.apiPath, location.href).href, token: info.adminToken };
    }
    // Blank: ask any datacenter, and Qualtrics names the brand's own (whoami's switchTo).
    const typed = $('datacenter').value.trim();
    const datacenter = typed ? checkDatacenter(typed) : discoveryDatacenter(); // throws a message saying what to type
    return { relay: true, url: new URL('relay', location.href).href, datacenter, token: $('token').value };
  }

  // Unticking "Remember" forgets the stored token at once, whatever happens next.
  $('remember').addEventListener('change', () => {
    if (!$('remember').checked) host.tokenStore.remove(REMEMBER_KEY).catch(() => {});
  });

  const makeClient = (spec) => (spec.relay ? RosterClient.viaRelay(spec.url, spec.datacenter, spec.token) : RosterClient.direct(spec.url, spec.token));

  async function connect() {
    // Another connection (or brand) makes every plan stale.
    for (const flow of [lifecycle, provision, membership]) flow.invalidate();
    state.client?.free();
    state.client = null;
    show($('notice'), '');
    $('who').textContent = 'Connecting…';
    try {
      const spec = await connectionSpec();
      let client = makeClient(spec);
      let who = await client.whoami();
      let moved = '';
      if (who.switchTo) {
        // The brand lives on another datacenter: connect there, and say so.
        const typed = $('datacenter').value.trim();
        moved = typed
          ? `Qualtrics says this brand is on datacenter ${who.switchTo}, not ${typed}: connected to ${who.switchTo}.`
          : `Qualtrics says this brand is on datacenter ${who.switchTo}: connected there.`;
        client.free();
        spec.datacenter = who.switchTo;
        client = makeClient(spec);
        who = await client.whoami();
        $('datacenter').value = spec.datacenter;
      } else if (spec.relay && !$('datacenter').value.trim()) {
        $('datacenter').value = spec.datacenter;
      }
      // The page's sheet worker plans and applies with a client of its own.
      await host.worker?.connect(spec);
      state.client = client;
      $('who').textContent = `Connected as ${who.userName ?? who.userId} · brand ${who.brandId ?? '?'} · ${who.datacenter ?? ''}`;
      show($('notice'), [moved, who.notice].filter(Boolean).join(' '));
    } catch (err) {
      $('who').textContent = 'Not connected';
      throw err;
    }
    if (mode() === 'qualtrics' && $('remember').checked) {
      await host.tokenStore.set(REMEMBER_KEY, JSON.stringify({ datacenter: $('datacenter').value.trim(), token: $('token').value.trim() }));
    } else if (mode() === 'qualtrics') {
      await host.tokenStore.remove(REMEMBER_KEY);
    }
  }

  async function listUsers() {
    state.users = null;
    $('summary').textContent = '';
    host.progress('', { text: 'Loading the first page…' });
    try {
      const result = await state.client.listUsers((p) => {
        if (p.pagesRead) host.progress('', { text: `Page ${p.pagesRead}: ${p.itemsRead} users so far${p.finished ? '' : '…'}` });
      });
      state.users = { columns: result.columns, rows: result.rows };
      const where = await host.writeSheet('Users', state.users);
      const pages = `${result.pages} page${result.pages === 1 ? '' : 's'}`;
      $('summary').textContent = where.sheet
        ? `${result.rows.length} users (${pages}) written to the "${where.sheet}" sheet.`
        : `${result.rows.length} users, ${pages}.`;
      if (result.notice) show($('notice'), result.notice);
    } finally {
      host.progress('', { done: true });
    }
  }

  const getClient = () => state.client;
  /** A flow's planner: in the page's sheet worker when the input is there, else in this thread. */
  const planWith = (kind, options) => async (client, input, journal, onPage) => {
    const opts = options();
    const roles = kind === 'membership' ? await host.readRoles() : null;
    if (input.ref) return host.worker.plan(kind, input.ref, opts, journal, onPage, roles);
    const table = { columns: input.columns, rows: input.rows, rowNumbers: input.rowNumbers };
    if (kind === 'lifecycle') return client.planLifecycle(table, { ...opts, journal }, onPage);
    if (kind === 'provision') return client.planProvision(table, { ...opts, journal }, onPage);
    return client.planMembership(table, roles, opts, onPage);
  };
  const lifecycle = createFlowView({
    host, getClient, lock, prefix: 'lc-', kind: 'lifecycle', journalKey: core.journalKey,
    planRun: planWith('lifecycle', () => ({ defaultAction: $('lc-default').value })),
  });
  const provision = createFlowView({
    host, getClient, lock, prefix: 'pv-', kind: 'provision', journalKey: core.journalKey,
    planRun: planWith('provision', () => ({
      route: $('pv-route').value,
      userTypes: Object.fromEntries($('pv-types').value.split('\n').map((l) => l.split('=').map((x) => x.trim())).filter((p) => p.length === 2 && p[0] && p[1])),
      jobSize: 100,
    })),
  });
  const membershipOptions = () => ({ filter: $('mp-filter').value });
  const membership = createFlowView({
    host, getClient, lock, prefix: 'mb-', kind: 'membership', journalKey: core.journalKey,
    planRun: planWith('membership', membershipOptions),
  });

  /** Pulls who is in which group and role into the Membership and matrix sheets and the chart. */
  async function pullMembership() {
    $('mp-summary').textContent = '';
    $('mp-notes').replaceChildren();
    const roles = await host.readRoles();
    host.progress('mp-', { text: 'Reading users, groups and the directory…' });
    let pulled;
    try {
      pulled = await state.client.pullMembership(roles, membershipOptions(), (p) => {
        host.progress('mp-', { value: p.total - p.remaining, max: p.total, text: `Reading ${p.phase}: ${p.total - p.remaining} of ${p.total} listings, ${p.itemsRead ?? 0} read, ${p.requestsSent} requests` });
      });
    } finally {
      host.progress('mp-', { done: true });
    }
    await host.writeSheet('Membership', pulled.long, { activate: false });
    await host.writeSheet('Membership matrix', pulled.matrix, { activate: false });
    renderBarChart($('mp-chart'), pulled.counts);
    const p = pulled.pages;
    const n = (count, word) => `${count} ${word}${count === 1 ? '' : 's'}`;
    const kinds = (k) => pulled.counts.filter((c) => c.kind === k).length;
    $('mp-summary').textContent = `${n(pulled.users, 'user')}, ${n(pulled.long.rows.length, 'membership')} (${n(kinds('group'), 'group')}, ${n(kinds('role'), 'role')}). ${n(pulled.requests, 'request')}: ${p.users} for users, ${p.groups} for groups, ${p.members} for group members, ${p.directory} for the directory.`;
    $('mp-notes').replaceChildren(...pulled.notes.map((n) => Object.assign(document.createElement('li'), { textContent: n })));
    state.pulled = true;
  }

  /** The sandbox's own role rules (its Automatic Role Assignment), as a Roles sheet. */
  async function sandboxRoles() {
    const res = await fetch('sandbox/connect-info').catch(() => null);
    if (!res || !res.ok) throw new Error('This server has no sandbox brand, so it has no sandbox roles: write your brand\'s rules in the Roles sheet (Roles template).');
    const info = await res.json();
    const table = { columns: ['Role', 'Attribute', 'Operator', 'Value'], rows: info.roleRules.map((r) => [r.role, r.attribute, r.operator, r.value]) };
    await host.setRoles(table);
  }

  lock.onChange = () => {
    $('connect').disabled = lock.busy;
    $('list-users').disabled = lock.busy || !state.client;
    if ($('download-csv')) $('download-csv').disabled = lock.busy || !state.users;
    if ($('download-xlsx')) $('download-xlsx').disabled = lock.busy || !state.users;
    lifecycle.refreshButtons();
    provision.refreshButtons();
    membership.refreshButtons();
    $('mp-pull').disabled = lock.busy || !state.client;
    if ($('mp-downloads')) $('mp-downloads').hidden = !state.pulled;
  };
  lock.onChange();
  const on = (id, errorEl, fn) => $(id)?.addEventListener(id === 'connect-form' ? 'submit' : 'click', guarded(lock, errorEl, fn));
  const err = $('error');
  on('connect-form', err, connect);
  on('list-users', err, listUsers);
  on('download-csv', err, async () => host.downloadSheet('Users', 'qualtrics-users.csv'));
  on('download-xlsx', err, async () => host.downloadWorkbook(['Users'], 'qualtrics-users.xlsx'));
  // What a plan was made from: changing any of it forgets the plan (Apply off, table cleared).
  const planInputs = {
    'lc-': ['lc-file', 'lc-paste', 'lc-default'],
    'pv-': ['pv-file', 'pv-paste', 'pv-route', 'pv-types'],
    'mb-': ['mb-file', 'mb-paste', 'rl-file', 'rl-paste', 'mp-filter'],
  };
  for (const [prefix, flow] of [['lc-', lifecycle], ['pv-', provision], ['mb-', membership]]) {
    for (const id of planInputs[prefix]) {
      for (const type of ['input', 'change']) $(id)?.addEventListener(type, () => flow.invalidate());
    }
    // The workbook sheet picker appears after a first read.
    document.addEventListener('change', (e) => { if (e.target?.id === `${prefix}sheet`) flow.invalidate(); });
  }
  for (const [prefix, flow] of [['lc-', lifecycle], ['pv-', provision], ['mb-', membership]]) {
    on(`${prefix}plan`, flow.error, flow.plan);
    on(`${prefix}apply`, flow.error, flow.apply);
    $(`${prefix}cancel`).addEventListener('click', () => flow.cancel());
    on(`${prefix}download-outcomes`, flow.error, flow.downloadOutcomes);
    on(`${prefix}download-before`, flow.error, flow.writeBefore);
    on(`${prefix}download-audit`, flow.error, flow.writeAudit);
    on(`${prefix}download-xlsx`, flow.error, flow.downloadWorkbook);
  }
  on('pv-template', provision.error, async () => {
    const template = provisionTemplate();
    if (host.offerTemplate) await host.offerTemplate(template);
    else download('provisioning-template.csv', tableToCsv(template));
  });
  on('mp-pull', $('mp-error'), pullMembership);
  on('rl-sandbox', $('mp-error'), sandboxRoles);
  on('rl-template', $('mp-error'), async () => {
    if (host.offerTemplate) await host.writeSheet('Roles template', rolesTemplate());
    else download('roles-template.csv', tableToCsv(rolesTemplate()));
  });
  on('mb-template', membership.error, async () => {
    if (host.offerTemplate) await host.writeSheet('Membership template', membershipTemplate());
    else download('membership-template.csv', tableToCsv(membershipTemplate()));
  });
  on('mp-download-long', $('mp-error'), async () => host.downloadSheet('Membership', 'membership.csv'));
  on('mp-download-matrix', $('mp-error'), async () => host.downloadSheet('Membership matrix', 'membership-matrix.csv'));
  on('mp-download-xlsx', $('mp-error'), async () => host.downloadWorkbook(['Membership', 'Membership matrix', 'Roles'], 'membership.xlsx'));
  const view = new URLSearchParams(location.search).get('view');
  if (view) document.getElementById(`view-${view}`)?.scrollIntoView();
  document.body.dataset.ready = 'true';
  performance.mark('qualtrics-roster:ready'); // bench/pane-load.mjs: navigation to usable
}
