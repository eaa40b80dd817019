// The Excel task pane end to end: the real pane page in headless Chromium, with Office.js
// replaced by an in-page workbook double built on office-addin-mock, against the sandbox
// through the relay. Reads the selected table, writes the Users and Plan sheets, applies,
// and writes the outcome columns beside the rows. The token never reaches the workbook.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openView, applyConfirmed } from './harness.mjs';
import { openPane as openPaneOn } from './office-double.mjs';

let server;
let browser;
before(async () => {
  server = await startServer(['--relay-upstream', 'sandbox', '--users', '300']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const openPane = (setup, view = 'lifecycle') => openPaneOn(browser, server, setup, { view });

async function sandboxUsers() {
  const users = [];
  let url = `${server.url}/sandbox/API/v3/users`;
  while (url) {
    const body = await (await fetch(url, { headers: { 'x-api-token': server.adminToken } })).json();
    users.push(...body.result.elements);
    url = body.result.nextPage;
  }
  return users;
}

test('the task pane lists users into a sheet and runs the lifecycle flow on the selected table', async () => {
  const users = (await sandboxUsers()).slice(1, 41);
  const rows = [['Username', 'Action', 'Note']];
  users.forEach((u, i) => rows.push([u.username, i % 2 ? 'disable' : 'enable', `note ${i}`]));
  rows.push(['ghost@nowhere.example', 'disable', 'unknown']);
  const page = await openPane({
    sheets: [{ name: 'Leavers', rows }],
    tables: [{ sheet: 'Leavers', address: `A1:C${rows.length}`, name: 'LeaversTable' }],
    select: { sheet: 'Leavers', address: 'B5' },
  });

  // Connect through the relay with a remembered token.
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.check('#remember');
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));

  // Users -> a "Users" sheet holding an Excel table, written as soon as it is connected.
  await openView(page, 'users');
  await page.waitForFunction(() => /written to the "Users" sheet/.test(document.getElementById('summary').textContent));
  const usersSheet = await page.evaluate(() => window.__workbook.values('Users'));
  assert.equal(usersSheet.length, 301);
  assert.equal(usersSheet[0][0], 'User ID');
  assert.deepEqual(await page.evaluate(() => window.__workbook.tables.map((t) => t.name)), ['LeaversTable', 'RosterUsers']);

  // The lifecycle flow on the selected table: plan -> Plan sheet, apply -> outcome columns.
  await openView(page, 'lifecycle');
  await page.evaluate(() => window.__workbook.select('Leavers', 'B5'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  const summary = await page.textContent('#lc-summary');
  assert.match(summary, /^41 rows from Leavers!A1:C42: .*1 not found\. Rows without an Action: no action chosen, so they are refused\.$/);
  assert.match(await page.textContent('#lc-problems'), /Row 42: no user with username "ghost@nowhere\.example"/);
  const plan = await page.evaluate(() => window.__workbook.values('Plan'));
  assert.deepEqual(plan[0], ['Row', 'Name', 'User ID', 'Username', 'Plan', 'Current', 'New', 'Message']);
  assert.equal(plan.length, 42);
  assert.match(plan[1][1], /^\S+ \S+/, 'the person beside the ids');
  assert.equal(await page.evaluate(() => window.__workbook.active), 'Leavers', 'the plan sheet does not steal the selection');

  const changes = Number((await page.textContent('#lc-apply')).match(/Apply (\d+) change/)[1]);
  await applyConfirmed(page, 'lc-');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
  const sheet = await page.evaluate(() => window.__workbook.values('Leavers'));
  assert.deepEqual(sheet[0], ['Username', 'Action', 'Note', 'Status', 'Message', 'User ID', 'Applied at']);
  for (let i = 1; i <= 40; i++) {
    assert.ok(['done', 'unchanged'].includes(sheet[i][3]), `row ${i + 1}: ${sheet[i][3]} ${sheet[i][4]}`);
    assert.equal(sheet[i][5], users[i - 1].id);
  }
  assert.equal(sheet.slice(1).filter((r) => r[3] === 'done').length, changes);
  assert.equal(sheet[41][3], 'failed');
  assert.match(sheet[41][4], /^not sent: Row 42: no user with username/);
  assert.equal(await page.evaluate(() => window.__workbook.cell('Leavers', 41, 3).fill), '#FDE7E9');
  assert.equal(await page.evaluate(() => window.__workbook.cell('Leavers', 1, 4).format), '@');
  const after = await sandboxUsers();
  users.forEach((u, i) => assert.equal(after.find((a) => a.id === u.id).accountStatus, i % 2 ? 'disabled' : 'active'));

  // Undo and audit sheets.
  await page.click('#lc-download-before');
  await page.click('#lc-download-audit');
  await page.waitForFunction(() => window.__workbook.sheets.has('Audit'));
  const audit = await page.evaluate(() => window.__workbook.values('Audit'));
  assert.deepEqual(audit[0], ['Time', 'Method', 'Path', 'Status', 'Error', 'Duration (ms)', 'Row', 'Attempt']);
  assert.equal(audit.filter((r) => r[1] === 'PUT').length, changes);

  // The token is nowhere in the workbook, its settings or the audit; "remember" used Office's storage.
  const everything = await page.evaluate(() => JSON.stringify({
    sheets: [...window.__workbook.sheets.keys()].map((n) => window.__workbook.values(n)),
    settings: [...Office.context.document.settings.all.entries()],
  }));
  assert.ok(!everything.includes(server.adminToken), 'the token is not in the workbook');
  // (Office's storage also keeps the division names Qualtrics gave: issue 29.2.)
  const remembered = (await page.evaluate(() => [...OfficeRuntime.storage.all.values()])).find((v) => v.includes(server.adminToken)) ?? '';
  assert.ok(remembered.includes(server.adminToken), 'remembered in OfficeRuntime.storage, as asked');
  // For 8 hours: the stored connection carries when it is to be forgotten.
  const stamp = JSON.parse(remembered).expiresAt;
  assert.ok(Math.abs(stamp - (Date.now() + 8 * 3600_000)) < 10 * 60_000, `expires in 8 hours: ${new Date(stamp).toISOString()}`);
  assert.match(await page.textContent('label:has(#remember)'), /^ ?Remember on this device for 8 hours \(Office's storage for this add-in\), then forget it$/);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => localStorage.getItem(k).includes('token')).length), 0, 'nothing in the pane\'s localStorage');
  // Unticking "Remember" forgets it at once, before any other click (a connection that then
  // fails must not leave it stored). Connected, the box is in the form behind Switch brand.
  await page.click('#switch-brand');
  await page.uncheck('#remember');
  // (What stays is the division names Qualtrics gave, which hold no credential.)
  await page.waitForFunction((token) => ![...OfficeRuntime.storage.all.values()].some((v) => v.includes(token)), server.adminToken);
  assert.deepEqual(await page.evaluate(() => [...OfficeRuntime.storage.all.keys()]).then((keys) => keys.filter((k) => k !== 'qualtrics-roster:names:qualtrics')), [], 'nothing else kept');
  assert.deepEqual(page.problems, []);
});

test('pane messages for a selection without a table, merged cells and a protected sheet', async () => {
  const page = await openPane({
    sheets: [
      { name: 'Blank', rows: [] },
      { name: 'Merged', rows: [['User ID', 'Action'], ['UR_AAAAAAAAAAAAAAA', 'disable']], options: { merged: ['A2:B2'] } },
      { name: 'NoHeader', rows: [['UR_AAAAAAAAAAAAAAA', 'disable'], ['UR_BBBBBBBBBBBBBBB', 'disable']] },
      { name: 'Locked', rows: [['User ID', 'Action'], ['UR_AAAAAAAAAAAAAAA', 'disable']], options: { protectedSheet: true } },
    ],
    select: { sheet: 'Blank', address: 'D4' },
  });
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  const planMessage = async () => {
    await page.click('#lc-plan');
    await page.waitForSelector('#lc-error:not([hidden])');
    return page.textContent('#lc-error');
  };
  assert.match(await planMessage(), /^Select a cell inside your table of users/);
  await page.evaluate(() => window.__workbook.select('Merged', 'A1'));
  assert.match(await planMessage(), /merged cells \(Merged!A2:B2\): unmerge them/);
  await page.evaluate(() => window.__workbook.select('NoHeader', 'A1'));
  assert.match(await planMessage(), /^The first row holds "UR_AAAAAAAAAAAAAAA", which looks like data, not a column name/);
  await page.evaluate(() => window.__workbook.select('Locked', 'A1'));
  assert.match(await planMessage(), /^The sheet "Locked" is protected, so the outcomes could not be written beside your rows: unprotect it/);
  assert.equal(await page.isDisabled('#lc-apply'), true, 'nothing to apply');
  assert.deepEqual(page.problems, []);
});

test('provisioning in the task pane: 200 rows, 12 invalid marked and not sent, the rest created with attributes beside their rows', async () => {
  const { provisionSheet, sandboxParticipants, standardUserType, assertProvisioned } = await import('./provision-sheet.mjs');
  const { rows, valid, invalidRows } = provisionSheet(await standardUserType(server), 'xl');
  const page = await openPane({
    sheets: [{ name: 'New staff', rows }],
    tables: [{ sheet: 'New staff', address: `A1:J${rows.length}`, name: 'NewStaff' }],
    select: { sheet: 'New staff', address: 'C10' },
  }, 'provision');
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await page.click('#pv-plan');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent !== '' || !document.getElementById('pv-error').hidden);
  assert.equal(await page.textContent('#pv-summary'), "200 rows from New staff!A1:J201: 188 create user · 188 set attributes · 12 invalid.");
  const plan = await page.evaluate(() => window.__workbook.values('Plan'));
  assert.deepEqual(plan[0], ['Row', 'Name', 'Email', 'Username', 'Plan', 'User type', 'Language', 'Role', 'Hotel', 'Unique identifier', 'Changes', 'Problems']);
  // What each account is created with, its attributes a column each (row 3 is the sheet's second
  // person: a time zone, no Hotel).
  const userType = rows[1][4];
  assert.deepEqual(plan[1].slice(1), ['José Núñez', 'xl0@roster-test.org', 'xl0@roster-test.org', 'create user + set attributes', userType, '', 'Agent', 'Seattle::Provo', '', '', '']);
  assert.deepEqual(plan[2].slice(1), ['伟 王', 'xl1@roster-test.org', 'xl1@roster-test.org', 'create user + set attributes', userType, '', 'Manager', 'Boston', '', 'timeZone: Europe/Berlin', '']);
  assert.ok(!JSON.stringify(plan).includes('-secret'), 'no password in the Plan sheet');
  await applyConfirmed(page, 'pv-');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent.startsWith('Outcome:'), null, { timeout: 120_000 });
  assert.match(await page.textContent('#pv-summary'), /^Outcome: 188 done · 0 unchanged · 12 failed · 0 not sent\. Written beside your rows in "New staff"\.$/);
  const sheet = await page.evaluate(() => window.__workbook.values('New staff'));
  assert.deepEqual(sheet[0].slice(10), ['Status', 'Message', 'User ID', 'Unique identifier', 'Applied at']);
  for (let r = 1; r <= 188; r++) {
    assert.equal(sheet[r][10], 'done', `row ${r + 1}: ${sheet[r][11]}`);
    assert.match(sheet[r][12], /^UR_/);
    assert.ok(sheet[r][13].length > 0, 'the uniqueIdentifier Qualtrics chose is written beside the row');
  }
  for (const n of invalidRows) assert.equal(sheet[n - 1][10], 'failed', `row ${n}`);
  assert.equal(await page.evaluate(() => window.__workbook.cell('New staff', 189, 10).fill), '#FDE7E9');
  assertProvisioned(assert, valid, await sandboxParticipants(server));
  assert.deepEqual(page.problems, []);
});

test('the task pane reads the Roles sheet, writes the Membership sheets and chart, and applies a desired-membership table beside its rows', async () => {
  const users = (await sandboxUsers()).slice(5, 9);
  const state = await (await fetch(`${server.url}/sandbox/control/state`, { headers: { 'x-api-token': server.adminToken } })).json();
  const frontDesk = state.groups.find((g) => g.name === 'Front Desk');
  const desired = [['User', 'Group or role', 'Member'],
    ...users.map((u) => [u.username, 'Front Desk', frontDesk.members.includes(u.id) ? 'no' : 'yes']),
    ['ghost@nowhere.example', 'Front Desk', 'yes']];
  const page = await openPane({
    sheets: [
      { name: 'Roles', rows: [['Role', 'Attribute', 'Operator', 'Value'], ['Seattle Team', 'Hotel', 'In', 'Seattle'], ['Odd', 'Hotel', 'Like', 'x']] },
      { name: 'Asks', rows: desired },
    ],
    select: { sheet: 'Asks', address: 'A2' },
  }, 'membership');
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));

  await page.click('#mp-pull');
  await page.waitForFunction(() => document.getElementById('mp-summary').textContent !== '' || !document.getElementById('mp-error').hidden, null, { timeout: 60_000 });
  const brandUsers = (await sandboxUsers()).length; // 300, plus any the provisioning test made
  assert.match(await page.textContent('#mp-summary'), new RegExp(`^${brandUsers} users, \\d+ memberships \\(12 groups, 1 role\\)`));
  assert.match(await page.textContent('#mp-notes'), /Row 3, Operator: "Like" is not an operator/);
  const long = await page.evaluate(() => window.__workbook.values('Membership'));
  assert.deepEqual(long[0], ['User', 'Username', 'Email', 'Group or role', 'Kind', 'Account status', 'User ID']);
  const groupRows = long.slice(1).filter((r) => r[4] === 'group').length;
  assert.equal(groupRows, state.groups.reduce((n, g) => n + g.members.length, 0));
  const matrix = await page.evaluate(() => window.__workbook.values('Membership matrix'));
  assert.equal(matrix.length, brandUsers + 1);
  assert.equal(await page.locator('#mp-chart rect').count(), 13);

  await page.evaluate(() => window.__workbook.select('Asks', 'A2'));
  await page.click('#mtab-changes');
  await page.click('#mb-plan');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent !== '', null, { timeout: 60_000 });
  await applyConfirmed(page, 'mb-');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
  assert.equal(await page.textContent('#mb-summary'), 'Outcome: 4 done · 0 unchanged · 1 failed · 0 not sent. Written beside your rows in "Asks".');
  const asks = await page.evaluate(() => window.__workbook.values('Asks'));
  assert.deepEqual(asks[0].slice(3), ['Status', 'Message', 'Applied at']);
  assert.match(asks[1][4], /^(added to|removed from) group Front Desk$/);
  assert.match(asks[5][4], /^not sent: Row 6, User: "ghost@nowhere\.example" is not a user of this brand/);
  assert.deepEqual(page.problems, []);
});
