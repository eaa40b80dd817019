// Groups and roles in sub-views (issue 29.8), end to end against the sandbox brand: the
// sub-views follow the URL and the keyboard; the matrix is editable (a press adds a row to the
// change sheet, a second press takes it out, the rules' consequences beside it, a role without
// a rule refused with the reason); a people picker adds members; the change sheet is planned,
// applied through the confirmation, and the sandbox's groups then hold exactly what was asked.
// At the pane's 360 px the sub-views are usable; axe finds nothing serious, light and dark.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, applyConfirmed, seriousViolations, parseCsv } from './harness.mjs';
import { openPane } from './office-double.mjs';

let server;
let browser;
before(async () => {
  server = await startServer(['--rate-limit-scale', '40']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const control = async (what) => (await fetch(`${server.url}/sandbox/${what}`, { headers: { 'x-api-token': server.adminToken } })).json();
const sandboxState = () => control('control/state');
async function sandboxUsers() {
  const res = await fetch(`${server.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': server.adminToken } });
  return (await res.json()).result.elements;
}

async function connectAndPull(page) {
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await openView(page, 'membership');
  await page.click('#mtab-rules');
  await page.click('#rl-sandbox');
  await page.waitForFunction(() => document.getElementById('rl-paste').value !== '');
  await pull(page);
}

async function pull(page) {
  await page.evaluate(() => { document.getElementById('mp-summary').textContent = ''; });
  await page.click('#mp-pull');
  await page.waitForFunction(() => document.getElementById('mp-summary').textContent !== '' || !document.getElementById('mp-error').hidden, null, { timeout: 60_000 });
  assert.equal(await page.locator('#mp-error').isHidden(), true, await page.textContent('#mp-error'));
}

/** The matrix cell of `username` in `target`, found through the matrix's own search. */
async function cell(page, username, target) {
  await page.fill('#mx-search', username);
  return page.getByRole('button', { name: `${username} in ${target}`, exact: true });
}

const sheetRows = (page) => page.$$eval('#cs-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));

test('two cells toggled and one person picked are planned, confirmed and applied exactly; a second press takes a row out', async () => {
  const page = await openPage(browser, `${server.url}/#membership`, { width: 1366, height: 768 });
  await connectAndPull(page);
  // The rules and whom they give each role.
  const rules = await page.$$eval('#rl-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rules.find((r) => r[0] === 'Seattle Team')?.slice(0, 2), ['Seattle Team', 'Hotel In Seattle']);
  assert.match(rules.find((r) => r[0] === 'Executive Viewers')?.[1] ?? '', /no automatic rule/);

  await page.click('#mtab-where');
  assert.equal(await page.evaluate(() => location.hash), '#membership/where');
  // No longer one long page: the matrix scrolls in its own region.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(height < 1600, `the page is ${height} px high`);

  const state = await sandboxState();
  const users = await sandboxUsers();
  const byId = new Map(users.map((u) => [u.id, u]));
  const [g0, g1, g2] = state.groups;
  const add = users.find((u) => !g0.members.includes(u.id));
  const remove = byId.get(g1.members[0]);
  const picked = users.find((u) => !g2.members.includes(u.id) && u.id !== add.id && u.id !== remove.id && u.firstName);

  const a = await cell(page, add.username, g0.name);
  assert.equal(await a.getAttribute('aria-pressed'), 'false');
  await a.click();
  assert.equal(await a.getAttribute('aria-pressed'), 'true');
  await page.waitForFunction(() => /By the rules: roles unchanged/.test(document.getElementById('mx-note').textContent));
  const r = await cell(page, remove.username, g1.name);
  assert.equal(await r.getAttribute('aria-pressed'), 'true');
  await r.click();
  assert.equal(await r.getAttribute('aria-pressed'), 'false');

  // A second press takes the row out again.
  const twice = await cell(page, add.username, g2.name);
  await twice.click();
  assert.equal((await sheetRows(page)).length, 3);
  await twice.click();
  assert.equal((await sheetRows(page)).length, 2);
  assert.equal(await twice.getAttribute('aria-pressed'), String(g2.members.includes(add.id)));

  // A role without a rule cannot be asked for: refused, with the reason.
  await (await cell(page, add.username, 'Executive Viewers')).click();
  assert.match(await page.textContent('#mx-note'), /Executive Viewers has no automatic rule/);
  assert.equal((await sheetRows(page)).length, 2);

  // The people picker: found by name, chosen, added.
  await page.click('#mtab-changes');
  await page.selectOption('#pk-group', g2.name);
  await page.fill('#pk-search', `${picked.firstName} ${picked.lastName}`);
  await page.check(`#pk-${picked.id}`);
  assert.equal(await page.textContent('#pk-add'), `Add 1 chosen to ${g2.name}`);
  await page.click('#pk-add');
  const sheet = await sheetRows(page);
  assert.deepEqual(sheet.map((row) => row.slice(1, 4)), [
    [add.username, g0.name, 'add'],
    [remove.username, g1.name, 'remove'],
    [picked.username, g2.name, 'add'],
  ]);
  assert.ok(sheet.every((row) => /roles unchanged/.test(row[4])), 'each row says what the rules make of it');
  assert.equal(await page.textContent('#cs-count'), '(3)');

  // The change sheet downloads as a membership sheet.
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#cs-download')]);
  const { readFileSync } = await import('node:fs');
  assert.deepEqual(parseCsv(readFileSync(await file.path(), 'utf8')), [
    ['User', 'Group or role', 'Member'],
    [add.username, `group: ${g0.name}`, 'yes'],
    [remove.username, `group: ${g1.name}`, 'no'],
    [picked.username, `group: ${g2.name}`, 'yes'],
  ]);

  // Nothing is sent before Apply and its confirmation.
  const sent = (await control('control/stats')).requests;
  await page.click('#cs-plan');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent !== '' || !document.getElementById('mb-error').hidden, null, { timeout: 60_000 });
  assert.match(await page.textContent('#mb-summary'), /^3 rows from the change sheet \(3 asked in Groups and roles\): /);
  assert.equal(await page.textContent('#mb-apply'), 'Apply 3 changes');
  const reads = (await control('control/stats')).requests - sent;
  assert.deepEqual(await sandboxState().then((s) => s.groups.map((g) => g.members)), state.groups.map((g) => g.members), `planning only read (${reads} requests)`);
  await applyConfirmed(page, 'mb-');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent.startsWith('Outcome:'), null, { timeout: 60_000 });
  assert.equal(await page.textContent('#mb-summary'), 'Outcome: 3 done · 0 unchanged · 0 failed · 0 not sent.');

  const now = await sandboxState();
  const expected = state.groups.map((g) => {
    const members = new Set(g.members);
    if (g.name === g0.name) members.add(add.id);
    if (g.name === g1.name) members.delete(remove.id);
    if (g.name === g2.name) members.add(picked.id);
    return [g.name, [...members].sort()];
  });
  assert.deepEqual(now.groups.map((g) => [g.name, [...g.members].sort()]), expected);

  // Pulled again, the changes made leave the change sheet.
  await pull(page);
  assert.equal((await sheetRows(page)).length, 0);
  assert.equal(await page.isVisible('#cs-empty'), true);
  assert.deepEqual(page.problems, []);
});

test('the Rules sub-view shows the rules as the core read them, whatever header spelling the Roles sheet uses', async () => {
  const page = await openPage(browser, `${server.url}/#membership`, { width: 1366, height: 768 });
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await openView(page, 'membership');
  await page.click('#mtab-rules');
  // Headers the core accepts besides Role/Attribute/Operator/Value, and an operator written
  // "contains" (read as In): the page must not need the template's exact spelling.
  await page.fill('#rl-paste', 'Dashboard role\tMetadata\tCondition\tValues\nSeattle Team\tHotel\tcontains\tSeattle\nNight Desk\tShift\tequals\tNight\n');
  await pull(page);
  const rules = await page.$$eval('#rl-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.deepEqual(rules.find((r) => r[0] === 'Seattle Team')?.slice(0, 2), ['Seattle Team', 'Hotel In Seattle']);
  assert.deepEqual(rules.find((r) => r[0] === 'Night Desk')?.slice(0, 2), ['Night Desk', 'Shift Equals Night']);
  assert.deepEqual(page.problems, []);
});

test('sub-views follow the URL and the keyboard; a cell toggles from the keyboard alone, with the rules\' consequences beside it', async () => {
  const page = await openPage(browser, `${server.url}/#membership/changes`, { width: 1366, height: 768 });
  assert.equal(await page.isVisible('#mp-sub-changes'), true);
  assert.equal(await page.getAttribute('#mtab-changes', 'aria-selected'), 'true');
  assert.equal(await page.isHidden('#mp-sub-where'), true);
  await page.focus('#mtab-changes');
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => location.hash === '#membership/rules');
  assert.equal(await page.isVisible('#mp-sub-rules'), true);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'mtab-rules');
  await page.keyboard.press('Home');
  await page.waitForFunction(() => location.hash === '#membership/where');
  await page.goBack();
  await page.waitForFunction(() => location.hash === '#membership/rules');
  assert.equal(await page.isVisible('#mp-sub-rules'), true);
  // Another view and back: the sub-view last open.
  await openView(page, 'users');
  await openView(page, 'membership');
  assert.equal(await page.isVisible('#mp-sub-rules'), true);

  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await openView(page, 'membership');
  await page.click('#rl-sandbox');
  await page.waitForFunction(() => document.getElementById('rl-paste').value !== '');
  await pull(page);
  await page.click('#mtab-where');

  // A user outside Seattle Team: from the keyboard, to the Seattle Team cell, and pressed.
  const state = await sandboxState();
  const seattle = state.roles.find((r) => r.name === 'Seattle Team');
  const inSeattle = new Set(seattle.members.map((m) => m.userId));
  const user = (await sandboxUsers()).find((u) => !inSeattle.has(u.id));
  await page.fill('#mx-search', user.username);
  const columns = await page.$$eval('#mx-table thead th', (ths) => ths.map((th) => th.textContent));
  const at = columns.indexOf('Seattle Team (role)') - 1;
  await page.locator('#mx-table button.cell[tabindex="0"]').focus();
  for (let i = 0; i < at; i++) await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `${user.username} in Seattle Team`);
  await page.keyboard.press('Space');
  const target = page.getByRole('button', { name: `${user.username} in Seattle Team`, exact: true });
  assert.equal(await target.getAttribute('aria-pressed'), 'true');
  await page.waitForFunction(() => /gains Seattle Team/.test(document.getElementById('mx-note').textContent));
  assert.match(await page.textContent('#mx-note'), /By the rules: gains Seattle Team \(role Seattle Team: Hotel In Seattle -> add Seattle to Hotel\)/);
  const rows = await sheetRows(page);
  assert.equal(rows.length, 1);
  assert.match(rows[0][4], /^gains Seattle Team/);
  // Pressed again from the keyboard: out of the change sheet.
  await page.keyboard.press('Enter');
  assert.equal(await target.getAttribute('aria-pressed'), 'false');
  assert.equal((await sheetRows(page)).length, 0);
  assert.equal(await page.textContent('#cs-count'), '');

  // With a pending change in each sub-view: axe, light and dark.
  await target.click();
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const sub of ['where', 'rules', 'changes']) {
      await page.click(`#mtab-${sub}`);
      if (sub === 'changes') {
        await page.selectOption('#pk-group', state.groups[0].name);
        await page.fill('#pk-search', user.firstName ?? user.username);
      }
      assert.deepEqual(await seriousViolations(page, '#view-membership'), [], `${sub} (${scheme})`);
    }
  }
  assert.deepEqual(page.problems, []);
});

test('at the pane\'s 360 px the sub-views are tabs that fit, each opening its panel, and a pressed cell plans from a sheet of its own', async () => {
  const setup = { sheets: [{ name: 'Asks', rows: [['User', 'Group or role', 'Member']] }], select: { sheet: 'Asks', address: 'A1' } };
  const page = await openPane(browser, server, setup, { view: 'membership', width: 360 });
  for (const sub of ['rules', 'changes', 'where']) {
    await page.click(`#mtab-${sub}`);
    assert.equal(await page.isVisible(`#mp-sub-${sub}`), true, sub);
    assert.equal(await page.evaluate(() => location.hash), `#membership/${sub}`);
  }
  const fit = await page.$eval('.subtabs', (el) => ({ scroll: el.scrollWidth, width: el.clientWidth, height: el.getBoundingClientRect().height }));
  assert.ok(fit.scroll <= fit.width, `the sub-view tabs fit (${fit.scroll} > ${fit.width})`);
  assert.ok(fit.height < 50, `on one line (${fit.height} px)`);
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true, 'no sideways scrolling');
  await page.click('#mtab-rules');
  assert.equal(await page.isVisible('#rl-sandbox'), true);
  await page.click('#mtab-changes');
  assert.equal(await page.isVisible('#mb-plan'), true);
  // Connected and pulled: a cell pressed at 360 px is planned from a sheet of its own.
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await pull(page);
  await page.click('#mtab-where');
  const state = await sandboxState();
  const user = (await sandboxUsers()).find((u) => !state.groups[0].members.includes(u.id));
  await (await cell(page, user.username, state.groups[0].name)).click();
  await page.click('#mtab-changes');
  await page.click('#cs-plan');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent !== '' || !document.getElementById('mb-error').hidden, null, { timeout: 60_000 });
  assert.match(await page.textContent('#mb-summary'), /^1 row from the change sheet, .*: 1 add to group\./);
  assert.deepEqual((await page.evaluate(() => window.__workbook.values('Membership changes'))).slice(0, 2), [
    ['User', 'Group or role', 'Member'],
    [user.username, `group: ${state.groups[0].name}`, 'yes'],
  ]);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const sub of ['where', 'changes']) {
      await page.click(`#mtab-${sub}`);
      assert.deepEqual(await seriousViolations(page, '#view-membership'), [], `${sub} (${scheme})`);
    }
  }
  assert.deepEqual(page.problems, []);
});

test('an automatic group\'s cells are not toggles: not editable, with the reason, and neither the picker nor the Users bar offers the group', async () => {
  // Issue 29.8: Qualtrics decides the members of brand-wide and division-wide groups.
  const auto = await startServer(['--rate-limit-scale', '40', '--auto-groups']);
  try {
    const page = await openPage(browser, `${auto.url}/#membership`, { width: 1366, height: 768 });
    await connectAndPull(page);
    await page.click('#mtab-where');
    const state = await (await fetch(`${auto.url}/sandbox/control/state`, { headers: { 'x-api-token': auto.adminToken } })).json();
    const res = await fetch(`${auto.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': auto.adminToken } });
    const users = (await res.json()).result.elements;
    const automatic = state.groups.filter((g) => g.auto).map((g) => g.name);
    assert.deepEqual(automatic, ['All Staff', 'Everyone in Arts & Sciences']);
    const manual = state.groups.find((g) => !g.auto);
    const outsider = users.find((u) => !u.divisionId);

    const heads = await page.$$eval('#mx-table thead th', (ths) => ths.map((th) => th.textContent));
    assert.ok(heads.includes('All Staff (brand-wide, automatic)'), heads.join(' | '));
    assert.ok(heads.includes('Everyone in Arts & Sciences (division-wide, automatic)'));

    const all = await cell(page, outsider.username, 'All Staff');
    assert.equal(await all.getAttribute('aria-disabled'), 'true');
    assert.equal(await all.getAttribute('aria-pressed'), 'true', 'every user of the brand is a member');
    assert.match(await all.getAttribute('title'), /All Staff is a brand-wide group: Qualtrics makes every user of the brand a member/);
    assert.equal(await all.isEnabled(), false, 'not offered as a toggle');
    await all.click({ force: true });
    assert.equal((await sheetRows(page)).length, 0, 'nothing asked');
    assert.match(await page.textContent('#mx-note'), /All Staff is a brand-wide group/);
    assert.equal(await all.getAttribute('aria-pressed'), 'true');

    const division = await cell(page, outsider.username, 'Everyone in Arts & Sciences');
    assert.equal(await division.getAttribute('aria-disabled'), 'true');
    assert.equal(await division.getAttribute('aria-pressed'), 'false');
    assert.match(await division.getAttribute('title'), /division-wide group: .*change the user's division instead/);
    await division.focus();
    await page.keyboard.press('Space');
    assert.equal((await sheetRows(page)).length, 0, 'nor from the keyboard');
    assert.equal(await division.getAttribute('aria-pressed'), 'false');

    // A manual group's cell stays a toggle.
    const toggle = await cell(page, outsider.username, manual.name);
    assert.equal(await toggle.getAttribute('aria-disabled'), null);
    await toggle.click();
    assert.equal((await sheetRows(page)).length, 1);

    // The people picker offers only groups whose members are added by hand.
    await page.click('#mtab-changes');
    const offered = await page.$$eval('#pk-group option', (os) => os.map((o) => o.value));
    assert.equal(offered.length, state.groups.length - 2);
    assert.ok(!offered.some((g) => automatic.includes(g)), offered.join(', '));
    // Nor does the Users grid's bar (Add to group, Remove from group).
    const bar = await page.$$eval('#bulk-group option', (os) => os.map((o) => o.value).filter(Boolean));
    assert.equal(bar.length, state.groups.length - 2, bar.join(', '));
    assert.ok(!bar.some((g) => automatic.includes(g)), bar.join(', '));

    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const sub of ['where', 'changes']) {
        await page.click(`#mtab-${sub}`);
        if (sub === 'where') await page.fill('#mx-search', outsider.username);
        assert.deepEqual(await seriousViolations(page, '#view-membership'), [], `${sub} (${scheme})`);
      }
    }
    assert.deepEqual(page.problems, []);
  } finally {
    auto.stop();
  }
});
