// Bounded authority in the page and the pane (issue 25), end to end against the sandbox: every
// Apply asks once in an alert dialog that names what will change, who loses access, the
// privileged accounts touched and the rows the policy refuses, and nothing reaches the brand
// until the administrator confirms (counted twice: by the requests the browser made and by the
// sandbox's own count of API requests). Cancel and Escape send nothing; past the mass-change
// brake the number of accounts that lose access must be typed; another Brand Administrator is
// changed only with the tick box that names them; a file that matches nobody says so first;
// nothing destructive is preselected for rows without an Action; Apply stays with the plan;
// and the token is stored on the device only when asked, for 8 hours.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { startServer, launchBrowser, openPage, sandboxUsers, connectViaRelay } from './harness.mjs';
import { OFFICE_JS, officeDouble } from './office-double.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const REMEMBER_KEY = 'qualtrics-roster:connection';
const WARNING = 'Most rows match nobody in this brand: is this the right file and brand?';

/** The sandbox's own count of API requests received (control calls are not counted). */
async function apiRequests(server) {
  const res = await fetch(`${server.url}/sandbox/control/stats`, { headers: { 'x-api-token': server.adminToken } });
  return (await res.json()).requests;
}

/**
 * Every request to the brand the page or its worker makes from now on (the relay, or the
 * sandbox's API directly), as "METHOD /path".
 */
function recordBrandRequests(page) {
  const seen = [];
  page.context().on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.startsWith('/relay/') || path.startsWith('/sandbox/API/')) seen.push(`${r.method()} ${path}`);
  });
  return seen;
}

/** Changes a user through the sandbox's own API (test set-up, not the page). */
async function putUser(server, id, body) {
  const res = await fetch(`${server.url}/sandbox/API/v3/users/${id}`, {
    method: 'PUT', headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Each account's status (active, disabled) by its id, read once from the sandbox. */
const statuses = async (server) => new Map((await sandboxUsers(server)).map((u) => [u.id, u.accountStatus]));
const statusOf = async (server, id) => (await statuses(server)).get(id);

/** Pastes lifecycle rows, plans, and waits for the summary (or an error). */
async function plan(page, text) {
  await page.fill('#lc-paste', text);
  await page.evaluate(() => { document.getElementById('lc-summary').textContent = ''; });
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '' || !document.getElementById('lc-error').hidden);
  assert.equal(await page.isHidden('#lc-error'), true, await page.textContent('#lc-error'));
  return page.textContent('#lc-summary');
}

/** Presses Apply and waits for the confirmation. */
async function openConfirmation(page, prefix = 'lc-') {
  await page.click(`#${prefix}apply`);
  await page.waitForSelector('#confirm[open]');
}

const waitClosed = (page) => page.waitForSelector('#confirm:not([open])', { state: 'attached' });
const outcome = (page, prefix = 'lc-') => page.waitForFunction((p) => document.getElementById(`${p}summary`).textContent.startsWith('Outcome:'), prefix, { timeout: 60_000 });

/** Serious and critical axe-core violations inside the confirmation. */
async function dialogViolations(page) {
  const results = await new AxeBuilder({ page }).include('#confirm').analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

/** The accessible name and description of the dialog, from the elements its ARIA names. */
async function dialogText(page) {
  return page.evaluate(() => {
    const d = document.getElementById('confirm');
    const text = (ids) => ids.split(/\s+/).map((id) => document.getElementById(id)?.innerText.trim() ?? '').join(' ');
    return { role: d.getAttribute('role'), modal: d.getAttribute('aria-modal'), name: text(d.getAttribute('aria-labelledby')), description: text(d.getAttribute('aria-describedby')) };
  });
}

test('nothing destructive is preselected: rows without an Action are refused until the administrator chooses, the choice is in the summary and the confirmation, and a new file starts from "Choose…" again', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 2);
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    assert.equal(await page.inputValue('#lc-default'), '', 'no action preselected');
    assert.equal(await page.$eval('#lc-default', (s) => s.selectedOptions[0].textContent), 'Choose…');
    await connectViaRelay(page, server);
    const rows = ['Username', ...users.map((u) => u.username)].join('\n');

    // Not chosen: the plan refuses those rows, saying why, and there is nothing to apply.
    assert.equal(await plan(page, rows), '2 rows from pasted text (comma-separated, header on line 1): 2 invalid. Rows without an Action: no action chosen, so they are refused.');
    assert.match(await page.textContent('#lc-problems'), /no action: write disable, enable or expire, or choose a default action for rows without one/);
    assert.equal(await page.isDisabled('#lc-apply'), true);

    // Chosen: in the summary, and in the confirmation.
    await page.selectOption('#lc-default', 'disable');
    assert.equal(await plan(page, rows), '2 rows from pasted text (comma-separated, header on line 1): 2 disable. Rows without an Action: disable them.');
    await openConfirmation(page);
    assert.equal(await page.textContent('#confirm-choice'), 'Rows without an Action: disable them.');
    assert.match((await dialogText(page)).description, /Rows without an Action: disable them\./);
    await page.click('#confirm-cancel');
    await waitClosed(page);

    // Another file: the choice is made again for it.
    await page.setInputFiles('#lc-file', { name: 'next.csv', mimeType: 'text/csv', buffer: Buffer.from(rows) });
    assert.equal(await page.inputValue('#lc-default'), '', 'a new file starts from "Choose…"');
    const now = await statuses(server);
    for (const u of users) assert.equal(now.get(u.id), 'active', 'nothing was sent');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('every Apply asks once in an alert dialog naming the changes, who loses access and the refused own account; nothing is sent until confirmed; Cancel and Escape send nothing', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const all = await sandboxUsers(server);
    const me = all[0]; // the sandbox's admin token is this account's
    const active = all.slice(1).filter((u) => u.accountStatus === 'active');
    const leavers = active.slice(0, 3);
    const returner = all.slice(1).find((u) => u.accountStatus === 'disabled');
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connectViaRelay(page, server);
    const summary = await plan(page, ['Username,Action', `${me.username},disable`, ...leavers.map((u) => `${u.username},disable`), `${returner.username},enable`].join('\n'));
    assert.match(summary, /3 disable/);
    assert.match(summary, /1 enable/);
    assert.equal(await page.textContent('#lc-apply'), 'Apply 4 changes');
    assert.equal(await page.textContent('#lc-apply-status'), 'Planned: nothing sent yet. Apply asks you to confirm first.');

    const sent = recordBrandRequests(page);
    const before = await apiRequests(server);
    await openConfirmation(page);
    // An alert dialog, named and described, with the focus inside it (on Cancel).
    const { role, modal, name, description } = await dialogText(page);
    assert.equal(role, 'alertdialog');
    assert.equal(modal, 'true');
    assert.match(name, /^Apply 4 changes to brand \S+\?$/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-cancel');
    assert.match(description, /^What will change: (?=[^.]*3 disable)(?=[^.]*1 enable)[^.]*, 4 changes from pasted text\. Not sent: .*1 refused\./);
    assert.ok(!description.includes(WARNING), 'not a suspicious plan');
    // Who loses access: the number, the share of the brand's active accounts, their names.
    const activeCount = all.filter((u) => u.accountStatus === 'active').length;
    const share = ((3 / activeCount) * 100).toFixed(1);
    assert.equal(await page.textContent('#confirm-loses'), `3 accounts will lose access: ${share} % of the brand's ${activeCount} active accounts.`);
    const sample = await page.locator('#confirm-sample li').allTextContents();
    assert.equal(sample.length, 3);
    for (const u of leavers) assert.ok(sample.some((s) => s.includes(u.username) && s.includes(u.lastName)), `${u.username} named in ${sample.join(' | ')}`);
    // The credential's own account: refused by the policy, said in the dialog, never sent.
    const refused = await page.locator('#confirm-refused li').allTextContents();
    assert.equal(refused.length, 1);
    assert.match(refused[0], new RegExp(`^Row 2: .*${me.username.replace(/[.+]/g, '\\$&')}.*: this is the account of the credential in use`));
    assert.equal(await page.isHidden('#confirm-brake'), true, '3 accounts: no brake');
    assert.equal(await page.isHidden('#confirm-admins-row'), true, 'no other Brand Administrator');
    assert.deepEqual(await dialogViolations(page), [], 'axe: the dialog');

    // The focus stays in the dialog, both ways.
    for (const key of ['Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
      await page.keyboard.press(key);
      assert.equal(await page.evaluate(() => document.getElementById('confirm').contains(document.activeElement)), true, `focus in the dialog after ${key}`);
    }
    // The rest of the page cannot be used meanwhile.
    await assert.rejects(page.click('#lc-plan', { timeout: 500 }), 'the page behind the dialog takes no click');

    // Cancel sends nothing.
    await page.click('#confirm-cancel');
    await waitClosed(page);
    assert.equal(await page.textContent('#lc-apply-status'), 'Not applied: you cancelled, nothing was sent.');
    assert.equal(await page.isEnabled('#lc-apply'), true, 'the plan stays, to apply later');
    // Escape cancels too.
    await openConfirmation(page);
    await page.keyboard.press('Escape');
    await waitClosed(page);
    assert.deepEqual(sent, [], 'no request left the page');
    assert.equal(await apiRequests(server), before, 'the sandbox received nothing');
    const untouched = await statuses(server);
    for (const u of leavers) assert.equal(untouched.get(u.id), 'active');

    // Confirmed: exactly the plan, the own account left alone.
    await openConfirmation(page);
    await page.click('#confirm-ok');
    await outcome(page);
    assert.equal(sent.filter((s) => s.startsWith('PUT ')).length, 4, sent.join(' | '));
    const after = await statuses(server);
    for (const u of leavers) assert.equal(after.get(u.id), 'disabled', u.username);
    assert.equal(after.get(returner.id), 'active');
    assert.equal(after.get(me.id), 'active', 'the credential\'s own account is never disabled');
    assert.match(await page.textContent('#lc-table tbody tr[data-row="2"]'), /this is the account of the credential in use/);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('Apply sits after the plan, in a bar that stays in view at the bottom while the plan is scrolled', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const users = (await sandboxUsers(server)).slice(1, 201);
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connectViaRelay(page, server);
    await plan(page, ['Username,Action', ...users.map((u) => `${u.username},enable`)].join('\n'));
    assert.equal(await page.evaluate(() => Boolean(document.getElementById('lc-table-wrap').compareDocumentPosition(document.getElementById('lc-apply')) & Node.DOCUMENT_POSITION_FOLLOWING)), true, 'Apply comes after the plan table');
    const inView = () => page.evaluate(() => {
      const r = document.getElementById('lc-apply').getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    });
    // At the top of the view, at the plan's top, and at its bottom: Apply is in the window.
    for (const where of ['lc-title', 'lc-table-wrap', 'lc-apply-bar']) {
      await page.evaluate((id) => document.getElementById(id).scrollIntoView({ block: id === 'lc-apply-bar' ? 'end' : 'start' }), where);
      assert.equal(await inView(), true, `Apply in view, scrolled to ${where}`);
    }
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('the mass-change brake: when 30 of the brand\'s active accounts lose access, Apply enables only once that number is typed', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const all = await sandboxUsers(server);
    const leavers = all.slice(1).filter((u) => u.accountStatus === 'active').slice(0, 30);
    const activeCount = all.filter((u) => u.accountStatus === 'active').length;
    assert.ok(30 / activeCount > 0.1, `30 of ${activeCount} is more than 10 %`);
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connectViaRelay(page, server);
    await plan(page, ['User ID,Action', ...leavers.map((u) => `${u.id},disable`)].join('\n'));
    const sent = recordBrandRequests(page);
    const before = await apiRequests(server);

    await openConfirmation(page);
    assert.match(await page.textContent('#confirm-loses'), /^30 accounts will lose access: [\d.]+ % of the brand's \d+ active accounts\.$/);
    const sample = await page.locator('#confirm-sample li').allTextContents();
    assert.equal(sample.length, 6, 'a few names, then how many more');
    assert.equal(sample[5], '…and 25 more');
    assert.equal(await page.isVisible('#confirm-brake'), true);
    assert.match(await page.textContent('#confirm-brake-message'), /^This plan takes access from 30 accounts, more than 25 accounts and more than 10 % of the brand's active accounts: it needs a deliberate confirmation\.$/);
    // A labelled box, with the focus in it; Apply off until the number is right.
    const box = page.getByLabel('To confirm, type the number of accounts that will lose access (30)');
    assert.equal(await box.evaluate((e) => e.id), 'confirm-count');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'confirm-count');
    assert.equal(await page.isDisabled('#confirm-ok'), true, 'nothing typed');
    await box.fill('29');
    assert.equal(await page.isDisabled('#confirm-ok'), true, 'a wrong number');
    await box.press('Enter');
    assert.equal(await page.isVisible('#confirm'), true, 'Enter with a wrong number does not apply');
    await box.fill('30');
    assert.equal(await page.isEnabled('#confirm-ok'), true);
    assert.deepEqual(await dialogViolations(page), [], 'axe: the dialog with the brake');
    // Cancel even then: nothing sent; the number is asked again next time.
    await page.click('#confirm-cancel');
    await waitClosed(page);
    assert.deepEqual(sent, []);
    assert.equal(await apiRequests(server), before);
    await openConfirmation(page);
    assert.equal(await page.inputValue('#confirm-count'), '', 'typed again for each Apply');
    assert.equal(await page.isDisabled('#confirm-ok'), true);
    await page.fill('#confirm-count', '30');
    await page.click('#confirm-ok');
    await outcome(page);
    // The core accepted the typed number (it refuses the brake's plans without it).
    assert.equal(await page.textContent('#lc-summary'), 'Outcome: 30 done · 0 unchanged · 0 failed · 0 not sent.');
    const after = await statuses(server);
    for (const u of leavers) assert.equal(after.get(u.id), 'disabled', u.username);
    assert.equal(sent.filter((s) => s.startsWith('PUT ')).length, 30);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('another Brand Administrator is disabled only when the tick box that names them is ticked', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const active = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active');
    const [admin, staff] = active;
    // The sandbox has one Brand Administrator (the token's): make a second one.
    await putUser(server, admin.id, { userType: 'UT_BRANDADMIN' });
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connectViaRelay(page, server);
    const rows = ['Username,Action', `${admin.username},disable`, `${staff.username},disable`].join('\n');
    await plan(page, rows);
    await openConfirmation(page);
    const tick = page.locator('#confirm-admins');
    assert.equal(await page.isVisible('#confirm-admins-row'), true);
    assert.equal(await tick.isChecked(), false, 'unticked by default');
    const label = await page.textContent('label:has(#confirm-admins)');
    assert.match(label, new RegExp(`^ ?Also change these Brand Administrators: .*${admin.username.replace(/[.+]/g, '\\$&')}.*disable`, 'i'));
    assert.ok(!label.includes(staff.username), 'only the administrators are named');
    const privileged = await page.locator('#confirm-privileged li').allTextContents();
    assert.ok(privileged.some((p) => p.startsWith('Row 2: ') && p.includes(admin.username) && p.includes('Brand Administrator')), privileged.join(' | '));
    assert.deepEqual(await dialogViolations(page), [], 'axe: the dialog with the tick box');

    // Confirmed without the tick: the administrator's row is refused, the other goes.
    await page.click('#confirm-ok');
    await outcome(page);
    assert.equal(await statusOf(server, admin.id), 'active', 'not sent without the tick');
    assert.equal(await statusOf(server, staff.id), 'disabled');
    assert.match(await page.textContent('#lc-table tbody tr[data-row="2"]'), /Brand Administrator/);

    // Planned again and confirmed with the tick: sent.
    await plan(page, rows);
    await openConfirmation(page);
    assert.equal(await page.isChecked('#confirm-admins'), false, 'unticked again for each Apply');
    await page.check('#confirm-admins');
    await page.click('#confirm-ok');
    await outcome(page);
    assert.equal(await statusOf(server, admin.id), 'disabled', 'sent with the tick');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('a file most of whose rows match nobody: the confirmation says so first', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const [known] = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active');
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connectViaRelay(page, server);
    const ghosts = Array.from({ length: 5 }, (_, i) => `ghost${i}@nowhere.example,disable`);
    await plan(page, ['Username,Action', `${known.username},disable`, ...ghosts].join('\n'));
    const before = await apiRequests(server);
    await openConfirmation(page);
    assert.equal(await page.textContent('#confirm-warning'), WARNING);
    assert.equal(await page.isVisible('#confirm-warning'), true);
    assert.equal(await page.evaluate(() => document.querySelector('#confirm-desc > :not([hidden])').id), 'confirm-warning', 'said first');
    assert.ok((await dialogText(page)).description.startsWith(WARNING));
    await page.click('#confirm-cancel');
    await waitClosed(page);
    assert.equal(await apiRequests(server), before);
    assert.equal(await statusOf(server, known.id), 'active');

    // A file that matches: no such warning.
    await plan(page, ['Username,Action', `${known.username},disable`].join('\n'));
    await openConfirmation(page);
    assert.equal(await page.isHidden('#confirm-warning'), true);
    await page.keyboard.press('Escape');
    await waitClosed(page);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('the token: in this tab\'s memory only unless "Remember" is ticked; then in localStorage with an expiry 8 hours on, dropped at load once past, and forgotten at once when unticked', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const page = await openPage(browser, `${server.url}/#users`);
    const stored = () => page.evaluate((token) => [localStorage, sessionStorage].flatMap((s) => Object.keys(s).filter((k) => s.getItem(k).includes(token))), server.adminToken);
    assert.equal(await page.textContent('label:has(#remember)'), ' Remember on this device for 8 hours (this browser\'s local storage), then forget it');
    assert.equal(await page.isChecked('#remember'), false);

    // Not ticked: nowhere in the browser's storage, and gone after a reload.
    await connectViaRelay(page, server);
    assert.deepEqual(await stored(), []);
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.inputValue('#token'), '');

    // Ticked: stored with when it is to be forgotten, and offered again after a reload.
    await page.check('input[name=mode][value=qualtrics]');
    await page.check('#remember');
    await connectViaRelay(page, server);
    assert.deepEqual(await stored(), [REMEMBER_KEY]);
    const saved = JSON.parse(await page.evaluate((k) => localStorage.getItem(k), REMEMBER_KEY));
    assert.equal(saved.token, server.adminToken);
    assert.ok(Math.abs(saved.expiresAt - (Date.now() + 8 * 3600_000)) < 5 * 60_000, `expires 8 hours on: ${new Date(saved.expiresAt).toISOString()}`);
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.inputValue('#token'), server.adminToken);
    assert.equal(await page.isChecked('#remember'), true);

    // Past its time (or stored without one): deleted at load, not used.
    for (const old of [{ ...saved, expiresAt: Date.now() - 1000 }, { datacenter: 'iad1', token: server.adminToken }]) {
      await page.evaluate(([k, v]) => localStorage.setItem(k, v), [REMEMBER_KEY, JSON.stringify(old)]);
      await page.reload();
      await page.waitForSelector('body[data-ready=true]');
      assert.equal(await page.inputValue('#token'), '', JSON.stringify(old));
      assert.equal(await page.isChecked('#remember'), false);
      assert.equal(await page.evaluate((k) => localStorage.getItem(k), REMEMBER_KEY), null, 'deleted');
    }

    // Unticking forgets at once.
    await page.check('input[name=mode][value=qualtrics]');
    await page.check('#remember');
    await connectViaRelay(page, server);
    assert.deepEqual(await stored(), [REMEMBER_KEY]);
    // Connected, the box is in the form behind Switch brand.
    await page.click('#switch-brand');
    await page.uncheck('#remember');
    await page.waitForFunction((k) => localStorage.getItem(k) === null, REMEMBER_KEY);
    assert.deepEqual(await stored(), []);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('in the pane: nothing preselected and chosen again for another sheet; Apply asks once; Cancel sends nothing; the brake\'s number and the admin tick box', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const active = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active');
    const admin = active[0];
    await putUser(server, admin.id, { userType: 'UT_BRANDADMIN' });
    const staff = active.slice(1, 31);
    // 30 staff and another Brand Administrator, without an Action column; a second sheet.
    const rows = [['Username', 'Note'], [admin.username, 'admin'], ...staff.map((u, i) => [u.username, `leaver ${i}`])];
    const context = await browser.newContext({ viewport: { width: 320, height: 900 } });
    const page = await context.newPage();
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
    await context.route(OFFICE_JS, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: officeDouble() }));
    await page.addInitScript((s) => { self.__WORKBOOK_SETUP__ = s; }, {
      sheets: [{ name: 'Leavers', rows }, { name: 'Other', rows: [['Username'], [staff[0].username]] }],
      tables: [{ sheet: 'Leavers', address: `A1:B${rows.length}`, name: 'LeaversTable' }],
      select: { sheet: 'Leavers', address: 'A2' },
    });
    await page.goto(`${server.url}/taskpane.html#lifecycle`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.inputValue('#lc-default'), '', 'no action preselected');
    await page.check('input[name=mode][value=qualtrics]');
    await page.fill('#datacenter', 'iad1');
    await page.fill('#token', server.adminToken);
    await page.click('#connect');
    await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));

    const planPane = async () => {
      await page.evaluate(() => { document.getElementById('lc-summary').textContent = ''; });
      await page.click('#lc-plan');
      await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '' || !document.getElementById('lc-error').hidden);
      return page.textContent('#lc-summary');
    };
    assert.match(await planPane(), /^31 rows from Leavers!A1:B32: 31 invalid\. Rows without an Action: no action chosen, so they are refused\.$/);
    await page.selectOption('#lc-default', 'disable');
    assert.match(await planPane(), /^31 rows from Leavers!A1:B32: 31 disable\. Rows without an Action: disable them\.$/);
    // Another sheet: chosen again.
    await page.evaluate(() => window.__workbook.select('Other', 'A1'));
    assert.match(await planPane(), /: 1 invalid\. Rows without an Action: no action chosen, so they are refused\.$/);
    assert.equal(await page.inputValue('#lc-default'), '');
    await page.evaluate(() => window.__workbook.select('Leavers', 'A2'));
    await page.selectOption('#lc-default', 'disable');
    await planPane();

    const sent = recordBrandRequests(page);
    const before = await apiRequests(server);
    await openConfirmation(page);
    const { role, name, description } = await dialogText(page);
    assert.equal(role, 'alertdialog');
    assert.match(name, /^Apply 31 changes to brand /);
    assert.match(description, /31 disable.*Rows without an Action: disable them\..*31 accounts will lose access: /s);
    assert.equal(await page.isVisible('#confirm-brake'), true, '31 accounts: past the brake');
    assert.equal(await page.isDisabled('#confirm-ok'), true);
    assert.match(await page.textContent('label:has(#confirm-admins)'), new RegExp(`Also change these Brand Administrators: .*${admin.username.replace(/[.+]/g, '\\$&')}`));
    assert.deepEqual(await dialogViolations(page), [], 'axe: the pane\'s dialog');
    await page.click('#confirm-cancel');
    await waitClosed(page);
    assert.deepEqual(sent, [], 'Cancel: no request');
    assert.equal(await apiRequests(server), before);
    assert.deepEqual((await page.evaluate(() => window.__workbook.values('Leavers')))[0], ['Username', 'Note'], 'no outcome columns');

    // Confirmed with the number and the tick: every row sent, outcomes beside them.
    await openConfirmation(page);
    await page.fill('#confirm-count', '31');
    await page.check('#confirm-admins');
    await page.click('#confirm-ok');
    await outcome(page);
    assert.equal(sent.filter((s) => s.startsWith('PUT ')).length, 31);
    const after = await statuses(server);
    for (const u of [admin, ...staff]) assert.equal(after.get(u.id), 'disabled', u.username);
    const sheet = await page.evaluate(() => window.__workbook.values('Leavers'));
    assert.deepEqual(sheet[0].slice(0, 3), ['Username', 'Note', 'Status']);
    assert.ok(sheet.slice(1).every((r) => r[2] === 'done'), JSON.stringify(sheet.slice(1, 3)));
    assert.deepEqual(page.problems, []);
    await context.close();
  } finally {
    server.stop();
  }
});
