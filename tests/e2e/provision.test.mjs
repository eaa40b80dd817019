// Provisioning in the page, end to end against the sandbox through the relay.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage, applyConfirmed } from './harness.mjs';
import { provisionSheet, sandboxParticipants, standardUserType, assertProvisioned } from './provision-sheet.mjs';

let server;
let browser;
before(async () => {
  server = await startServer(['--relay-upstream', 'sandbox', '--rate-limit-scale', '4']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const toCsv = (rows) => rows.map((r) => r.map((c) => (/[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : c)).join(',')).join('\n');

async function connect(page) {
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
}

async function planFile(page, name, rows) {
  await page.setInputFiles('#pv-file', { name, mimeType: 'text/csv', buffer: Buffer.from(toCsv(rows)) });
  await page.click('#pv-plan');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent !== '' || !document.getElementById('pv-error').hidden);
  return page.textContent('#pv-summary');
}

test('200 rows with 12 invalid: the 12 are marked and not sent, the rest are created with their attributes, and a second run plans nothing', async () => {
  const { rows, valid, invalidRows } = provisionSheet(await standardUserType(server), 'pg');
  const page = await openPage(browser, server.url + '/#provision');
  await connect(page);
  assert.equal(await planFile(page, 'new-staff.csv', rows), '200 rows from new-staff.csv (comma-separated, header on line 1): 188 create user · 188 set attributes · 12 invalid.');
  // The plan shows the person first and what each account is created with, each attribute a column
  // (the page heads the sheet's Plan column "Change", as every plan).
  assert.deepEqual(await page.$$eval('#pv-table thead th', (ths) => ths.map((th) => th.textContent.trim())),
    ['Row', 'Name', 'Email', 'Username', 'Change', 'User type', 'Language', 'Role', 'Hotel', 'Unique identifier', 'Changes', 'Problems']);
  assert.deepEqual(await page.$$eval('#pv-table tbody tr[data-row="3"] td', (tds) => tds.map((td) => td.textContent)),
    ['3', '伟 王', 'pg1@roster-test.org', 'pg1@roster-test.org', 'create user + set attributes', rows[2][4], '', 'Manager', 'Boston', '', 'timeZone: Europe/Berlin', '']);
  assert.ok(!(await page.textContent('#pv-table')).includes('-secret'), 'no password in the plan');
  const problems = await page.locator('#pv-problems li').allTextContents();
  for (const expected of [
    // Rows 190 and 191 say the same of different values: one line with their count.
    /^Email: "…" is not an e-mail address.* \(2 rows\)$/,
    /^Row 192, Username: contains !, which Qualtrics does not allow/,
    /^Row 194, Password: empty, but needed to create the account\./,
    /^Row 196, Username: "pgtwice@roster-test.org" is also on row 197: nothing is sent for this account until one of the rows is removed\./,
    /^Row 197, Username: "pgTWICE@roster-test.org" is also on row 196: each username once per sheet\./,
    /^Row 198, Time zone: "Mars\/Base" is not a time zone/,
    /^Row 199, Expiration date: "31\/12\/2027" is not a date: write it as YYYY-MM-DD\./,
    /^Row 200, Hotel: has an empty part in its :: list/,
    /^Row 201, User type: "Wizard" is not a user type id/,
  ]) {
    assert.ok(problems.some((p) => expected.test(p)), `${expected} in ${problems.join(' | ')}`);
  }
  for (const row of invalidRows) {
    assert.equal(await page.locator(`#pv-table tbody tr[data-row="${row}"]`).getAttribute('class'), 'row-failed', `row ${row} marked`);
  }
  assert.equal(await page.textContent('#pv-apply'), 'Apply 188 changes');
  await applyConfirmed(page, 'pv-');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent.startsWith('Outcome:'), null, { timeout: 120_000 });
  assert.equal(await page.textContent('#pv-summary'), 'Outcome: 188 done · 0 unchanged · 12 failed · 0 not sent.');

  // The sandbox holds every account with its attributes, :: lists included; none of the 12.
  const participants = await sandboxParticipants(server);
  assertProvisioned(assert, valid, participants);
  for (const r of invalidRows.map((n) => rows[n - 1])) {
    if (!r[0].startsWith('pg0@') && !r[0].startsWith('pg1@')) assert.ok(!participants.some((p) => p.username === r[0]), `${r[0]} was not sent`);
  }

  // The outcome CSV: the input, the outcome columns, and never the passwords.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#pv-download-outcomes')]);
  const csv = await readFile(await download.path(), 'utf8');
  assert.ok(!csv.includes('-secret'), 'no password in the outcome file');
  assert.match(csv.split('\n')[0], /Status,Message,User ID,Unique identifier,Applied at/);
  const [audit] = await Promise.all([page.waitForEvent('download'), page.click('#pv-download-audit')]);
  const auditText = await readFile(await audit.path(), 'utf8');
  assert.ok(!auditText.includes('-secret') && !auditText.includes(server.adminToken), 'no password or token in the audit log');
  assert.equal(auditText.trim().split('\n').filter((l) => JSON.parse(l).method === 'POST' && JSON.parse(l).path === '/relay/iad1/API/v3/users').length, 188);

  // Applying the same sheet again plans nothing.
  assert.equal(await planFile(page, 'new-staff.csv', rows), '200 rows from new-staff.csv (comma-separated, header on line 1): 188 unchanged · 12 invalid.');
  assert.equal(await page.isDisabled('#pv-apply'), true);
  assert.deepEqual(page.problems, []);
});

test('a blank attribute cell keeps the value and <clear> removes it', async () => {
  const type = await standardUserType(server);
  const page = await openPage(browser, server.url + '/#provision');
  await connect(page);
  const first = [
    ['Username', 'First name', 'Last name', 'Email', 'User type', 'Password', 'Role', 'Hotel'],
    ['keep@roster-test.org', 'Kim', 'Eep', 'keep@roster-test.org', type, 'pw-1', 'Manager', 'Seattle::Provo'],
  ];
  await planFile(page, 'one.csv', first);
  await applyConfirmed(page, 'pv-');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
  const second = [['Username', 'Role', 'Hotel'], ['keep@roster-test.org', '', '<clear>']];
  assert.equal(await planFile(page, 'two.csv', second), '1 row from two.csv (comma-separated, header on line 1): 1 set attributes.');
  assert.match(await page.textContent('#pv-table'), /Hotel: Seattle::Provo -> \(cleared\)/);
  await applyConfirmed(page, 'pv-');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
  const p = (await sandboxParticipants(server)).find((x) => x.username === 'keep@roster-test.org');
  assert.equal(p.metadata.Role, 'Manager', 'blank kept the role');
  assert.equal(p.metadata.Hotel, undefined, '<clear> removed the hotel');
  assert.deepEqual(page.problems, []);
});

test('a column naming an attribute no one in the brand has is created only once ticked', async () => {
  const type = await standardUserType(server);
  const page = await openPage(browser, server.url + '/#provision');
  await connect(page);
  const rows = [
    ['Username', 'First name', 'Last name', 'Email', 'User type', 'Password', 'Cost centre'],
    ['ticked@roster-test.org', 'Tic', 'Ked', 'ticked@roster-test.org', type, 'pw-1', 'CC-42'],
  ];
  await planFile(page, 'cost-centres.csv', rows);
  const box = page.getByTestId('pv-new-attributes');
  await box.waitFor();
  const tick = box.getByRole('checkbox', { name: /Create the attribute "Cost centre"/ });
  assert.equal(await tick.isChecked(), false, 'nothing new is preselected');
  assert.equal(await page.isDisabled('#pv-apply'), true, 'Apply stays off while a new attribute is not ticked');
  assert.match(await box.textContent(), /Apply stays off until each new attribute is ticked/);
  // Ticking plans again, with the attribute allowed.
  await tick.check();
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid=pv-new-attributes] input[type=checkbox]');
    return t instanceof HTMLInputElement && t.checked && !(/** @type {HTMLButtonElement} */ (document.getElementById('pv-apply'))).disabled;
  });
  assert.match(await page.locator('#pv-problems').textContent(), /it will be created, as you allowed/);
  await applyConfirmed(page, 'pv-');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
  const p = (await sandboxParticipants(server)).find((x) => x.username === 'ticked@roster-test.org');
  assert.equal(p?.metadata['Cost centre'], 'CC-42');
  assert.deepEqual(page.problems, []);
});
