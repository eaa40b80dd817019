// The page end to end: connect, list the brand's users, download them; and every bad input
// ends in a message while the page stays usable.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage } from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

async function connectViaRelay(page, datacenter, token) {
  // Connected already: the form is behind Switch brand.
  if (await page.isVisible('#switch-brand')) await page.click('#switch-brand');
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', datacenter);
  await page.fill('#token', token);
  await page.click('#connect');
}

const connected = (page) => page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
const errorText = async (page) => {
  await page.waitForSelector('#error:not([hidden])');
  return page.textContent('#error');
};
const rowCount = (page) => page.locator('#users-table tbody tr').count();

test('connecting and listing download the console module only; the full core comes with the first file (a CSV file brings no workbook reader)', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const wasm = [];
  // Requests of the page and of its worker.
  context.on('request', (r) => { const p = new URL(r.url()).pathname; if (p.endsWith('.wasm')) wasm.push(p); });
  await page.goto(server.url + '/');
  await page.waitForSelector('body[data-ready=true]');
  await connectViaRelay(page, 'iad1', server.adminToken);
  await connected(page);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  assert.equal(await rowCount(page), 250);
  assert.deepEqual(wasm, ['/pkg/qualtrics_roster_console_bg.wasm']);

  await page.click('#tab-lifecycle');
  await page.setInputFiles('#lc-file', { name: 'leavers.csv', mimeType: 'text/csv', buffer: Buffer.from('Username,Action\r\nnobody@nowhere.example,disable\r\n') });
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.match(await page.textContent('#lc-summary'), /1 not found/);
  assert.ok(wasm.includes('/pkg/qualtrics_roster_bg.wasm'), wasm.join(', '));
  assert.ok(!wasm.some((p) => p.includes('xlsx')), `no workbook reader for a CSV file: ${wasm.join(', ')}`);
  await context.close();
});

test('through the relay: lists all 250 sandbox users page by page, as soon as it is connected, and downloads them as CSV', async () => {
  const page = await openPage(browser, server.url + '/');
  await page.evaluate(() => {
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push(document.getElementById('progress-text').textContent))
      .observe(document.getElementById('progress-text'), { childList: true, characterData: true, subtree: true });
  });
  const relayCalls = [];
  page.on('request', (r) => { if (r.url().includes('/relay/') && r.url().includes('/users')) relayCalls.push(r.url().replace(server.url, '')); });
  await connectViaRelay(page, 'iad1', server.adminToken);
  await connected(page);
  assert.match(await page.textContent('#who'), /avery\.admin@roster-demo\.edu · brand rosterdemo · iad1/);
  // Listed without pressing List users.
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  assert.equal(await rowCount(page), 250);
  assert.equal(await page.textContent('#summary'), '250 users, 3 pages.');
  assert.deepEqual(relayCalls, ['/relay/iad1/API/v3/users', '/relay/iad1/API/v3/users?offset=100', '/relay/iad1/API/v3/users?offset=200']);
  const progress = await page.evaluate(() => window.progressSeen);
  assert.ok(progress.includes('Page 1: 100 users so far…'), progress.join(' | '));
  // Then (issue 29.2) the names of the users' divisions are read (none known on this device yet).
  assert.ok(progress.some((t) => t.startsWith('All users read; reading the names of their divisions')), progress.join(' | '));

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
  assert.equal(download.suggestedFilename(), 'qualtrics-users.csv');
  const csv = (await readFile(await download.path(), 'utf8')).replace(/^\uFEFF/, '');
  const lines = csv.trimEnd().split(/\r?\n/);
  assert.equal(lines.length, 251, 'header + 250 users');
  assert.equal(lines[0], 'User ID,Username,First name,Last name,Email,User type,Division,Account status');
  // A cell shows a user type's or division's name beside its id; the CSV holds the id (data-value).
  // (the first cell is the row's selection box, not a column of the sheet)
  const shown = await page.$$eval('#users-table tbody tr:first-child td:not(.select)', (tds) => tds.map((td) => td.dataset.value ?? td.textContent));
  assert.equal(lines[1], shown.join(','));
  assert.deepEqual(page.problems, []);
});

test('the sandbox brand connects directly with one click', async () => {
  const page = await openPage(browser, server.url + '/');
  await page.click('#connect');
  await connected(page);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  assert.equal(await rowCount(page), 250);
  assert.deepEqual(page.problems, []);
});

test('a wrong token shows the 401 message and the page stays usable', async () => {
  const page = await openPage(browser, server.url + '/');
  await connectViaRelay(page, 'iad1', 'WrongToken0000000000000000000000000000000');
  assert.match(await errorText(page), /did not recognise the API token \(HTTP 401\)/);
  assert.equal(await page.textContent('#who'), 'Not connected');
  assert.equal(await page.isDisabled('#list-users'), true);
  await page.fill('#token', server.adminToken);
  await page.click('#connect');
  await connected(page);
  assert.equal(await page.isHidden('#error'), true);
  assert.deepEqual(page.problems, []);
});

test('a blank datacenter is found from the token, and a wrong one is corrected from whoami', async () => {
  const page = await openPage(browser, server.url + '/');
  const relayCalls = [];
  page.on('request', (r) => { if (r.url().includes('/relay/')) relayCalls.push(new URL(r.url()).pathname); });
  await connectViaRelay(page, '', server.adminToken);
  await connected(page);
  assert.equal(await page.inputValue('#datacenter'), 'iad1');
  // The sandbox brand lives on iad1; fra1 answers (proxied) and says so.
  await connectViaRelay(page, 'fra1', server.adminToken);
  await page.waitForFunction(() => document.getElementById('notice').textContent.includes('connected to iad1'));
  await connected(page);
  assert.match(await page.textContent('#notice'), /Qualtrics says this brand is on datacenter iad1, not fra1: connected to iad1\./);
  assert.equal(await page.inputValue('#datacenter'), 'iad1');
  relayCalls.length = 0;
  await page.click('#list-users');
  await page.waitForFunction(() => document.querySelectorAll('#users-table tbody tr').length > 0);
  assert.ok(relayCalls.length > 0 && relayCalls.every((p) => p.startsWith('/relay/iad1/')), relayCalls.join(' '));
  assert.deepEqual(page.problems, []);
});

test('a malformed datacenter or an empty token is refused before anything is sent', async () => {
  const page = await openPage(browser, server.url + '/');
  const sent = [];
  page.on('request', (r) => { if (r.url().includes('/relay/')) sent.push(r.url()); });
  await connectViaRelay(page, 'iad1.qualtrics.com.evil.example', server.adminToken);
  assert.match(await errorText(page), /is not a Qualtrics datacenter id/);
  await connectViaRelay(page, 'iad1', '   ');
  assert.match(await errorText(page), /Enter an API token/);
  assert.deepEqual(sent, []);
  assert.deepEqual(page.problems, []);
});

test('an HTML or empty answer, a dropped network and a nextPage loop each give a clear message', async () => {
  const page = await openPage(browser, server.url + '/');
  await page.route('**/relay/iad1/API/v3/whoami', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><html><body>Sign in</body></html>' }));
  await connectViaRelay(page, 'iad1', server.adminToken);
  assert.match(await errorText(page), /Expected a Qualtrics JSON answer but got an HTML page \(HTTP 200\)/);

  await page.unroute('**/relay/iad1/API/v3/whoami');
  await page.route('**/relay/iad1/API/v3/whoami', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: '' }));
  await page.click('#connect');
  assert.match(await errorText(page), /the answer has no result/);

  await page.unroute('**/relay/iad1/API/v3/whoami');
  await page.route('**/relay/iad1/API/v3/whoami', (r) => r.abort('connectionrefused'));
  await page.click('#connect');
  assert.match(await errorText(page), /Could not reach 127\.0\.0\.1/);

  await page.unroute('**/relay/iad1/API/v3/whoami');
  await page.click('#connect');
  await connected(page);
  // The second page points back at the first: stop with a message instead of looping.
  await page.route('**/relay/iad1/API/v3/users?offset=100', (r) => r.fulfill({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({ result: { elements: [{ id: 'UR_loop' }], nextPage: 'https://iad1.qualtrics.com/API/v3/users' }, meta: { httpStatus: '200 - OK' } }),
  }));
  await page.click('#list-users');
  assert.match(await errorText(page), /pointed back to a page already read \(page 3\); stopped the listing with 101 entries/);
  assert.equal(await page.isEnabled('#list-users'), true, 'the page stays usable');
  assert.deepEqual(page.problems, []);
});

test('an unreachable datacenter gives the relay message', async () => {
  const dead = await startServer(['--relay-upstream', 'http://127.0.0.1:1']);
  try {
    const page = await openPage(browser, dead.url + '/');
    await connectViaRelay(page, 'xx9', 'AnyToken');
    assert.match(await errorText(page), /xx9\.qualtrics\.com could not be reached from the relay: check the datacenter id/);
    assert.deepEqual(page.problems, []);
  } finally {
    dead.stop();
  }
});
