// The lifecycle flow in the page, end to end against the sandbox through the relay:
// load a CSV, see the plan, apply with progress, outcomes in the table and in the CSV,
// cancel and resume.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage, sandboxUsers, connectViaRelay, applyConfirmed, parseCsv } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

test('300 usernames with 5 unknown and 3 duplicates: plan, apply, outcomes in the page and the CSV', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '400']);
  try {
    const users = (await sandboxUsers(server)).slice(1, 293);
    const lines = ['Username'];
    users.forEach((u) => lines.push(u.username));
    for (let i = 1; i <= 5; i++) lines.push(`nobody${i}@nowhere.example`);
    lines.push(users[0].username.toUpperCase(), users[1].username, users[2].username);
    assert.equal(lines.length, 301);
    const activeCount = users.filter((u) => u.accountStatus === 'active').length;

    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    await page.setInputFiles('#lc-file', { name: 'leavers.csv', mimeType: 'text/csv', buffer: Buffer.from(lines.join('\r\n')) });
    // The file has no Action column: the administrator chooses what rows without one get.
    await page.selectOption('#lc-default', 'disable');
    await page.click('#lc-plan');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
    const expected = [`${activeCount} disable`, `${292 - activeCount} unchanged`, '3 duplicate', '5 not found']
      .filter((s) => !s.startsWith('0 '));
    assert.equal(await page.textContent('#lc-summary'), `300 rows from leavers.csv (comma-separated, header on line 1): ${expected.join(' · ')}. Rows without an Action: disable them.`);
    assert.equal(await page.textContent('#lc-apply'), `Apply ${activeCount} changes`);
    // One stacked bar of what will change, a part per kind of change, named for screen readers.
    assert.equal(await page.getAttribute('#lc-stack', 'aria-label'), `What the plan will do: ${expected.join(', ')}`);
    assert.equal(await page.locator('#lc-stack span').count(), expected.length);
    const unknownRow = page.locator('#lc-table tbody tr[data-row="294"]');
    // (the plan table: Row, User ID, Username, Plan, Current, New, Message)
    assert.match(await unknownRow.textContent(), /not foundRow 294: no user with username "nobody1@nowhere\.example" in this brand/);
    assert.equal(await unknownRow.getAttribute('class'), 'row-failed');

    // Hundreds of accounts lose access: past the mass-change brake, their number is typed.
    await applyConfirmed(page, 'lc-', { count: activeCount });
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    assert.equal(
      await page.textContent('#lc-summary'),
      `Outcome: ${activeCount + 3} done · ${292 - activeCount} unchanged · 5 failed · 0 not sent.`,
    );
    const after = await sandboxUsers(server);
    for (const u of users) {
      assert.equal(after.find((a) => a.id === u.id).accountStatus, 'disabled', u.username);
    }

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lc-download-outcomes')]);
    const csv = parseCsv(await readFile(await download.path(), 'utf8'));
    assert.deepEqual(csv[0], ['Username', 'Status', 'Message', 'User ID', 'Applied at']);
    assert.equal(csv.length, 301);
    // The plan stays after Apply, each row's outcome beside its change (issue 29.4): the
    // plan's columns, with Status, Outcome and Applied at after the change.
    const heads = await page.$$eval('#lc-table thead th', (ths) => ths.map((th) => th.textContent));
    assert.deepEqual(heads, ['Row', 'Name', 'User ID', 'Username', 'Change', 'Status', 'Outcome', 'Applied at', 'Current', 'New', 'Message']);
    // A cell shown otherwise (a time in the browser's zone, a name beside an id) keeps its value in data-value.
    const shown = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.dataset.value ?? td.textContent)));
    assert.equal(shown.length, 300);
    for (let i = 0; i < 300; i++) {
      assert.equal(csv[i + 1][0], lines[i + 1]);
      assert.equal(shown[i][0], String(i + 2), 'the plan\'s rows, in the sheet\'s order');
      // The outcome the page shows beside the plan is the one the CSV holds.
      assert.deepEqual([shown[i][5], shown[i][6], shown[i][7]], [csv[i + 1][1], csv[i + 1][2], csv[i + 1][4]], `row ${i + 2}: the CSV holds the outcome the page shows`);
    }
    assert.match(csv[293][2], /^not sent: Row 294: no user with username/);
    assert.equal(csv[298][1], 'done');
    assert.match(csv[298][2], /^same as row 2: /);

    const [audit] = await Promise.all([page.waitForEvent('download'), page.click('#lc-download-audit')]);
    const auditText = await readFile(await audit.path(), 'utf8');
    const entries = auditText.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(entries.filter((e) => e.method === 'PUT' && e.status === 200).length, activeCount);
    assert.ok(!auditText.includes(server.adminToken), 'no token in the audit log');

    // Undo: the "Before" file is a lifecycle sheet; applying it puts every account back.
    const [beforeFile] = await Promise.all([page.waitForEvent('download'), page.click('#lc-download-before')]);
    const beforeCsv = await readFile(await beforeFile.path());
    assert.equal(parseCsv(beforeCsv.toString('utf8')).length, activeCount + 1, 'one row per changed account');
    await page.setInputFiles('#lc-file', { name: 'before-undo.csv', mimeType: 'text/csv', buffer: beforeCsv });
    assert.equal(await page.inputValue('#lc-default'), '', 'a new file: the action for rows without one is chosen again');
    await page.click('#lc-plan');
    await page.waitForFunction(() => /^\d+ rows from before-undo\.csv/.test(document.getElementById('lc-summary').textContent));
    assert.equal(await page.textContent('#lc-apply'), `Apply ${activeCount} changes`);
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    const restored = await sandboxUsers(server);
    for (const u of users) {
      assert.equal(restored.find((a) => a.id === u.id).accountStatus, u.accountStatus, `${u.username} restored`);
    }
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('cancel stops sending, and planning again resumes without repeating finished rows', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '400', '--latency-ms', '150']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 200);
    const text = ['User ID,Action', ...users.map((u) => `${u.id},disable`)].join('\n');
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    await page.fill('#lc-paste', text);
    await page.click('#lc-plan');
    await page.waitForFunction(() => document.getElementById('lc-apply').textContent === 'Apply 200 changes');
    await applyConfirmed(page, 'lc-', { count: 200 });
    await page.waitForFunction(() => Number(document.getElementById('lc-progress').value) >= 30);
    await page.click('#lc-cancel');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    const summary = await page.textContent('#lc-summary');
    const [, done, skipped] = summary.match(/Outcome: (\d+) done .* (\d+) not sent\./).map(Number);
    assert.ok(done >= 30 && skipped > 0 && done + skipped >= 190, summary);

    // Plan the same sheet again: finished rows are unchanged, the rest are planned.
    await page.click('#lc-plan');
    await page.waitForFunction(() => /unchanged/.test(document.getElementById('lc-summary').textContent));
    const replanned = await page.textContent('#lc-summary');
    const unchanged = Number(replanned.match(/(\d+) unchanged/)[1]);
    assert.ok(unchanged >= done, replanned);
    assert.match(await page.textContent('#lc-note'), /An earlier run of this sheet was interrupted/);
    await applyConfirmed(page, 'lc-', { count: 200 - unchanged });
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    assert.equal(await page.textContent('#lc-summary'), `Outcome: ${200 - unchanged} done · ${unchanged} unchanged · 0 failed · 0 not sent.`);

    const stats = await (await fetch(`${server.url}/sandbox/control/stats`, { headers: { 'x-api-token': server.adminToken } })).json();
    assert.equal(Object.keys(stats.changesPerUser).length, 200);
    assert.ok(Object.values(stats.changesPerUser).every((n) => n === 1), 'no account changed twice');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('a file with no id column, an empty file and bad rows each get a clear message', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    const planWith = async (text) => {
      await page.fill('#lc-paste', text);
      await page.click('#lc-plan');
      await page.waitForFunction(() => !document.getElementById('lc-error').hidden || document.getElementById('lc-summary').textContent !== '');
    };
    // No column names the accounts: the mapping step asks for one (issue 29.7), Plan off until then.
    await page.fill('#lc-paste', 'Email,Name\na@b.c,A\n');
    await page.click('#lc-plan');
    await page.waitForSelector('#lc-mapping:not([hidden])');
    assert.equal(await page.textContent('#lc-mapping-reason'), 'Plan stays off until a column is mapped to User ID or Username (required).');
    assert.equal(await page.isDisabled('#lc-map-plan'), true);
    assert.equal(await page.textContent('#lc-summary'), '', 'nothing planned');
    await planWith('   \n\n');
    assert.equal(await page.textContent('#lc-error'), 'Choose a CSV or Excel file, or paste the rows (with their header row) first.');
    await page.setInputFiles('#lc-file', { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.alloc(0) });
    await page.click('#lc-plan');
    await page.waitForSelector('#lc-error:not([hidden])');
    assert.equal(await page.textContent('#lc-error'), 'The file is empty (0 bytes): export it again from where it came from, or choose another file.');
    await page.setInputFiles('#lc-file', []);
    await planWith('User ID,Action,Expiration date\nUR_123,disable,\n,frobnicate,\n');
    assert.match(await page.textContent('#lc-summary'), /2 invalid/);
    assert.match(await page.textContent('#lc-table'), /Row 2, User ID: "UR_123" is not a Qualtrics user id/);
    assert.equal(await page.isDisabled('#lc-apply'), true, 'nothing to apply');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('a plan is forgotten as soon as its input changes: another file, edited rows, another option', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 3);
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    const planned = async () => {
      await page.click('#lc-plan');
      await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
      assert.equal(await page.isEnabled('#lc-apply'), true);
      assert.ok(await page.locator('#lc-table tbody tr').count() > 0);
    };
    const forgotten = async (what) => {
      assert.equal(await page.isEnabled('#lc-apply'), false, `${what}: Apply is off`);
      assert.equal(await page.textContent('#lc-summary'), '', `${what}: no summary`);
      assert.equal(await page.locator('#lc-table tbody tr').count(), 0, `${what}: no plan table`);
    };
    // File A planned, then file B chosen without pressing Plan: A's plan cannot be applied.
    const file = (name, rows) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(['Username,Action', ...rows].join('\n')) });
    await page.setInputFiles('#lc-file', file('a.csv', [`${users[0].username},disable`]));
    await planned();
    await page.setInputFiles('#lc-file', file('b.csv', [`${users[1].username},disable`]));
    await forgotten('another file');
    // Pasted rows edited, and an option changed.
    await page.setInputFiles('#lc-file', []);
    await page.fill('#lc-paste', `Username,Action\n${users[2].username},disable`);
    await planned();
    await page.fill('#lc-paste', `Username,Action\n${users[2].username},disable\n${users[0].username},disable`);
    await forgotten('edited rows');
    await planned();
    await page.selectOption('#lc-default', 'enable');
    await forgotten('another option');
    // A file that cannot be read leaves no older plan on screen under its message.
    await planned();
    await page.fill('#lc-paste', '');
    await page.setInputFiles('#lc-file', { name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.from('') });
    await page.click('#lc-plan');
    await page.waitForFunction(() => !document.getElementById('lc-error').hidden);
    await forgotten('an unreadable file');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('a sheet that skips rows: each outcome stands beside its own plan row, failed rows still marked', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const [a, b] = (await sandboxUsers(server)).filter((u) => u.accountStatus === 'active').slice(1, 3);
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    // Blank lines: the rows are 2, 5 and 7, not 2, 3 and 4.
    await page.setInputFiles('#lc-file', { name: 'gaps.csv', mimeType: 'text/csv', buffer: Buffer.from(['Username,Action', `${a.username},disable`, ',', '', 'ghost@nowhere.example,disable', '', `${b.username},disable`].join('\r\n')) });
    await page.click('#lc-plan');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
    const planned = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => tr.dataset.row));
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    const heads = await page.$$eval('#lc-table thead th', (ths) => ths.map((th) => th.textContent));
    const [status, outcome, user] = ['Status', 'Outcome', 'Username'].map((h) => heads.indexOf(h));
    const rows = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => ({ row: tr.dataset.row, failed: tr.classList.contains('row-failed'), cells: [...tr.cells].map((td) => td.textContent) })));
    assert.deepEqual(rows.map((r) => r.row), planned, 'the plan\'s rows, with their own row numbers');
    const byUser = new Map(rows.map((r) => [r.cells[user], r]));
    for (const u of [a, b]) {
      assert.equal(byUser.get(u.username)?.cells[status], 'done', u.username);
      assert.equal(byUser.get(u.username)?.cells[outcome], 'disabled', u.username);
    }
    const ghost = rows.find((r) => /ghost@nowhere\.example/.test(r.cells.join(' ')));
    assert.ok(ghost?.failed, 'the unknown user\'s row is still marked');
    assert.match(ghost?.cells[outcome] ?? '', new RegExp(`Row ${ghost?.row}: no user`));
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});
