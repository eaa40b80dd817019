// The page shell: draws the UI and hands every decision to the WASM core.
// The token lives in the WASM client and in the password field, nowhere else.
import init, { RosterClient, tableToCsv, checkDatacenter } from './pkg/qualtrics_roster.js';
import { $, show, guarded, renderTable, download, messageOf } from './ui.js';
import { createLifecycleView } from './lifecycle.js';

const state = { client: null, table: null };
const lock = { busy: false };

function mode() {
  return document.querySelector('input[name=mode]:checked').value;
}

async function makeClient() {
  if (mode() === 'sandbox') {
    const res = await fetch('sandbox/connect-info').catch(() => null);
    if (!res || !res.ok) {
      throw new Error('This server has no sandbox brand (it was started with --no-sandbox). Choose "My Qualtrics brand".');
    }
    const info = await res.json();
    return RosterClient.direct(new URL(info.apiPath, location.href).href, info.adminToken);
  }
  const datacenter = checkDatacenter($('datacenter').value); // throws a message saying what to type
  return RosterClient.viaRelay(new URL('relay', location.href).href, datacenter, $('token').value);
}

async function connect() {
  state.client?.free();
  state.client = null;
  state.table = null;
  renderTable($('users-table'), null);
  show($('notice'), '');
  $('who').textContent = 'Connecting…';
  try {
    const client = await makeClient();
    const who = await client.whoami();
    state.client = client;
    $('who').textContent = `Connected as ${who.userName ?? who.userId} · brand ${who.brandId ?? '?'} · ${who.datacenter ?? ''}`;
    show($('notice'), who.notice);
  } catch (err) {
    $('who').textContent = 'Not connected';
    throw err;
  }
}

async function listUsers() {
  state.table = null;
  renderTable($('users-table'), null);
  $('summary').textContent = '';
  $('progress-row').hidden = false;
  $('progress').removeAttribute('value');
  $('progress-text').textContent = 'Loading the first page…';
  try {
    const result = await state.client.listUsers((p) => {
      $('progress-text').textContent = `Page ${p.page}: ${p.usersSoFar} users so far${p.last ? '' : '…'}`;
      if (p.notice) show($('notice'), p.notice);
    });
    state.table = { columns: result.columns, rows: result.rows };
    renderTable($('users-table'), state.table);
    $('summary').textContent = `${result.rows.length} users, ${result.pages} page${result.pages === 1 ? '' : 's'}.`;
    if (result.notice) show($('notice'), result.notice);
  } finally {
    $('progress-row').hidden = true;
  }
}

function syncModeFields() {
  $('qualtrics-fields').hidden = mode() !== 'qualtrics';
}

async function main() {
  window.addEventListener('unhandledrejection', (e) => show($('error'), messageOf(e.reason)));
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', syncModeFields);
  syncModeFields();
  try {
    await init();
  } catch (err) {
    show($('error'), `The page's WebAssembly core did not load (${messageOf(err)}). Run "npm start" to build it.`);
    $('connect').disabled = true;
    return;
  }
  const lifecycle = createLifecycleView({ getClient: () => state.client, lock });
  lock.onChange = () => {
    $('connect').disabled = lock.busy;
    $('list-users').disabled = lock.busy || !state.client;
    $('download-csv').disabled = lock.busy || !state.table;
    lifecycle.refreshButtons();
  };
  lock.onChange();
  const err = $('error');
  const lcErr = lifecycle.el.error;
  $('connect-form').addEventListener('submit', guarded(lock, err, connect));
  $('list-users').addEventListener('click', guarded(lock, err, listUsers));
  $('download-csv').addEventListener('click', guarded(lock, err, async () => download('qualtrics-users.csv', tableToCsv(state.table))));
  lifecycle.el.plan.addEventListener('click', guarded(lock, lcErr, lifecycle.plan));
  lifecycle.el.apply.addEventListener('click', guarded(lock, lcErr, lifecycle.apply));
  lifecycle.el.cancel.addEventListener('click', () => lifecycle.cancel());
  $('lc-download-outcomes').addEventListener('click', guarded(lock, lcErr, async () => lifecycle.downloadOutcomes()));
  $('lc-download-before').addEventListener('click', guarded(lock, lcErr, async () => lifecycle.downloadBefore()));
  $('lc-download-audit').addEventListener('click', guarded(lock, lcErr, async () => lifecycle.downloadAudit()));
  document.body.dataset.ready = 'true';
}

main();
