// The Users grid's bar acts on groups too (issue 29.3): Add to group and Remove from group turn
// the selected users into a membership change sheet, planned in Groups and roles through its
// plan view and confirmation as a file would be; nothing is sent before the confirmation. And
// the careless cases: no selection, a selection with users already disabled, a group chosen and
// then the selection cleared.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, applyConfirmed, seriousViolations } from './harness.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Connects and waits until the Users view lists the brand. */
async function listed(page, server) {
  await connectViaRelay(page, server);
  await page.waitForFunction(() => document.getElementById('summary').textContent !== '');
}

/** The sandbox's groups with their members (user ids), read from its test control. */
async function sandboxGroups(server) {
  const res = await fetch(`${server.url}/sandbox/control/state`, { headers: { 'x-api-token': server.adminToken } });
  return (await res.json()).groups;
}

/**
 * The tail of a lifecycle summary planned from the Users listing the page holds (issue 29.3):
 * when the brand was listed (the browser's local time, with seconds) and how long ago.
 */
const AS_LISTED = / Brand as listed at [^,]*\d:\d\d:\d\d[^,]*, \d+ s ago\.$/;

/** `summary` is `start` followed by the as-listed tail. */
function assertListed(summary, start) {
  assert.ok(summary.startsWith(start), summary);
  assert.match(summary.slice(start.length), new RegExp(`^${AS_LISTED.source}`), summary);
}

/** Waits for a flow's plan (or its error) and returns its summary. */
async function planned(page, prefix) {
  await page.waitForFunction((p) => document.getElementById(`${p}summary`).textContent !== '' || !document.getElementById(`${p}error`).hidden, prefix, { timeout: 60_000 });
  assert.equal(await page.isHidden(`#${prefix}error`), true, await page.textContent(`#${prefix}error`));
  return page.textContent(`#${prefix}summary`);
}

test('Add to group: 6 users a search found join the chosen group, planned and confirmed in Groups and roles; Remove from group plans them out', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--rate-limit-scale', '40']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    const daniels = (await sandboxUsers(server)).filter((u) => u.firstName === 'Daniel');
    assert.equal(daniels.length, 6);
    // A group none of them is in.
    const groups = await sandboxGroups(server);
    const group = groups.find((g) => daniels.every((u) => !g.members.includes(u.id)));
    assert.ok(group, 'the sandbox has a group without any Daniel');

    await page.fill('#users-table-search', 'daniel');
    await page.waitForFunction(() => document.getElementById('users-table-count').textContent === '6 of 250 rows shown');
    await page.getByRole('checkbox', { name: 'Select all 6 shown', exact: true }).check();
    assert.equal(await page.isVisible('#bulk-add-group'), true);

    // No group known yet: the bar says to read them first, and plans nothing.
    await page.click('#bulk-add-group');
    await page.waitForSelector('#error:not([hidden])');
    assert.equal(await page.textContent('#error'), 'Read the brand\'s groups first (Read the groups, beside Add to group), then choose one.');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'bulk-group');
    assert.equal(await page.isVisible('#view-users'), true, 'nothing planned');

    // Read the groups: the membership pull, whose groups the bar then offers.
    await page.getByRole('button', { name: 'Read the groups', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('bulk-group').options.length > 1 && !document.body.querySelector('#bulk-add-group').disabled, null, { timeout: 60_000 });
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    assert.deepEqual((await page.$$eval('#bulk-group option', (os) => os.map((o) => o.value))).slice(1).sort(), groups.map((g) => g.name).sort());
    assert.equal(await page.isHidden('#bulk-read-groups'), true, 'read once, the button goes');
    await page.selectOption('#bulk-group', group.name);
    assert.deepEqual(await seriousViolations(page), []);

    await page.click('#bulk-add-group');
    await page.waitForSelector('#view-membership:not([hidden])');
    assert.match(await planned(page, 'mb-'), /^6 rows from the Users grid \(selected\): 6 /);
    const rows = await page.$$eval('#mb-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.equal(rows.length, 6);
    for (const r of rows) assert.ok(r.includes(`group ${group.name}: add member`), r);
    assert.equal(await page.textContent('#mb-apply'), 'Apply 6 changes');
    assert.deepEqual(await seriousViolations(page), []);
    // Nothing sent before the confirmation.
    assert.deepEqual((await sandboxGroups(server)).find((g) => g.name === group.name).members, group.members);
    await applyConfirmed(page, 'mb-');
    await page.waitForFunction(() => document.getElementById('mb-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
    assert.equal(await page.textContent('#mb-summary'), 'Outcome: 6 done · 0 unchanged · 0 failed · 0 not sent.');
    const members = (await sandboxGroups(server)).find((g) => g.name === group.name).members;
    assert.deepEqual([...members].sort(), [...group.members, ...daniels.map((u) => u.id)].sort(), 'exactly those six joined');

    // Remove from group: the same six, planned out of it (not applied here).
    await openView(page, 'users');
    assert.equal(await page.textContent('#users-table-selected'), '6 selected', 'the selection stays while the grid is not listed again');
    await page.click('#bulk-remove-group');
    await page.waitForSelector('#view-membership:not([hidden])');
    await page.waitForFunction(() => /remove member/.test(document.getElementById('mb-table').textContent) || !document.getElementById('mb-error').hidden, null, { timeout: 60_000 });
    assert.match(await planned(page, 'mb-'), /^6 rows from the Users grid \(selected\): 6 /);
    for (const r of await page.$$eval('#mb-table tbody tr', (trs) => trs.map((tr) => tr.textContent))) assert.ok(r.includes(`group ${group.name}: remove member`), r);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('Careless cases: no selection, a group chosen then the selection cleared, and a disable of users some of whom are disabled already, planned from the grid\'s listing (a file, and a plan after Apply, read the brand)', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--rate-limit-scale', '40']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    // No selection: no bar, so no action to press.
    assert.equal(await page.isHidden('#users-bulk'), true);
    assert.equal(await page.getByRole('button', { name: 'Add to group' }).count() === 0 || await page.getByRole('button', { name: 'Add to group' }).isHidden(), true);

    const users = await sandboxUsers(server);
    const disabled = users.filter((u) => u.accountStatus === 'disabled');
    assert.ok(disabled.length >= 1, 'the sandbox has disabled users');
    // A group chosen, then the selection cleared: the bar goes, nothing is planned.
    const one = users.find((u) => u.accountStatus === 'active');
    await page.getByRole('checkbox', { name: `Select ${one.username}`, exact: true }).check();
    await page.click('#bulk-read-groups');
    await page.waitForFunction(() => document.getElementById('bulk-group').options.length > 1, null, { timeout: 60_000 });
    await page.selectOption('#bulk-group', { index: 1 });
    await page.click('#bulk-clear');
    assert.equal(await page.isHidden('#users-bulk'), true);
    assert.equal(await page.textContent('#users-table-selected'), '');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'users-table-select-all');
    assert.equal(await page.textContent('#mb-summary'), '', 'nothing planned in Groups and roles');

    // Two disabled users and two active ones (Daniels: no administrators among them): Disable
    // plans the active two, the others unchanged.
    const picked = [...disabled.slice(0, 2), ...users.filter((u) => u.accountStatus === 'active' && u.firstName === 'Daniel').slice(0, 2)];
    for (const u of picked) await page.getByRole('checkbox', { name: `Select ${u.username}`, exact: true }).check();
    assert.equal(await page.textContent('#users-table-selected'), '4 selected');
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    // Planned from the listing the grid shows (read seconds ago), not from the brand read again:
    // the summary says when it was listed, and the rows already disabled say so of the listing.
    assertListed(await planned(page, 'lc-'), '4 rows from the Users grid (selected): 2 disable · 2 unchanged.');
    assert.equal(await page.textContent('#lc-apply'), 'Apply 2 changes');
    const messages = await page.$$eval('#lc-table tbody tr', (trs) => trs.map((tr) => tr.textContent));
    assert.equal(messages.filter((m) => m.includes('already disabled when listed')).length, 2, messages.join('\n'));

    // The same four rows as a pasted file: that plan reads the brand, and says nothing of a listing.
    const csv = ['User ID,Username,Action', ...picked.map((u) => `${u.id},${u.username},disable`)].join('\n');
    await page.fill('#lc-paste', csv);
    await page.click('#lc-plan');
    const file = await planned(page, 'lc-');
    assert.ok(file.startsWith('4 rows from pasted text'), file);
    assert.match(file, /: 2 disable · 2 unchanged\./);
    assert.doesNotMatch(file, /as listed/);

    // The grid's Disable again, applied: once this page has changed the brand, its listing is no
    // longer planned from (it would still show the two as active): the next plan reads the brand.
    await openView(page, 'users');
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    assertListed(await planned(page, 'lc-'), '4 rows from the Users grid (selected): 2 disable · 2 unchanged.');
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
    await openView(page, 'users');
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    assert.equal(await planned(page, 'lc-'), '4 rows from the Users grid (selected): 4 unchanged.');
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('A user\'s details: fields, groups and roles (read on request), the runs that touched them; keyboard, 360 px, axe light and dark', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox', '--rate-limit-scale', '40']);
  try {
    const page = await openPage(browser, server.url + '/', { width: 1366, height: 768 });
    await listed(page, server);
    const users = await sandboxUsers(server);
    const [dan, other] = users.filter((u) => u.firstName === 'Daniel');
    // A run that touched Dan: disabled from the grid, applied.
    await page.getByRole('checkbox', { name: `Select ${dan.username}`, exact: true }).check();
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    assertListed(await planned(page, 'lc-'), '1 row from the Users grid (selected): 1 disable.');
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    await openView(page, 'users');

    // Opened with the keyboard from the row's button, named after the user.
    const opener = page.getByRole('button', { name: `Details of ${dan.username}`, exact: true });
    await opener.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#user-details[open]');
    assert.equal(await page.textContent('#user-details-title'), `${dan.firstName} ${dan.lastName} · ${dan.username}`);
    const fields = await page.$$eval('#user-details-fields dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    assert.equal(fields['User ID'], dan.id);
    assert.equal(fields.Email, dan.email);
    assert.equal(fields['Account status'], 'active', 'as the grid listed it');
    // The run that disabled them, with their row's result.
    await page.waitForFunction(() => !document.getElementById('user-details-runs').textContent.includes('Reading'));
    const runs = await page.$$eval('#user-details-runs li', (lis) => lis.map((li) => li.textContent));
    assert.equal(runs.length, 1, runs.join(' | '));
    assert.match(runs[0], /^Disable · enable · expire, .+, from the Users grid: this user done$/);
    // Groups and roles: not read yet, then read on request.
    assert.match(await page.textContent('#user-details-groups'), /^Not read yet/);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page, '#user-details'), [], scheme);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('#user-details-pull');
    await page.waitForFunction(() => document.getElementById('user-details-pull-row').hidden, null, { timeout: 60_000 });
    const groups = (await sandboxGroups(server)).filter((g) => g.members.includes(dan.id)).map((g) => g.name).sort();
    assert.deepEqual(await page.$$eval('#user-details-groups li', (lis) => lis.map((li) => li.textContent)), groups);
    assert.match(await page.textContent('#user-details-roles'), /^No role rules known/);
    // Escape closes it, back on the row's button.
    await page.keyboard.press('Escape');
    await page.waitForSelector('#user-details:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Details of ${dan.username}`);

    // In the pane's width it fits: another user, the pull already read.
    await page.setViewportSize({ width: 360, height: 640 });
    await page.getByRole('button', { name: `Details of ${other.username}`, exact: true }).click();
    await page.waitForSelector('#user-details[open]');
    const box = await page.locator('#user-details').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 360, JSON.stringify(box));
    assert.equal(await page.isHidden('#user-details-pull-row'), true);
    const otherGroups = (await sandboxGroups(server)).filter((g) => g.members.includes(other.id)).map((g) => g.name).sort();
    assert.deepEqual(await page.$$eval('#user-details-groups li', (lis) => lis.map((li) => li.textContent)), otherGroups.length ? otherGroups : []);
    await page.waitForFunction(() => !document.getElementById('user-details-runs').textContent.includes('Reading'));
    assert.deepEqual(await page.$$eval('#user-details-runs li', (lis) => lis.map((li) => li.textContent)), ['None on this device.']);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page), [], `360 px ${scheme}`);
    }
    await page.click('#user-details-close');
    await page.waitForSelector('#user-details:not([open])', { state: 'attached' });
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('The column chooser: columns hidden stay hidden on this device (a reload, a new listing), and the edit sheet has only the columns shown', async () => {
  const server = await startServer(['--relay-upstream', 'sandbox']);
  try {
    const page = await openPage(browser, server.url + '/');
    await listed(page, server);
    const heads = () => page.$$eval('#users-table thead th:not(.select)', (ths) => ths.map((th) => th.textContent));
    const all = await heads();
    assert.ok(all.includes('Email') && all.includes('Division'), all.join());
    await page.click('#users-table-columns summary');
    await page.getByRole('checkbox', { name: 'Email', exact: true }).uncheck();
    await page.getByRole('checkbox', { name: 'Division', exact: true }).uncheck();
    assert.deepEqual(await heads(), all.filter((c) => c !== 'Email' && c !== 'Division'));

    // Reloaded, connected again: the same columns hidden, their boxes unticked.
    await page.reload();
    await page.waitForSelector('body[data-ready=true]');
    await listed(page, server);
    assert.deepEqual(await heads(), all.filter((c) => c !== 'Email' && c !== 'Division'));
    await page.click('#users-table-columns summary');
    assert.equal(await page.getByRole('checkbox', { name: 'Email', exact: true }).isChecked(), false);
    assert.equal(await page.getByRole('checkbox', { name: 'User ID', exact: true }).isChecked(), true);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page, '#users-table-tools'), [], scheme);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    // Email shown again; a new listing keeps Division hidden.
    await page.getByRole('checkbox', { name: 'Email', exact: true }).check();
    await page.click('#users-table-columns summary');
    await page.click('#list-users');
    await page.waitForFunction(() => document.getElementById('users-table-count').textContent === '250 rows');
    assert.deepEqual(await heads(), all.filter((c) => c !== 'Division'));

    // The edit sheet: the rows selected in the columns shown, and an Action column.
    await page.getByRole('checkbox', { name: 'Select all 250 shown', exact: true }).check();
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('#bulk-download')]);
    const text = (await (await import('node:fs/promises')).readFile(await file.path())).toString('utf8').replace(/^\uFEFF/, '');
    assert.equal(text.split(/\r?\n/)[0], [...all.filter((c) => c !== 'Division'), 'Action'].join(','));
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('The pane: Disable and Add to group act on the rows selected in the Users sheet, hidden rows left out, each planned from a sheet of its own and confirmed', async () => {
  const { openPane } = await import('./office-double.mjs');
  const server = await startServer(['--relay-upstream', 'sandbox', '--users', '120', '--rate-limit-scale', '40']);
  try {
    const page = await openPane(browser, server, { sheets: [{ name: 'Notes', rows: [['x']] }], select: { sheet: 'Notes', address: 'A1' } }, { view: 'users', width: 360 });
    await page.check('input[name=mode][value=qualtrics]');
    await page.fill('#datacenter', 'iad1');
    await page.fill('#token', server.adminToken);
    await page.click('#connect');
    await page.waitForFunction(() => /written to the "Users" sheet/.test(document.getElementById('summary').textContent), null, { timeout: 60_000 });
    const sheet = await page.evaluate(() => window.__workbook.values('Users'));
    const at = (name) => sheet[0].indexOf(name);
    // Eight active users on consecutive rows, none of the administrator's user type (the
    // first user: the one connected).
    const adminType = sheet[1][at('User type')];
    const ok = (r) => r[at('Account status')] === 'active' && r[at('User type')] !== adminType;
    let start = 1;
    while (start + 8 <= sheet.length && !sheet.slice(start, start + 8).every(ok)) start++;
    assert.ok(start + 8 <= sheet.length, 'eight such users in a row');
    const picked = sheet.slice(start, start + 8); // sheet rows start+1 … start+8 (1-based)
    assert.equal(await page.isVisible('#users-bulk'), true, 'the pane shows its bar');
    assert.deepEqual(await seriousViolations(page), []);

    // The selection in another sheet: the bar says where to select.
    await page.click('#bulk-disable');
    await page.waitForSelector('#error:not([hidden])');
    assert.equal(await page.textContent('#error'), 'Select the users\' rows in the "Users" sheet first (List users writes it): the selection is in "Notes".');

    // Rows start+1 … start+8 selected, the third of them hidden by hand: seven users.
    const hiddenRow = start + 2; // 0-based sheet row
    await page.evaluate(({ r, a }) => {
      window.__workbook.sheets.get('Users').hidden.add(r);
      window.__workbook.select('Users', a);
    }, { r: hiddenRow, a: `B${start + 1}:C${start + 8}` });
    const seven = picked.filter((_, i) => i !== 2);
    await page.click('#bulk-disable');
    await page.waitForSelector('#view-lifecycle:not([hidden])');
    // The pane's bulk sheet is planned from the listing it wrote to the Users sheet, too.
    assertListed(await planned(page, 'lc-'), '7 rows from the Users sheet, Bulk lifecycle!A1:C8 (7 rows selected; 1 hidden row left out): 7 disable.');
    const bulkSheet = await page.evaluate(() => window.__workbook.values('Bulk lifecycle'));
    assert.deepEqual(bulkSheet[0], ['User ID', 'Username', 'Action']);
    assert.deepEqual(bulkSheet.slice(1).map((r) => r[0]), seven.map((r) => r[at('User ID')]));
    assert.ok((await sandboxUsers(server)).filter((u) => seven.some((r) => r[at('User ID')] === u.id)).every((u) => u.accountStatus === 'active'), 'nothing sent yet');
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    assert.equal(await page.textContent('#lc-summary'), 'Outcome: 7 done · 0 unchanged · 0 failed · 0 not sent. Written beside your rows in "Bulk lifecycle".');
    const after = await sandboxUsers(server);
    for (const r of picked) assert.equal(after.find((u) => u.id === r[at('User ID')]).accountStatus, r === picked[2] ? 'active' : 'disabled', r[at('Username')]);

    // One user's details in the pane: the first user of the rows selected in the Users sheet,
    // with the run that just disabled them; Escape gives the focus back to the button.
    await openView(page, 'users');
    await page.evaluate((a) => window.__workbook.select('Users', a), `A${start + 1}:C${start + 2}`);
    await page.click('#bulk-details');
    await page.waitForSelector('#user-details[open]');
    const first = picked[0];
    assert.equal(await page.textContent('#user-details-title'), `${first[at('First name')]} ${first[at('Last name')]} · ${first[at('Username')]}`.trim());
    await page.waitForFunction(() => !/Reading/.test(document.getElementById('user-details-runs').textContent));
    assert.match(await page.textContent('#user-details-runs'), /^Disable · enable · expire, .*: this user done$/);
    assert.deepEqual(await seriousViolations(page, '#user-details'), []);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#user-details:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'bulk-details');
    await page.evaluate((a) => window.__workbook.select('Users', a), `B${start + 1}:C${start + 8}`);

    // Add to group: the groups read, one chosen, the same selection planned in Groups.
    await openView(page, 'users');
    await page.click('#bulk-read-groups');
    await page.waitForFunction(() => document.getElementById('bulk-group').options.length > 1, null, { timeout: 60_000 });
    const groups = await sandboxGroups(server);
    const group = groups.find((g) => seven.every((r) => !g.members.includes(r[at('User ID')])));
    await page.selectOption('#bulk-group', group.name);
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      assert.deepEqual(await seriousViolations(page), [], scheme);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('#bulk-add-group');
    await page.waitForSelector('#view-membership:not([hidden])');
    assert.match(await planned(page, 'mb-'), /^7 rows from the Users sheet, Bulk membership!A1:C8 \(7 rows selected; 1 hidden row left out\): 7 /);
    await applyConfirmed(page, 'mb-');
    await page.waitForFunction(() => document.getElementById('mb-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
    const members = (await sandboxGroups(server)).find((g) => g.name === group.name).members;
    assert.deepEqual([...members].sort(), [...group.members, ...seven.map((r) => r[at('User ID')])].sort());
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});
