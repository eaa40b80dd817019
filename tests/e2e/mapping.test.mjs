// The mapping step (issue 29, point 7): a file whose headers the core does not recognise
// ("Login, Mail, Status change") is mapped first — a select per field, a preview of the first
// rows under the mapped names — then planned with its columns renamed; the mapping is
// remembered on this device for that set of headers and offered pre-filled next time. The
// careless cases: two fields on one column, a required field left unmapped; a file whose
// headers are all recognised gets no mapping step. In the page and in the pane.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, seriousViolations } from './harness.mjs';
import { openPane as openPaneOn } from './office-double.mjs';
import { standardUserType } from './provision-sheet.mjs';

let server;
let browser;
before(async () => {
  server = await startServer(['--relay-upstream', 'sandbox', '--users', '60']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

/** The field -> column each select of the mapping step shows. */
const chosen = (page, prefix) => page.$$eval(`#${prefix}mapping-fields select`, (ss) => Object.fromEntries(ss.map((s) => [s.dataset.field, s.value])));
/** The select of `field`, found by its label as a person finds it. */
const selectOf = (page, field) => page.getByLabel(new RegExp(`^${field} \\(`));
/** The preview table: its header and rows. */
const preview = (page, prefix) => page.$eval(`#${prefix}mapping-preview`, (t) => [...t.rows].map((r) => [...r.cells].map((c) => c.textContent)));

test('the page: unrecognised headers are mapped (with a preview), planned right, remembered for those headers after a reload', async () => {
  const users = (await sandboxUsers(server)).filter((u) => u.userType !== 'UT_BRANDADMIN');
  const active = users.filter((u) => u.accountStatus === 'active').slice(0, 3);
  const csv = ['Login,Mail,Status change', ...active.map((u, i) => `${u.username},${u.email},${i < 2 ? 'disable' : 'enable'}`)].join('\n');
  const file = { name: 'hr-export.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) };

  const page = await openPage(browser, server.url + '/#lifecycle');
  await connectViaRelay(page, server);
  await page.setInputFiles('#lc-file', file);
  await page.click('#lc-plan');
  await page.waitForSelector('#lc-mapping:not([hidden])');
  assert.equal(await page.textContent('#lc-summary'), '', 'nothing planned before the columns are mapped');
  // What the core recognised is pre-filled: Login is a Username; the Action is not found.
  assert.deepEqual(await chosen(page, 'lc-'), { 'User ID': '', Username: 'Login', Action: '', 'Expiration date': '' });
  assert.match(await page.textContent('#lc-mapping-hint'), /Columns not mapped \(ignored\): Mail, Status change\./);
  await selectOf(page, 'Action').selectOption('Status change');
  assert.deepEqual(await preview(page, 'lc-'), [['Username', 'Action'], ...active.map((u, i) => [u.username, i < 2 ? 'disable' : 'enable'])]);
  assert.deepEqual(await seriousViolations(page, '#lc-mapping'), []);
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await seriousViolations(page, '#lc-mapping'), [], 'dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // Careless: the Action on the Login column too. Refused, with the reason; Plan is off.
  await selectOf(page, 'Action').selectOption('Login');
  assert.equal(await page.textContent('#lc-mapping-reason'), 'Action and Username are both mapped to the column "Login": a column holds one field, so map one of them to another column.');
  assert.equal(await page.isDisabled('#lc-map-plan'), true);
  // Careless: no column for the accounts at all.
  await selectOf(page, 'Action').selectOption('Status change');
  await selectOf(page, 'Username').selectOption('');
  assert.equal(await page.textContent('#lc-mapping-reason'), 'Plan stays off until a column is mapped to User ID or Username (required).');
  assert.equal(await page.isDisabled('#lc-map-plan'), true);
  assert.equal(await page.getAttribute('#lc-map-plan', 'aria-describedby'), 'lc-mapping-reason');
  await selectOf(page, 'Username').selectOption('Login');
  assert.equal(await page.textContent('#lc-mapping-reason'), '');

  await page.click('#lc-map-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.equal(await page.isHidden('#lc-mapping'), true);
  assert.match(await page.textContent('#lc-summary'), /^3 rows from hr-export\.csv \(comma-separated, header on line 1\): 2 disable · 1 unchanged\./);
  assert.equal(await page.textContent('#lc-apply'), 'Apply 2 changes');
  // The plan names the accounts of the Login column.
  for (const u of active) assert.match(await page.textContent('#lc-table'), new RegExp(u.username.replace(/[.+]/g, '\\$&')));

  // Reload: the same headers are offered mapped as before, still shown for confirmation.
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await connectViaRelay(page, server);
  await openView(page, 'lifecycle');
  await page.setInputFiles('#lc-file', file);
  await page.click('#lc-plan');
  await page.waitForSelector('#lc-mapping:not([hidden])');
  assert.deepEqual(await chosen(page, 'lc-'), { 'User ID': '', Username: 'Login', Action: 'Status change', 'Expiration date': '' });
  await page.click('#lc-map-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.match(await page.textContent('#lc-summary'), /: 2 disable · 1 unchanged\./);

  // Headers all recognised: no mapping step.
  await page.setInputFiles('#lc-file', { name: 'plain.csv', mimeType: 'text/csv', buffer: Buffer.from(`Username,Action\n${active[0].username},disable\n`) });
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.equal(await page.isHidden('#lc-mapping'), true);
  assert.match(await page.textContent('#lc-summary'), /^1 row from plain\.csv/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the page: a provisioning sheet without a Username column maps one; other columns stay attributes', async () => {
  const page = await openPage(browser, server.url + '/#provision');
  await connectViaRelay(page, server);
  const type = await standardUserType(server);
  await page.fill('#pv-paste', `Account name,Given,Surname,Mail,Profile,Secret,Role\nnew.person@example.org,New,Person,new.person@example.org,${type},Pw-1-secret,Manager\n`);
  await page.click('#pv-plan');
  await page.waitForSelector('#pv-mapping:not([hidden])');
  const map = await chosen(page, 'pv-');
  assert.equal(map.Username, '');
  assert.equal(map.Email, 'Mail');
  assert.equal(map['Last name'], 'Surname');
  assert.equal(await page.textContent('#pv-mapping-reason'), 'Plan stays off until a column is mapped to Username (required).');
  assert.equal(await page.isDisabled('#pv-map-plan'), true);
  await selectOf(page, 'Username').selectOption('Account name');
  await selectOf(page, 'First name').selectOption('Given');
  await selectOf(page, 'User type').selectOption('Profile');
  await selectOf(page, 'Password').selectOption('Secret');
  assert.match(await page.textContent('#pv-mapping-hint'), /Columns not mapped \(read as attributes\): Role\./);
  await page.click('#pv-map-plan');
  await page.waitForFunction(() => document.getElementById('pv-summary').textContent !== '');
  assert.match(await page.textContent('#pv-summary'), /^1 row from pasted text.*1 create/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

const openPane = (setup, view) => openPaneOn(browser, server, setup, { view, width: 360 });

test('the pane: a sheet with unrecognised headers is mapped in the pane, planned into the Plan sheet; axe light and dark', async () => {
  const users = (await sandboxUsers(server)).filter((u) => u.userType !== 'UT_BRANDADMIN' && u.accountStatus === 'active').slice(0, 2);
  const rows = [['Person', 'Mail', 'Status change'], ...users.map((u) => [u.username, u.email, 'disable'])];
  const page = await openPane({ sheets: [{ name: 'Leavers', rows }], select: { sheet: 'Leavers', address: 'A1' } }, 'lifecycle');
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await openView(page, 'lifecycle');
  await page.click('#lc-plan');
  await page.waitForSelector('#lc-mapping:not([hidden])');
  assert.deepEqual(await chosen(page, 'lc-'), { 'User ID': '', Username: '', Action: '', 'Expiration date': '' });
  assert.equal(await page.isDisabled('#lc-map-plan'), true);
  await selectOf(page, 'Username').selectOption('Person');
  await selectOf(page, 'Action').selectOption('Status change');
  assert.deepEqual(await preview(page, 'lc-'), [['Username', 'Action'], ...users.map((u) => [u.username, 'disable'])]);
  for (const theme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: theme });
    assert.deepEqual(await seriousViolations(page, '#lc-mapping'), [], `pane (${theme})`);
  }
  await page.click('#lc-map-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.match(await page.textContent('#lc-summary'), /^2 rows from Leavers!A1:C3: 2 disable\./);
  const plan = await page.evaluate(() => window.__workbook.values('Plan'));
  assert.equal(plan.length, 3);
  assert.deepEqual(plan.slice(1).map((r) => [r[3], r[4]]), users.map((u) => [u.username, 'disable']));
  // The user's own sheet keeps its headers.
  assert.deepEqual((await page.evaluate(() => window.__workbook.values('Leavers')))[0], ['Person', 'Mail', 'Status change']);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});
