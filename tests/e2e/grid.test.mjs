// The Users grid acts (issue 29, point 3): a box per row named "Select USERNAME", "Select all N
// shown" for what the search shows, and the bar of actions on the selected users. A bulk
// disable of 6 filtered users goes through the lifecycle view's plan and its confirmation, as a
// file would; "Download as edit sheet" reads back there as a lifecycle sheet; and selecting
// 5,000 rows and building their sheet stays under a second.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, parseCsv, seriousViolations } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Connects and waits until the Users view lists the brand. */
async function listed(page, server) {
  await connectViaRelay(page, server);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
}

/** The cells of the Users grid's rows shown, as values (a name beside an id keeps the id). */
const shownRows = (page) => page.$$eval('#users-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].filter((td) => !td.classList.contains('select')).map((td) => td.dataset.value ?? td.textContent)));

test('6 users found by a search: select all shown, Disable plans them in the lifecycle view, confirmed, done; the edit sheet reads back', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    const users = await sandboxUsers(server);
    // Each row's box is named after its username.
    for (const u of users.slice(0, 3)) {
      assert.equal(await page.getByRole('checkbox', { name: `Select ${u.username}`, exact: true }).count(), 1, u.username);
    }
    assert.equal(await page.getByRole('checkbox', { name: 'Select all 250 shown', exact: true }).count(), 1);
    assert.equal(await page.isHidden('#users-bulk'), true, 'no bar while nothing is selected');

    // The six Daniels of the sandbox (seed 1), all active.
    const daniels = users.filter((u) => u.firstName === 'Daniel');
    assert.equal(daniels.length, 6);
    assert.ok(daniels.every((u) => u.accountStatus === 'active'));
    await page.fill('#users-table-search', 'daniel');
    await page.waitForFunction(() => document.getElementById('users-table-count').textContent === '6 of 250 rows shown');
    await page.getByRole('checkbox', { name: 'Select all 6 shown', exact: true }).check();
    assert.equal(await page.textContent('#users-table-selected'), '6 selected');
    assert.equal(await page.isVisible('#users-bulk'), true);
    for (const u of daniels) assert.equal(await page.getByRole('checkbox', { name: `Select ${u.username}`, exact: true }).isChecked(), true, u.username);
    assert.deepEqual(await seriousViolations(page), []);

    // Unticking one and ticking it again: the header's box is mixed, then ticked.
    await page.getByRole('checkbox', { name: `Select ${daniels[0].username}`, exact: true }).uncheck();
    assert.equal(await page.textContent('#users-table-selected'), '5 selected');
    assert.equal(await page.$eval('#users-table-select-all', (b) => b.indeterminate), true);
    await page.getByRole('checkbox', { name: `Select ${daniels[0].username}`, exact: true }).check();
    assert.equal(await page.$eval('#users-table-select-all', (b) => b.checked && !b.indeterminate), true);

    // Download as edit sheet: the rows shown in the columns shown (Email hidden by the column
    // chooser), with an Action column.
    await page.click('#users-table-columns summary');
    await page.getByRole('checkbox', { name: 'Email', exact: true }).uncheck();
    assert.deepEqual(await page.$$eval('#users-table thead th:not(.select)', (ths) => ths.map((th) => th.textContent)),
      ['User ID', 'Username', 'First name', 'Last name', 'User type', 'Division', 'Account status']);
    assert.deepEqual(await seriousViolations(page), []);
    await page.click('#users-table-columns summary');
    const shown = await shownRows(page);
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#bulk-download')]);
    assert.equal(file.suggestedFilename(), 'users-edit-sheet.csv');
    const editBytes = await readFile(await file.path());
    const edit = parseCsv(editBytes.toString('utf8'));
    assert.deepEqual(edit[0], ['User ID', 'Username', 'First name', 'Last name', 'User type', 'Division', 'Account status', 'Action']);
    assert.deepEqual(edit.slice(1), shown.map((r) => [...r, '']));

    // Disable: the lifecycle view plans exactly those six, from the Users grid.
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '' || !document.getElementById('lc-error').hidden);
    assert.equal(await page.isHidden('#lc-error'), true, await page.textContent('#lc-error'));
    // Planned from the listing the grid shows, which the summary dates (issue 29.3).
    assert.match(await page.textContent('#lc-summary'), /^6 rows from the Users grid \(selected\): 6 disable\. Brand as listed at [^,]+, \d+ s ago\.$/);
    const plan = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.dataset.value ?? td.textContent)));
    const head = await page.$$eval('#lc-table thead th', (ths) => ths.map((th) => th.textContent));
    const at = (name) => head.indexOf(name);
    assert.equal(plan.length, 6);
    assert.deepEqual(plan.map((r) => r[at('User ID')]).sort(), daniels.map((u) => u.id).sort());
    assert.ok(plan.every((r) => r[at('Change')] === 'disable'), JSON.stringify(plan));
    assert.equal(await page.textContent('#lc-apply'), 'Apply 6 changes');

    // Apply asks first, naming who loses access; nothing is sent before the confirmation.
    await page.click('#lc-apply');
    await page.waitForSelector('#confirm[open]');
    assert.equal(await page.textContent('#confirm-what'), 'What will change: 6 disable, 6 changes from the Users grid.');
    assert.equal(await page.isHidden('#confirm-choice'), true, 'every row has its Action: no choice to repeat');
    assert.match(await page.textContent('#confirm-loses'), /^6 accounts will lose access: /);
    // A few of them by name (five, then "…and 1 more"), every one a Daniel selected.
    const named = await page.$$eval('#confirm-sample li', (lis) => lis.map((li) => li.textContent));
    assert.equal(named.length, 6, named.join(' | '));
    assert.equal(named[5], '…and 1 more');
    for (const line of named.slice(0, 5)) assert.ok(daniels.some((u) => line.includes(u.username)), line);
    assert.deepEqual(await seriousViolations(page), []);
    assert.ok((await sandboxUsers(server)).filter((u) => u.firstName === 'Daniel').every((u) => u.accountStatus === 'active'), 'nothing sent yet');
    await page.click('#confirm-ok');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    assert.equal(await page.textContent('#lc-summary'), 'Outcome: 6 done · 0 unchanged · 0 failed · 0 not sent.');
    const after = await sandboxUsers(server);
    for (const u of daniels) assert.equal(after.find((a) => a.id === u.id).accountStatus, 'disabled', u.username);
    assert.equal(after.filter((u) => u.accountStatus === 'disabled').length, users.filter((u) => u.accountStatus === 'disabled').length + 6, 'no one else');

    // Listed again, the grid shows them disabled (and nothing selected in the new listing).
    await openView(page, 'users');
    await page.click('#list-users');
    await page.waitForFunction(() => document.getElementById('users-table-count').textContent === '250 rows');
    assert.equal(await page.isHidden('#users-bulk'), true);
    await page.fill('#users-table-search', 'daniel');
    const status = (await page.$$eval('#users-table thead th', (ths) => ths.map((th) => th.textContent))).indexOf('Account status') - 1;
    const relisted = await shownRows(page);
    assert.equal(relisted.length, 6);
    assert.ok(relisted.every((r) => r[status] === 'disabled'), JSON.stringify(relisted));

    // The edit sheet, chosen as a file in the lifecycle view, plans as a lifecycle sheet: its
    // Action cells are blank, so the administrator's choice for them applies (re-enable).
    await openView(page, 'lifecycle');
    await page.setInputFiles('#lc-file', { name: 'users-edit-sheet.csv', mimeType: 'text/csv', buffer: editBytes });
    await page.selectOption('#lc-default', 'enable');
    await page.click('#lc-plan');
    await page.waitForFunction(() => /^6 rows from users-edit-sheet\.csv/.test(document.getElementById('lc-summary').textContent) || !document.getElementById('lc-error').hidden);
    assert.equal(await page.isHidden('#lc-error'), true, await page.textContent('#lc-error'));
    assert.match(await page.textContent('#lc-summary'), /^6 rows from users-edit-sheet\.csv \(.*\): 6 enable\. Rows without an Action: re-enable them\.$/);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('5,200 users (a virtual table): selecting all shown and building their lifecycle sheet takes under a second', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '5200']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    assert.equal(await page.textContent('#users-table-count'), '5,200 rows');
    const timing = await page.evaluate(async () => {
      const { gridOf } = await import('./grid.js');
      const { lifecycleSheet } = await import('./bulk.js');
      const grid = gridOf(/** @type {HTMLTableElement} */ (document.getElementById('users-table')));
      const t0 = performance.now();
      /** @type {HTMLInputElement} */ (document.getElementById('users-table-select-all')).click();
      const t1 = performance.now();
      const sheet = lifecycleSheet(/** @type {any} */ (grid.table()), grid.selectedRows(), 'disable');
      const t2 = performance.now();
      return { select: t1 - t0, build: t2 - t1, rows: sheet.rows.length, inDocument: grid.counts().inDocument };
    });
    console.log(`select all 5,200: ${timing.select.toFixed(1)} ms; lifecycle sheet of them: ${timing.build.toFixed(1)} ms`);
    assert.equal(timing.rows, 5200);
    assert.ok(timing.inDocument < 200, `virtual: ${timing.inDocument} rows in the document`);
    assert.ok(timing.select + timing.build < 1000, JSON.stringify(timing));
    assert.equal(await page.textContent('#users-table-selected'), '5,200 selected');

    // Disable hands all 5,200 to the lifecycle view; its plan (from the listing just read) is timed too.
    const t0 = Date.now();
    await page.click('#bulk-disable');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '' || !document.getElementById('lc-error').hidden, null, { timeout: 60_000 });
    console.log(`Disable to plan shown (5,200 rows, planned from the listing): ${Date.now() - t0} ms`);
    assert.equal(await page.isHidden('#lc-error'), true, await page.textContent('#lc-error'));
    assert.match(await page.textContent('#lc-summary'), /^5200 rows from the Users grid \(selected\): /);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('Set expiry asks for its date first, then plans the selected users (chosen with the keyboard) with it; Enable plans them too', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    const users = (await sandboxUsers(server)).filter((u) => u.firstName === 'Daniel').slice(0, 2);
    // Space on a row's box selects it, as on any checkbox.
    for (const u of users) {
      await page.getByRole('checkbox', { name: `Select ${u.username}`, exact: true }).focus();
      await page.keyboard.press('Space');
    }
    assert.equal(await page.textContent('#users-table-selected'), '2 selected');
    // A search that hides them: they stay selected, and the status says so.
    await page.fill('#users-table-search', 'avery.admin');
    assert.equal(await page.textContent('#users-table-selected'), '2 selected (2 not shown by the search or filters)');
    assert.equal(await page.getByRole('checkbox', { name: 'Select all 1 shown', exact: true }).isChecked(), false);

    await page.click('#bulk-expire');
    await page.waitForSelector('#error:not([hidden])');
    assert.equal(await page.textContent('#error'), 'Choose the expiry date first (beside Set expiry).');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'bulk-expiry');
    assert.equal(await page.isVisible('#view-users'), true, 'nothing planned');

    const next = new Date(Date.now() + 400 * 86400_000).toISOString().slice(0, 10);
    await page.fill('#bulk-expiry', next);
    await page.click('#bulk-expire');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '' || !document.getElementById('lc-error').hidden);
    assert.equal(await page.isHidden('#lc-error'), true, await page.textContent('#lc-error'));
    assert.match(await page.textContent('#lc-summary'), /^2 rows from the Users grid \(selected\): 2 set expiry\. Brand as listed at [^,]+, \d+ s ago\.$/);
    const plan = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.equal(plan.length, 2);
    for (const row of plan) assert.ok(row.includes(next), row);

    // Enable: both are active already, so nothing to apply.
    await openView(page, 'users');
    await page.click('#bulk-enable');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('2 rows from the Users grid (selected): 2 unchanged'));
    assert.equal(await page.isDisabled('#lc-apply'), true);

    // The edit sheet's cells go through the core's CSV writer: a cell that would be a formula
    // in a spreadsheet is written as text.
    const csv = await page.evaluate(async () => {
      const { editSheet } = await import('./bulk.js');
      const { tableToCsv } = await import('./pkg/qualtrics_roster_console.js');
      const users = { columns: ['User ID', 'Username', 'Last name'], rows: [['UR_0123456789ab', 'a@example.edu', '=HYPERLINK("http://evil.example")']] };
      return tableToCsv(editSheet(users, [0], [2]));
    });
    const lines = parseCsv(csv);
    assert.deepEqual(lines[0], ['User ID', 'Last name', 'Action'], 'the User ID kept when it and Username are hidden');
    assert.equal(lines[1][1], '\'=HYPERLINK("http://evil.example")');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});
