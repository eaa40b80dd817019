// The page and the pane as an administrator's tool (issue 21): views in the URL that switch
// without reloading, tables with search, sort, filters and counts (50,000 rows virtualised),
// names beside UT_/DV_ ids, plans at a glance with problems that jump to their row and a chart
// of outcomes, Fluent's light and dark look, the message old webviews get, the Automations view
// (against page.route stubs of the server's hooks contract), a whole flow walked with the
// keyboard alone, and axe-core over every view of the page and the pane.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, applyConfirmed, seriousViolations } from './harness.mjs';
import { openPane as openPaneOn } from './office-double.mjs';

let server;
let browser;
before(async () => {
  server = await startServer(['--relay-upstream', 'sandbox']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const VIEWS = ['users', 'lifecycle', 'provision', 'membership', 'runs'];
const connected = (page) => page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));

/** The pane over the workbook double, at `taskpane.html#view`. */
const openPane = (setup, view = 'users', { theme } = {}) => openPaneOn(browser, server, setup, { view, theme });

/** Lifecycle rows for the sandbox: `n` active users to disable, and one unknown username. */
async function leavers(n) {
  const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, n);
  return ['Username,Action', ...users.map((u) => `${u.username},disable`), 'ghost@nowhere.example,disable'].join('\n');
}

/** Puts every user back as active (the tests disable some). */
async function reenable() {
  const users = (await sandboxUsers(server)).slice(1);
  for (const u of users.filter((x) => x.accountStatus !== 'active')) {
    await fetch(`${server.url}/sandbox/API/v3/users/${u.id}`, {
      method: 'PUT', headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'active' }),
    });
  }
}

test('each view has its URL: the tab bar, the arrow keys and the fragment switch views without reloading, and a refresh returns to the view', async () => {
  const page = await openPage(browser, `${server.url}/`);
  assert.equal(await page.getAttribute('#tab-users', 'aria-selected'), 'true');
  assert.equal(await page.isVisible('#view-users'), true);
  for (const v of VIEWS.slice(1)) assert.equal(await page.isHidden(`#view-${v}`), true, `${v} hidden`);
  assert.equal(await page.isHidden('#tab-automations'), true, 'no hooks on this server: no Automations tab');

  await page.click('#connect');
  await connected(page);
  await page.evaluate(() => { window.__sameDocument = true; });
  await openView(page, 'lifecycle');
  assert.equal(new URL(page.url()).hash, '#lifecycle');
  await page.fill('#lc-paste', await leavers(3));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  const summary = await page.textContent('#lc-summary');

  // By the tab bar, by the fragment (a link, Back), and by the arrow keys.
  await openView(page, 'users');
  await page.evaluate(() => { location.hash = '#provision'; });
  await page.waitForSelector('#view-provision:not([hidden])');
  assert.equal(await page.getAttribute('#tab-provision', 'aria-selected'), 'true');
  await page.goBack();
  await page.waitForSelector('#view-users:not([hidden])');
  await page.focus('#tab-users');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-lifecycle');
  await page.keyboard.press('End');
  await page.waitForSelector('#view-runs:not([hidden])');
  await page.keyboard.press('ArrowRight'); // wraps to the first (Automations is hidden)
  await page.waitForSelector('#view-users:not([hidden])');
  await page.goto(`${server.url}/#lifecycle`); // same document: a fragment navigation

  // Nothing reloaded: the connection and the plan are still there.
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was not reloaded');
  assert.match(await page.textContent('#who'), /^Connected/);
  assert.equal(await page.textContent('#lc-summary'), summary);
  assert.equal(await page.isEnabled('#lc-apply'), true);

  // A refresh (or a link) opens the view of the URL; an old ?view= link too.
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.isVisible('#view-lifecycle'), true);
  await page.goto(`${server.url}/?view=membership`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.isVisible('#view-membership'), true);
  assert.deepEqual(page.problems, []);
});

test('in the pane, the ribbon buttons\' URLs (taskpane.html#users, #lifecycle, #provision) switch the view without reloading the pane', async () => {
  const rows = [['Username', 'Action'], ['ghost@nowhere.example', 'disable']];
  const page = await openPane({ sheets: [{ name: 'Leavers', rows }], select: { sheet: 'Leavers', address: 'A1' } }, 'users');
  assert.equal(await page.isVisible('#view-users'), true);
  await page.click('#connect');
  await connected(page);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.goto(`${server.url}/taskpane.html#lifecycle`); // the Lifecycle button
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  await page.goto(`${server.url}/taskpane.html#provision`); // the Provision button
  await page.waitForSelector('#view-provision:not([hidden])');
  await page.goto(`${server.url}/taskpane.html#lifecycle`);
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the pane was not reloaded');
  assert.match(await page.textContent('#who'), /^Connected/);
  assert.match(await page.textContent('#lc-summary'), /1 not found/);
  assert.deepEqual(page.problems, []);
});

/** A sandbox API answer, read as the brand administrator. */
const sandboxGet = async (/** @type {string} */ path) => (await fetch(`${server.url}/sandbox/API/v3/${path}`, { headers: { 'x-api-token': server.adminToken } })).json();
/** How many division reads the sandbox has answered (GET /divisions/{id}). */
const divisionReadCount = async () => {
  const stats = await (await fetch(`${server.url}/sandbox/control/stats`, { headers: { 'x-api-token': server.adminToken } })).json();
  return stats.byEndpoint?.['GET /divisions/{id}'] ?? 0;
};

test('the users table: search, sort by any column, filters with counts, and names beside user type and division ids (divisions named by Qualtrics), remembered on this device', async () => {
  const users = await sandboxUsers(server);
  const page = await openPage(browser, `${server.url}/#users`);
  await page.click('#connect');
  await connected(page);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  const rows = () => page.locator('#users-table tbody tr').count();
  assert.equal(await rows(), users.length);
  assert.equal(await page.textContent('#users-table-count'), `${users.length} rows`);

  // Search.
  const target = users[7];
  await page.fill('#users-table-search', target.lastName.toUpperCase());
  const matching = users.filter((u) => Object.values(u).join(' ').toLowerCase().includes(target.lastName.toLowerCase())).length;
  assert.ok(await rows() >= 1 && await rows() <= matching + 5, `${await rows()} rows for "${target.lastName}"`);
  assert.match(await page.textContent('#users-table-count'), new RegExp(`^${await rows()} of ${users.length} rows shown$`));
  await page.fill('#users-table-search', '');

  // Filters, each choice with its count; counts follow the other filters.
  const statusFilter = page.locator('#users-table-tools label:has-text("Status") select');
  const disabled = users.filter((u) => u.accountStatus === 'disabled').length;
  assert.ok(disabled > 0, 'the sandbox has disabled users');
  assert.ok((await statusFilter.locator('option').allTextContents()).includes(`disabled (${disabled})`));
  await statusFilter.selectOption({ label: `disabled (${disabled})` });
  assert.equal(await rows(), disabled);
  const cells = await page.$$eval('#users-table tbody tr td:last-child', (tds) => tds.map((td) => td.textContent));
  assert.ok(cells.every((c) => c === 'disabled'));
  const typeFilter = page.locator('#users-table-tools label:has-text("User type") select');
  const typeCounts = (await typeFilter.locator('option').allTextContents()).slice(1).map((o) => Number(o.match(/\((\d+)\)$/)[1]));
  assert.equal(typeCounts.reduce((a, b) => a + b, 0), disabled, 'user type counts are of the disabled users');
  await statusFilter.selectOption('');
  assert.equal(await rows(), users.length);

  // Sort by username, both ways (the first column holds each row's selection box).
  const usernames = users.map((u) => u.username.toLowerCase());
  await page.click('#users-table thead th:nth-child(3) button');
  assert.equal(await page.getAttribute('#users-table thead th:nth-child(3)', 'aria-sort'), 'ascending');
  const first = await page.textContent('#users-table tbody tr:first-child td:nth-child(3)');
  assert.equal(first.toLowerCase(), [...usernames].sort()[0]);
  await page.click('#users-table thead th:nth-child(3) button');
  assert.equal(await page.getAttribute('#users-table thead th:nth-child(3)', 'aria-sort'), 'descending');
  assert.equal((await page.textContent('#users-table tbody tr:first-child td:nth-child(3)')).toLowerCase(), [...usernames].sort().at(-1));

  // Names: UT_BRANDADMIN is known; others are named once under "Names", and remembered.
  const admin = page.locator('#users-table td[data-value="UT_BRANDADMIN"]').first();
  assert.equal(await admin.locator('.name').textContent(), 'Brand Administrator');
  assert.equal(await admin.getAttribute('title'), 'UT_BRANDADMIN', 'the id stays available');
  const type = users.find((u) => u.userType !== 'UT_BRANDADMIN').userType;
  const division = users.find((u) => u.divisionId)?.divisionId;
  // Divisions are named by Qualtrics (GET /divisions/{id}, read once per division: issue 29.2),
  // shown in the Names panel as such rather than asked for.
  const divisionName = division ? (await sandboxGet(`divisions/${division}`)).result.name : '';
  if (division) {
    assert.ok(divisionName, 'the sandbox names its divisions');
    await page.waitForSelector(`#users-table td[data-value="${division}"] .name`);
    assert.equal(await page.textContent(`#users-table td[data-value="${division}"] .name >> nth=0`), divisionName);
  }
  const divisionReads = await divisionReadCount();
  await page.click('#names summary');
  if (division) {
    assert.equal(await page.locator(`input[id="name-${division}"]`).count(), 0, 'not asked for');
    assert.equal(await page.textContent(`[id="name-${division}"]`), `${divisionName} (from Qualtrics)`);
  }
  await page.fill(`[id="name-${type}"]`, 'Dashboard Viewer');
  await page.press(`[id="name-${type}"]`, 'Enter');
  await page.waitForSelector(`#users-table td[data-value="${type}"] .name`);
  assert.equal(await page.textContent(`#users-table td[data-value="${type}"] .name`), 'Dashboard Viewer');
  assert.ok((await typeFilter.locator('option').allTextContents()).some((o) => o.startsWith(`Dashboard Viewer (${type})`)));
  await page.fill('#users-table-search', 'dashboard viewer');
  assert.equal(await rows(), users.filter((u) => u.userType === type).length, 'a name is searched');
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#connect');
  await connected(page);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  assert.equal(await page.textContent(`#users-table td[data-value="${type}"] .name >> nth=0`), 'Dashboard Viewer', 'remembered on this device');
  if (division) assert.equal(await page.textContent(`#users-table td[data-value="${division}"] .name >> nth=0`), divisionName);
  assert.equal(await divisionReadCount(), divisionReads, 'division names kept on this device are not read again');
  assert.deepEqual(page.problems, []);
});

test('50,000 rows are virtualised: few rows in the document, filters and search over all of them, scrolling reaches the last', async () => {
  const page = await openPage(browser, `${server.url}/#users`);
  const got = await page.evaluate(async () => {
    const { gridOf } = await import('./grid.js');
    const statuses = ['active', 'disabled'];
    const table = {
      columns: ['User ID', 'Username', 'User type', 'Division', 'Account status'],
      rows: Array.from({ length: 50_000 }, (_, i) => [`UR_${String(i).padStart(15, '0')}`, `user${i}@example.org`, i % 10 ? 'UT_abc' : 'UT_BRANDADMIN', `DV_${i % 7}`, statuses[i % 3 === 0 ? 1 : 0]]),
    };
    const grid = gridOf(document.getElementById('users-table'));
    grid.set(table);
    const out = { initial: grid.counts() };
    const search = document.getElementById('users-table-search');
    search.value = 'user4999';
    search.dispatchEvent(new Event('input'));
    out.searched = grid.counts();
    search.value = '';
    search.dispatchEvent(new Event('input'));
    const status = [...document.querySelectorAll('#users-table-tools select')].find((s) => s.closest('label').textContent.startsWith('Status'));
    out.options = [...status.options].map((o) => o.textContent);
    status.value = [...status.options].find((o) => o.textContent.startsWith('disabled')).value;
    status.dispatchEvent(new Event('change'));
    out.filtered = grid.counts();
    const wrap = document.getElementById('users-table-wrap');
    wrap.scrollTop = wrap.scrollHeight;
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    const rows = document.querySelectorAll('#users-table tbody tr');
    // (cells[0] is the row's selection box)
    out.last = rows[rows.length - 1].cells[2].textContent;
    out.rowcount = document.getElementById('users-table').getAttribute('aria-rowcount');
    return out;
  });
  assert.equal(got.initial.rows, 50_000);
  assert.ok(got.initial.inDocument < 120, `${got.initial.inDocument} rows in the document`);
  assert.equal(got.searched.shown, 11, 'user4999 and user49990…49999');
  assert.deepEqual(got.options, ['All (50,000)', 'active (33,333)', 'disabled (16,667)']);
  assert.equal(got.filtered.shown, 16_667);
  assert.equal(got.last, 'user49998@example.org', 'the last disabled user');
  assert.equal(got.rowcount, String(16_667 + 1));
  assert.deepEqual(page.problems, []);
});

test('a plan at a glance: counts per change, a Change column, problems that jump to their row, time left while applying, a chart of outcomes', async () => {
  const page = await openPage(browser, `${server.url}/#lifecycle`);
  await page.click('#connect');
  await connected(page);
  await page.fill('#lc-paste', await leavers(6));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  const chips = await page.locator('#lc-glance li').allTextContents();
  assert.deepEqual(chips, ['6 disable', '1 not found', '1 problem', 'about 1 s to apply']);
  assert.equal(await page.getAttribute('#lc-glance li:first-child', 'class'), 'chip tone-remove');
  assert.equal(await page.textContent('#lc-table thead th:nth-child(5)'), 'Change');
  // The person beside the ids: the sandbox's users have names.
  assert.match(await page.textContent('#lc-table tbody tr[data-row="2"] td:nth-child(2)'), /^\S+ \S+/);
  assert.equal(await page.getAttribute('#lc-table tbody tr[data-row="8"] .badge', 'class'), 'badge tone-bad');
  assert.equal(await page.getAttribute('#lc-table tbody tr[data-row="2"] .badge', 'class'), 'badge tone-remove');

  // Problems only, then a problem that jumps to its row even when a filter hides it.
  await page.check('#lc-table-problems');
  assert.equal(await page.locator('#lc-table tbody tr').count(), 1);
  assert.equal(await page.textContent('#lc-table-tools label.check'), ' Problems only (1)');
  await page.uncheck('#lc-table-problems');
  await page.fill('#lc-table-search', 'nothing matches this');
  assert.equal(await page.locator('#lc-table tbody tr').count(), 0);
  await page.click('#lc-problems li button');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.row), '8', 'the problem\'s row has the focus');
  assert.equal(await page.inputValue('#lc-table-search'), '', 'the filter that hid it was cleared');

  // Apply: done / total with the time left, then the chart of outcomes.
  await page.evaluate(() => {
    window.progressSeen = [];
    new MutationObserver(() => window.progressSeen.push(document.getElementById('lc-progress-text').textContent))
      .observe(document.getElementById('lc-progress-text'), { childList: true, characterData: true, subtree: true });
  });
  await applyConfirmed(page, 'lc-');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
  const progress = await page.evaluate(() => window.progressSeen);
  assert.ok(progress.some((t) => /^Sending… about .* at Qualtrics' rate limit$/.test(t)), progress.join(' | '));
  assert.ok(progress.some((t) => /^Sending: \d+ of 6, .* requests\/s · about \d+ s left$/.test(t)), progress.join(' | '));
  const bars = await page.$$eval('#lc-chart rect', (rs) => rs.map((r) => [r.dataset.name, Number(r.dataset.members)]));
  assert.deepEqual(bars, [['done', 6], ['unchanged', 0], ['failed', 1], ['refused', 0], ['not sent', 0]]);
  assert.equal(await page.getAttribute('#lc-table thead th:nth-child(2)', 'aria-sort'), 'none');
  assert.equal(await page.getAttribute('#lc-table tbody tr[data-row="8"] .badge', 'class'), 'badge tone-bad', 'failed outcome');
  await reenable();
  assert.deepEqual(page.problems, []);
});

test('keyboard alone: connect to the sandbox, open the lifecycle view, plan a pasted sheet, apply', async () => {
  const page = await openPage(browser, `${server.url}/`);
  const text = await leavers(2);
  /** Presses Tab until the focus is on `selector` (at most 40 times). */
  const tabTo = async (selector) => {
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    }
    throw new Error(`Tab never reached ${selector}`);
  };
  await tabTo('input[name=mode][value=sandbox]');
  assert.equal(await page.isChecked('input[name=mode][value=sandbox]'), true);
  await tabTo('#connect');
  await page.keyboard.press('Enter');
  await connected(page);
  await tabTo('#tab-users');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  await tabTo('#lc-paste');
  await page.keyboard.insertText(text);
  await tabTo('#lc-plan');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.equal(await page.textContent('#lc-apply'), 'Apply 2 changes');
  await tabTo('#lc-apply');
  await page.keyboard.press('Space');
  // The confirmation takes the focus (on Cancel, the safe choice); Tab to Apply and press Enter.
  await page.waitForSelector('#confirm[open]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel');
  await tabTo('#confirm-ok');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
  assert.equal(await page.textContent('#lc-summary'), 'Outcome: 2 done · 0 unchanged · 1 failed · 0 not sent.');
  await reenable();
  assert.deepEqual(page.problems, []);
});

test('axe-core finds nothing serious or critical in any view of the page, light and dark, with its tables filled', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.click('#connect');
  await connected(page);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
  await page.click('#names summary');
  await openView(page, 'lifecycle');
  await page.fill('#lc-paste', 'User ID,Action\nUR_123,disable\n');
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  await openView(page, 'membership');
  await page.click('#mtab-rules');
  await page.click('#rl-sandbox');
  await page.click('#mp-pull');
  await page.waitForFunction(() => document.getElementById('mp-summary').textContent !== '', null, { timeout: 60_000 });
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const v of VIEWS) {
      await openView(page, v);
      assert.deepEqual(await seriousViolations(page), [], `${v} (${scheme})`);
    }
  }
  assert.deepEqual(page.problems, []);
});

test('axe-core finds nothing serious or critical in any view of the pane; the pane follows Office\'s dark theme', async () => {
  const rows = [['Username', 'Action'], ['ghost@nowhere.example', 'disable']];
  const setup = { sheets: [{ name: 'Leavers', rows }], select: { sheet: 'Leavers', address: 'A1' } };
  for (const [theme, expected] of [[{ bodyBackgroundColor: '#FFFFFF', bodyForegroundColor: '#000000' }, 'light'], [{ bodyBackgroundColor: '#262626', bodyForegroundColor: '#FFFFFF' }, 'dark']]) {
    const page = await openPane(setup, 'users', { theme });
    assert.equal(await page.getAttribute('html', 'data-theme'), expected);
    const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(background, expected === 'dark' ? 'rgb(31, 31, 31)' : 'rgb(250, 250, 250)', 'Fluent\'s neutral background (colorNeutralBackground2)');
    await page.click('#connect');
    await connected(page);
    await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
    await openView(page, 'lifecycle');
    await page.click('#lc-plan');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
    for (const v of VIEWS) {
      await openView(page, v);
      assert.deepEqual(await seriousViolations(page), [], `pane ${v} (${expected})`);
    }
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test('an old webview gets a one-line message saying which Office versions work, not a blank pane', async () => {
  const page = await openPage(browser, `${server.url}/`);
  assert.equal(await page.locator('#unsupported').count(), 0, 'nothing said where the app runs');
  const context = await browser.newContext();
  const old = await context.newPage();
  // As Internet Explorer 11 (EdgeHTML is told by its user agent or a module's SyntaxError).
  await old.addInitScript(() => { delete window.WebAssembly; });
  await old.goto(`${server.url}/taskpane.html`);
  await old.waitForSelector('#unsupported');
  assert.match(await old.textContent('#unsupported'), /use Microsoft 365 or Office 2021 or later on Windows \(with the WebView2 runtime\), Excel on a Mac, or Excel on the web/);
  await context.close();
});

test('Automations (hooks contract stubbed): the tab shows where the server has hooks, lists events with their status and reasons, filters, searches, retries a failed one', async () => {
  const page = await (await browser.newContext({ viewport: { width: 1000, height: 800 } })).newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  const events = [
    { id: 'ev1', hook: 'crm', senderId: 'salesforce', receivedAt: '2025-01-02T10:00:00Z', status: 'done', user: 'ada@example.org', action: 'create', outcome: { status: 'done', message: 'created UR_1' }, attempts: 1, reason: null, nextAttemptAt: null },
    { id: 'ev2', hook: 'hr', senderId: 'workday', receivedAt: '2025-01-02T10:05:00Z', status: 'failed', user: 'bob@example.org', action: 'disable', outcome: { status: 'failed', message: 'no such user' }, attempts: 3, reason: 'no user with username "bob@example.org"', nextAttemptAt: null },
    { id: 'ev3', hook: 'hr', senderId: 'workday', receivedAt: '2025-01-02T10:06:00Z', status: 'failed', user: 'cy@example.org', action: 'disable', outcome: null, attempts: 1, reason: 'Qualtrics answered 503', nextAttemptAt: '2025-01-02T10:16:00Z' },
    { id: 'ev4', hook: 'crm', senderId: 'salesforce', receivedAt: '2025-01-02T10:07:00Z', status: 'received', user: 'di@example.org', action: 'create', outcome: null, attempts: 0, reason: null, nextAttemptAt: null },
  ];
  const seen = [];
  await page.route('**/hooks/v1/events?limit=100', (route) => {
    const h = route.request().headers();
    seen.push(`GET ${h['x-api-token'] ?? '-'}`);
    if (!h['x-api-token']) return route.fulfill({ status: 401, contentType: 'application/json', body: '{"error":"token"}' });
    if (h['x-api-token'] !== server.adminToken) return route.fulfill({ status: 401, body: '' });
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ events }) });
  });
  await page.route('**/hooks/v1/events/*/retry', (route) => {
    const r = route.request();
    seen.push(`${r.method()} ${new URL(r.url()).pathname} ${r.headers()['x-api-token']}`);
    events.find((e) => r.url().includes(`/${e.id}/`)).status = 'received';
    return route.fulfill({ status: 202, body: '' });
  });
  await page.goto(`${server.url}/#automations`);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForSelector('#tab-automations:not([hidden])');
  await page.waitForSelector('#view-automations:not([hidden])');
  await page.click('#au-refresh');
  assert.match(await page.textContent('#au-error'), /^Connect first/);

  await page.click('#connect');
  await connected(page);
  await openView(page, 'users');
  await openView(page, 'automations'); // opening it refreshes
  await page.waitForFunction(() => document.querySelectorAll('#au-table tbody tr').length === 4);
  assert.equal(await page.textContent('#au-count'), '4 events');
  assert.match(await page.textContent('#au-table tr[data-event="ev2"]'), /no user with username "bob@example\.org" · parked: press Retry/);
  assert.match(await page.textContent('#au-table tr[data-event="ev3"]'), /Qualtrics answered 503 · next attempt /);
  assert.equal(await page.locator('#au-table tr[data-event="ev1"] button[aria-label^="Retry"]').count(), 0, 'Retry only on failed events');
  assert.equal(await page.locator('#au-table tr[data-event="ev1"] button').count(), 1, 'a done event offers only its Details');
  await page.selectOption('#au-status', 'failed');
  assert.equal(await page.locator('#au-table tbody tr').count(), 2);
  assert.equal(await page.textContent('#au-count'), '2 of 4 events shown');
  await page.selectOption('#au-status', '');
  await page.fill('#au-search', 'workday');
  assert.equal(await page.locator('#au-table tbody tr').count(), 2);
  await page.fill('#au-search', 'bob');
  await page.click('#au-table tr[data-event="ev2"] button');
  await page.waitForFunction(() => document.querySelector('#au-table tr[data-event="ev2"]')?.textContent.includes('received'));
  assert.ok(seen.includes(`POST /hooks/v1/events/ev2/retry ${server.adminToken}`), seen.join(' | '));
  assert.ok(seen.filter((s) => s === `GET ${server.adminToken}`).length >= 2, 'refreshed after the retry');
  assert.deepEqual(await seriousViolations(page), [], 'automations view');

  // A token the server does not accept.
  await page.unroute('**/hooks/v1/events?limit=100');
  await page.route('**/hooks/v1/events?limit=100', (route) => route.fulfill({ status: 401, body: '' }));
  await page.click('#au-refresh');
  await page.waitForSelector('#au-error:not([hidden])');
  assert.match(await page.textContent('#au-error'), /did not accept this token .*HTTP 401/);
  assert.deepEqual(page.problems, []);
});

test('problems are grouped by what they say: one line with its count, which shows just its rows', async () => {
  const page = await openPage(browser, `${server.url}/#lifecycle`);
  await page.click('#connect');
  await connected(page);
  const users = (await sandboxUsers(server)).slice(1, 33);
  // 30 rows with one mistake (an action Qualtrics has no word for), each naming a different user.
  const rows = users.map((u, i) => `${u.username},${i < 30 ? `pause-${i}` : 'enable'}`);
  await page.fill('#lc-paste', ['Username,Action', ...rows].join('\n'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  const items = await page.locator('#lc-problems li').allTextContents();
  assert.equal(items.length, 1, items.join('\n'));
  assert.match(items[0], /^Action: "…" .*\(30 rows\)$/);
  await page.click('#lc-problems li button');
  assert.equal(await page.locator('#lc-table tbody tr').count(), 30, 'only the 30 rows');
  assert.match(await page.textContent('[data-testid=lc-table-only]'), /^30 rows: Action: "…"/);
  await page.click('[data-testid=lc-table-only] button');
  assert.equal(await page.locator('#lc-table tbody tr').count(), 32, 'every row again');
  assert.equal(await page.isHidden('[data-testid=lc-table-only]'), true);
  assert.deepEqual(page.problems, []);
});
