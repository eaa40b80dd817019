// The Runs view (issue 29.5), in the page and in the Excel pane (Office double), against the
// sandbox: every Apply is on record with its counts and status; Retry failed rows plans just
// those rows; Undo plans the before-state and applying it puts the accounts back; a reload while
// sending leaves the run interrupted, and Resume finishes it without sending a finished row
// again; leaving while sending asks first; axe finds nothing serious, light and dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, applyConfirmed, parseCsv, seriousViolations } from './harness.mjs';
import { openPane as openPaneOn } from './office-double.mjs';
import { standardUserType } from './provision-sheet.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

const connect = async (page) => {
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
};
const outcome = (page, prefix = 'lc-') => page.waitForFunction((p) => document.getElementById(`${p}summary`).textContent.startsWith('Outcome:'), prefix, { timeout: 60_000 });
/** Waits for the flow's plan (its summary), failing with its error if it shows one instead. */
async function planned(page, prefix = 'lc-') {
  await page.waitForFunction((p) => document.getElementById(`${p}summary`).textContent !== '' || !document.getElementById(`${p}error`).hidden, prefix, { timeout: 30_000 });
  assert.equal(await page.textContent(`#${prefix}error`), '', 'no error');
}

/** Sets the sandbox's injected faults (`{}`: none). */
async function faults(server, body) {
  const res = await fetch(`${server.url}/sandbox/control/faults`, {
    method: 'PUT', headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 204);
}

async function stats(server) {
  return (await fetch(`${server.url}/sandbox/control/stats`, { headers: { 'x-api-token': server.adminToken } })).json();
}

/** The pane (taskpane.html, 320 px) with Office.js replaced by the workbook double. */
const openPane = (server, setup, view = 'lifecycle') => openPaneOn(browser, server, setup, { view });

test('a finished run is on record with its counts; Retry plans only its failed rows; Undo plans the before-state and applying it restores the accounts', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '60']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 6);
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connect(page);
    await page.fill('#lc-paste', ['Username,Action', ...users.map((u) => `${u.username},disable`), 'ghost1@nowhere.example,disable', 'ghost2@nowhere.example,disable'].join('\n'));
    await page.click('#lc-plan');
    await planned(page);
    await applyConfirmed(page, 'lc-');
    await outcome(page);

    await openView(page, 'runs');
    const run = page.locator('#rn-list li.run').first();
    await run.waitFor();
    assert.equal(await run.getAttribute('data-status'), 'partly failed');
    assert.equal(await run.locator('.run-counts').textContent(), '8 rows from pasted text: 6 done · 0 unchanged · 2 failed · 0 not sent.');
    assert.match(await run.locator('.run-head').textContent(), /^partly failed Disable · enable · expire · .* · by avery\.admin@roster-demo\.edu · brand rosterdemo · page$/);
    // A lifecycle run can be undone; nothing here was interrupted.
    assert.equal(await run.locator('[data-act=resume]').count(), 0);
    assert.equal(await run.locator('[data-act=undo]').isEnabled(), true);

    // Its per-row results, kept on this device.
    const [file] = await Promise.all([page.waitForEvent('download'), run.locator('[data-act=results]').click()]);
    const csv = parseCsv(await readFile(await file.path(), 'utf8'));
    assert.deepEqual(csv[0], ['Username', 'Action', 'Status', 'Message', 'User ID', 'Applied at']);
    assert.equal(csv.length, 9);
    assert.deepEqual(csv.slice(1).map((r) => r[2]), ['done', 'done', 'done', 'done', 'done', 'done', 'failed', 'failed']);

    // Retry failed rows: a sheet of just those two rows, planned in the lifecycle view.
    await run.locator('[data-act=retry]').click();
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    await planned(page);
    assert.match(await page.textContent('#lc-summary'), /^2 rows from the Runs view \(2 failed or not-sent rows of the Disable · enable · expire run of .*\): 2 not found\./);
    assert.deepEqual(await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => tr.cells[3]?.textContent)), ['ghost1@nowhere.example', 'ghost2@nowhere.example']);
    assert.equal(await page.isDisabled('#lc-apply'), true, 'nothing to apply: both are unknown');

    // Undo this run: the six accounts back as they were, through the same confirmation.
    await openView(page, 'runs');
    await page.locator('#rn-list li.run').first().locator('[data-act=undo]').click();
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    await planned(page);
    assert.match(await page.textContent('#lc-summary'), /^6 rows from the Runs view \(undo of the Disable · enable · expire run of .*: each account as it was before\): 6 enable\./);
    const disabled = await sandboxUsers(server);
    for (const u of users) assert.equal(disabled.find((a) => a.id === u.id).accountStatus, 'disabled');
    await applyConfirmed(page, 'lc-');
    await outcome(page);
    const restored = await sandboxUsers(server);
    for (const u of users) assert.equal(restored.find((a) => a.id === u.id).accountStatus, 'active', `${u.username} restored`);

    await openView(page, 'runs');
    await page.waitForFunction(() => document.querySelectorAll('#rn-list li.run').length === 2);
    const undo = page.locator('#rn-list li.run').first();
    assert.equal(await undo.getAttribute('data-status'), 'done');
    assert.match(await undo.locator('.run-head').textContent(), /undo of an earlier run/);
    assert.equal(await undo.locator('.run-counts').textContent(), '6 rows from the Runs view: 6 done · 0 unchanged · 0 failed · 0 not sent.');
    assert.equal(await undo.locator('[data-act=retry]').isDisabled(), true, 'nothing failed');
    assert.match(await undo.locator('.run-why').textContent(), /Retry failed rows: no row failed or was left unsent/);
    // Accounts created cannot be un-created here: Undo is off and says why; the passwords
    // were not kept, so Retry is off too.
    await openView(page, 'provision');
    const userType = await standardUserType(server);
    await page.fill('#pv-paste', ['Username,First name,Last name,Email,User type,Password', `runs.new@roster-test.org,Ru,Ns,runs.new@roster-test.org,${userType},Pw-1-secret`, 'runs.bad@roster-test.org,Ru,Ns,not-an-email,UT_X,pw'].join('\n'));
    await page.click('#pv-plan');
    await planned(page, 'pv-');
    await applyConfirmed(page, 'pv-');
    await outcome(page, 'pv-');
    await openView(page, 'runs');
    await page.waitForFunction(() => document.querySelectorAll('#rn-list li.run').length === 3);
    const created = page.locator('#rn-list li.run').first();
    assert.equal(await created.getAttribute('data-kind'), 'provision');
    assert.equal(await created.getAttribute('data-status'), 'partly failed');
    assert.equal(await created.locator('[data-act=undo]').isDisabled(), true);
    assert.equal(await created.locator('[data-act=retry]').isDisabled(), true);
    const why = await created.locator('.run-why').textContent();
    assert.match(why, /Undo this run: An account cannot be un-created here/);
    assert.match(why, /Retry failed rows: passwords are never kept on this device/);
    const [createdFile] = await Promise.all([page.waitForEvent('download'), created.locator('[data-act=results]').click()]);
    const createdCsv = await readFile(await createdFile.path(), 'utf8');
    assert.ok(!createdCsv.includes('Pw-1-secret'), 'no password kept');
    // The password is not in this origin's IndexedDB either.
    const stored = await page.evaluate(() => new Promise((resolve) => {
      const req = indexedDB.open('qualtrics-roster');
      req.onsuccess = () => { const all = req.result.transaction('runs').objectStore('runs').getAll(); all.onsuccess = () => resolve(JSON.stringify(all.result)); };
    }));
    assert.ok(stored.includes('runs.new@roster-test.org') && !stored.includes('Pw-1-secret'), 'kept without its password');
    assert.ok(!stored.includes(server.adminToken), 'never the token');
    // No hooks on this server: said so.
    assert.match(await page.textContent('#rn-hooks-note'), /runs no hooks/);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page), [], `page Runs (${scheme})`);
    }
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

/**
 * Applies `count` disables of `users` in `page` (lifecycle view) slowly, reloads once some rows
 * are done (accepting the leave warning, which it checks), and resolves to the rows done then.
 */
async function reloadMidApply(page, server, count) {
  await faults(server, { latencyMs: 150 });
  await applyConfirmed(page, 'lc-', { count });
  await page.waitForFunction(() => Number(document.getElementById('lc-progress').value) >= 15, null, { timeout: 30_000 });
  const asked = await page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
  assert.equal(asked, true, 'leaving while sending asks first');
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.type()); d.accept().catch(() => {}); });
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await faults(server, {});
  return dialogs;
}

/** After the reload: the run shown interrupted, Resume plans the rest, Apply finishes it once. */
async function resumeAfterReload(page, server, users) {
  // The app opens Runs on its own and says what happened.
  await page.waitForSelector('#view-runs:not([hidden])');
  assert.match(await page.textContent('#rn-note'), /was interrupted while sending/);
  const run = page.locator('#rn-list li.run').first();
  assert.equal(await run.getAttribute('data-status'), 'interrupted');
  assert.match(await run.locator('.run-counts').textContent(), /stopped before its outcomes were known/);
  assert.equal(await run.locator('[data-act=undo]').isDisabled(), true, 'undo waits for the run to end');
  await connect(page);
  await run.locator('[data-act=resume]').click();
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  await planned(page);
  const summary = await page.textContent('#lc-summary');
  const unchanged = Number(summary.match(/(\d+) unchanged/)?.[1] ?? 0);
  assert.ok(unchanged >= 15, summary);
  assert.match(summary, /rows from the Runs view.* \(resuming the interrupted /);
  assert.match(await page.textContent('#lc-note'), /An earlier run of this sheet was interrupted/);
  await applyConfirmed(page, 'lc-', { count: users.length - unchanged });
  await outcome(page);
  assert.match(await page.textContent('#lc-summary'), new RegExp(`^Outcome: ${users.length - unchanged} done · ${unchanged} unchanged · 0 failed`));
  const after = await sandboxUsers(server);
  for (const u of users) assert.equal(after.find((a) => a.id === u.id).accountStatus, 'disabled', u.username);
  const s = await stats(server);
  assert.equal(Object.keys(s.changesPerUser).length, users.length);
  assert.ok(Object.values(s.changesPerUser).every((n) => n === 1), 'no account changed twice');

  await openView(page, 'runs');
  await page.waitForFunction(() => document.querySelectorAll('#rn-list li.run').length === 2);
  const [resumed, interrupted] = [page.locator('#rn-list li.run').nth(0), page.locator('#rn-list li.run').nth(1)];
  assert.equal(await resumed.getAttribute('data-status'), 'done');
  assert.match(await resumed.locator('.run-head').textContent(), /resume of an earlier run/);
  assert.equal(await interrupted.getAttribute('data-status'), 'interrupted');
  assert.equal(await interrupted.locator('[data-act=resume]').isDisabled(), true, 'resumed once');
  return unchanged;
}

test('the page: a reload mid-apply leaves the run interrupted; Resume finishes it without redoing finished rows', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '120']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 80);
    const page = await openPage(browser, `${server.url}/#lifecycle`);
    await connect(page);
    await page.fill('#lc-paste', ['Username,Action', ...users.map((u) => `${u.username},disable`)].join('\n'));
    await page.click('#lc-plan');
    await planned(page);
    const dialogs = await reloadMidApply(page, server, users.length);
    assert.deepEqual(dialogs, ['beforeunload'], 'the browser asked before leaving');
    await resumeAfterReload(page, server, users);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('the pane: Excel reloads the add-in mid-apply; the pane shows the interrupted run and Resume finishes it', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '120']);
  try {
    const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 80);
    const rows = [['Username', 'Action'], ...users.map((u) => [u.username, 'disable'])];
    const page = await openPane(server, { sheets: [{ name: 'Leavers', rows }], select: { sheet: 'Leavers', address: 'A1' } });
    await connect(page);
    await openView(page, 'lifecycle');
    await page.click('#lc-plan');
    await planned(page);
    // Excel on the web reloads an idle add-in without asking: no dialog to accept there, but
    // the page registered its warning all the same (checked in reloadMidApply).
    await reloadMidApply(page, server, users.length);
    const unchanged = await resumeAfterReload(page, server, users);
    // The pane planned the kept rows on a sheet of its own, and wrote their outcomes beside them.
    const resumeSheet = await page.evaluate(() => window.__workbook.values('Resume'));
    assert.deepEqual(resumeSheet[0].slice(0, 3), ['Username', 'Action', 'Status']);
    assert.equal(resumeSheet.length, users.length + 1);

    // Undo of the finished (resumed) run: its accounts back as they were, on an "Undo" sheet.
    await page.locator('#rn-list li.run').first().locator('[data-act=undo]').click();
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    await planned(page);
    const undone = users.length - unchanged;
    assert.match(await page.textContent('#lc-summary'), new RegExp(`^${undone} rows from the Runs view, Undo!A1:E${undone + 1} \\(undo of the .*\\): ${undone} enable\\.`));
    await applyConfirmed(page, 'lc-');
    await outcome(page);
    const now = await sandboxUsers(server);
    assert.equal(users.filter((u) => now.find((a) => a.id === u.id).accountStatus === 'active').length, undone, 'the resumed run undone');
    assert.equal((await page.evaluate(() => window.__workbook.values('Undo')))[0][2], 'Action');
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page), [], `pane Runs (${scheme})`);
    }
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});
