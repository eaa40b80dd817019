// The picture of the brand on the Users view (issue 29, point 11): active and disabled accounts,
// users by user type and by division, as bars whose counts are the sandbox's own; each bar (a
// button in the page) filters the Users grid through its own filter, and again shows all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, seriousViolations } from './harness.mjs';
import { OFFICE_JS, officeDouble } from './office-double.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** The bars of one group of the picture: `{value, label, count}` (counts as shown, en-US). */
const bars = (page, column) => page.$$eval(`#users-picture .picture-row[data-column="${column}"]`, (rows) => rows.map((r) => ({
  value: r.dataset.value,
  label: r.querySelector('.picture-label').textContent,
  count: Number(r.querySelector('.picture-count').textContent.replace(/\D/g, '')),
})));

/** How many users have each value of `field`. */
function tally(users, field) {
  const out = {};
  for (const u of users) out[u[field] ?? ''] = (out[u[field] ?? ''] ?? 0) + 1;
  return out;
}

/** The User IDs of the Users grid's rows shown. */
const shownIds = (page) => page.$$eval('#users-table', ([table]) => {
  const heads = [...table.tHead.rows[0].cells].filter((c) => !c.classList.contains('select')).map((c) => c.textContent.trim());
  const at = heads.findIndex((h) => h.startsWith('User ID'));
  return [...table.tBodies[0].rows].map((tr) => [...tr.cells].filter((td) => !td.classList.contains('select'))[at]).map((td) => td.dataset.value ?? td.textContent);
});

test('the bars count the sandbox\'s users; "Disabled" filters the grid to exactly the disabled users, and again to all', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '120']);
  try {
    const page = await openPage(browser, server.url + '/');
    await connectViaRelay(page, server);
    await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
    await page.waitForSelector('#users-picture:not([hidden])');
    const users = await sandboxUsers(server);
    const disabled = users.filter((u) => u.accountStatus === 'disabled');
    assert.ok(disabled.length > 0 && disabled.length < users.length, 'the sandbox has both');

    const status = await bars(page, 'Account status');
    assert.deepEqual(Object.fromEntries(status.map((b) => [b.value, b.count])), tally(users, 'accountStatus'));
    assert.deepEqual(status.map((b) => b.label).sort(), ['Active', 'Disabled']);
    const types = await bars(page, 'User type');
    assert.deepEqual(Object.fromEntries(types.map((b) => [b.value, b.count])), tally(users, 'userType'));
    // Known ids by their names (Brand Administrator), the rest by their ids.
    for (const b of types) assert.equal(b.label, b.value === 'UT_BRANDADMIN' ? 'Brand Administrator' : b.value);
    const divisions = await bars(page, 'Division');
    assert.deepEqual(Object.fromEntries(divisions.map((b) => [b.value, b.count])), tally(users, 'divisionId'));

    // Disabled: the grid's own Status filter shows it, and the grid exactly the disabled users.
    const button = page.getByRole('button', { name: new RegExp(`^Disabled\\s*${disabled.length}$`) });
    await button.click();
    await page.waitForFunction((n) => document.getElementById('users-table-count').textContent === `${n} of ${120} rows shown`, disabled.length);
    assert.deepEqual((await shownIds(page)).sort(), disabled.map((u) => u.id).sort());
    assert.equal(await button.getAttribute('aria-pressed'), 'true');
    const filterShown = await page.$eval('#users-table-tools', (tools) => [...tools.querySelectorAll('label.tool')].find((l) => l.textContent.startsWith('Status')).querySelector('select').selectedOptions[0].textContent);
    assert.match(filterShown, /^disabled \(\d+\)$/);
    assert.deepEqual(await seriousViolations(page, '#view-users'), []);
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await seriousViolations(page, '#view-users'), [], 'dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Again: every user. By keyboard: the bar is a button.
    await button.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('users-table-count').textContent === '120 rows');
    assert.equal(await button.getAttribute('aria-pressed'), 'false');

    // A user type's bar filters by it; the grid's own filter, set back to All, unpresses it.
    const type = types.find((b) => b.value !== 'UT_BRANDADMIN') ?? types[0];
    await page.locator(`#users-picture button[data-column="User type"][data-value="${type.value}"]`).click();
    await page.waitForFunction((n) => document.getElementById('users-table-count').textContent === `${n} of 120 rows shown`, type.count);
    const select = page.locator('#users-table-tools label.tool', { hasText: 'User type' }).locator('select');
    await select.selectOption('');
    assert.equal(await page.locator(`#users-picture button[data-column="User type"][data-value="${type.value}"]`).getAttribute('aria-pressed'), 'false');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('the pane: the same bars; "Disabled" filters the Users sheet\'s table to exactly the disabled users, and again to all', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '80']);
  try {
    const context = await browser.newContext({ viewport: { width: 360, height: 900 } });
    const page = await context.newPage();
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
    await context.route(OFFICE_JS, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: officeDouble() }));
    await page.addInitScript(() => { self.__WORKBOOK_SETUP__ = { sheets: [{ name: 'Sheet1', rows: [] }] }; });
    await page.goto(`${server.url}/taskpane.html#users`);
    await page.waitForSelector('body[data-ready=true]');
    await connectViaRelay(page, server);
    await openView(page, 'users');
    await page.waitForFunction(() => /written to the "Users" sheet/.test(document.getElementById('summary').textContent));
    await page.waitForSelector('#users-picture:not([hidden])');
    const users = await sandboxUsers(server);
    const disabled = users.filter((u) => u.accountStatus === 'disabled');
    const status = await bars(page, 'Account status');
    assert.deepEqual(Object.fromEntries(status.map((b) => [b.value, b.count])), tally(users, 'accountStatus'));
    assert.deepEqual(Object.fromEntries((await bars(page, 'Division')).map((b) => [b.value, b.count])), tally(users, 'divisionId'));

    /** The User IDs of the Users sheet's rows its filter shows. */
    const visibleIds = () => page.evaluate(() => {
      const wb = window.__workbook;
      const hidden = wb.sheets.get('Users').filtered;
      return wb.values('Users').slice(1).filter((_, i) => !hidden.has(i + 1)).map((r) => r[0]);
    });
    const button = page.getByRole('button', { name: new RegExp(`^Disabled\\s*${disabled.length}$`) });
    await button.click();
    await page.waitForFunction(() => document.querySelector('#users-picture button[data-value="disabled"]').getAttribute('aria-pressed') === 'true');
    assert.deepEqual((await visibleIds()).sort(), disabled.map((u) => u.id).sort());
    for (const theme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: theme });
      assert.deepEqual(await seriousViolations(page, '#view-users'), [], `pane (${theme})`);
    }
    await button.click();
    await page.waitForFunction(() => document.querySelector('#users-picture button[data-value="disabled"]').getAttribute('aria-pressed') === 'false');
    assert.equal((await visibleIds()).length, 80);
    assert.deepEqual(page.problems, []);
    await context.close();
  } finally {
    server.stop();
  }
});
