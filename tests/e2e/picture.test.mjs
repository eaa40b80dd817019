// The picture of the brand on the Users view (issue 29, point 11): active and disabled accounts,
// users by user type and by division, as bars whose counts are the sandbox's own; each bar (a
// button in the page) filters the Users grid through its own filter, and again shows all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, sandboxUsers, connectViaRelay, seriousViolations } from './harness.mjs';

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
