// The page shell: draws the UI and hands every decision to the WASM core.
// The token lives in the WASM client and in the password field, nowhere else.
import init, { RosterClient, tableToCsv, checkDatacenter } from './pkg/qualtrics_roster.js';

const $ = (id) => document.getElementById(id);
const state = { client: null, table: null, busy: false };

function show(el, text) {
  el.textContent = text ?? '';
  el.hidden = !text;
}

function showError(err) {
  const message = err instanceof Error ? err.message : String(err);
  show($('error'), message);
}

function setBusy(busy) {
  state.busy = busy;
  $('connect').disabled = busy;
  $('list-users').disabled = busy || !state.client;
  $('download-csv').disabled = busy || !state.table;
}

// Every handler runs through here: errors become a message, never an unhandled rejection.
function guarded(fn) {
  return async (event) => {
    event?.preventDefault?.();
    if (state.busy) return;
    show($('error'), '');
    setBusy(true);
    try {
      await fn(event);
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  };
}

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
  renderTable(null);
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
  renderTable(null);
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
    renderTable(state.table);
    $('summary').textContent = `${result.rows.length} users, ${result.pages} page${result.pages === 1 ? '' : 's'}.`;
    if (result.notice) show($('notice'), result.notice);
  } finally {
    $('progress-row').hidden = true;
  }
}

function renderTable(table) {
  const thead = $('users-table').tHead;
  const tbody = $('users-table').tBodies[0];
  thead.replaceChildren();
  tbody.replaceChildren();
  if (!table) return;
  const head = document.createElement('tr');
  for (const c of table.columns) {
    const th = document.createElement('th');
    th.textContent = c;
    head.append(th);
  }
  thead.append(head);
  const frag = document.createDocumentFragment();
  for (const row of table.rows) {
    const tr = document.createElement('tr');
    for (const cell of row) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    frag.append(tr);
  }
  tbody.append(frag);
}

function downloadCsv() {
  const csv = tableToCsv(state.table);
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'qualtrics-users.csv';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function syncModeFields() {
  $('qualtrics-fields').hidden = mode() !== 'qualtrics';
}

async function main() {
  window.addEventListener('unhandledrejection', (e) => showError(e.reason));
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', syncModeFields);
  syncModeFields();
  try {
    await init();
  } catch (err) {
    showError(new Error(`The page's WebAssembly core did not load (${err.message ?? err}). Run "npm start" to build it.`));
    $('connect').disabled = true;
    return;
  }
  $('connect-form').addEventListener('submit', guarded(connect));
  $('list-users').addEventListener('click', guarded(listUsers));
  $('download-csv').addEventListener('click', guarded(async () => downloadCsv()));
  document.body.dataset.ready = 'true';
}

main();
