// Groups and roles in the page, end to end against the sandbox brand (250 users, 12 groups,
// 6 roles): the pull agrees with the sandbox's own state, a filter gives one team, and a
// desired-membership sheet of 40 changes plans with reasons, applies, and re-plans to nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, applyConfirmed } from './harness.mjs';
import { sandboxParticipants } from './provision-sheet.mjs';

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
const toCsv = (rows) => rows.map((r) => r.join(',')).join('\n');

/** (user id | group or role | kind) from the sandbox: group members and role members by rule. */
async function sandboxPairs() {
  const state = await control('control/state');
  const pairs = new Set();
  for (const g of state.groups) for (const m of g.members) pairs.add(`${m}|${g.name}|group`);
  for (const r of state.roles) for (const m of r.members) if (m.auto) pairs.add(`${m.userId}|${r.name}|role by rule`);
  return pairs;
}

async function tableRows(page, id) {
  return page.$$eval(`#${id} tbody tr`, (trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
}

async function pull(page, filter = '') {
  await page.fill('#mp-filter', filter);
  await page.evaluate(() => { document.getElementById('mp-summary').textContent = ''; });
  await page.click('#mp-pull');
  await page.waitForFunction(() => document.getElementById('mp-summary').textContent !== '' || !document.getElementById('mp-error').hidden, null, { timeout: 60_000 });
  assert.equal(await page.locator('#mp-error').isHidden(), true, await page.textContent('#mp-error'));
  const long = await tableRows(page, 'mp-long-table');
  return { long, pairs: new Set(long.map((r) => `${r[6]}|${r[3]}|${r[4]}`)), summary: await page.textContent('#mp-summary') };
}

test('pull membership agrees with the sandbox, filters to a team, and 40 desired changes apply exactly', async () => {
  const page = await openPage(browser, `${server.url}/#membership`);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await page.click('#mtab-rules');
  await page.click('#rl-sandbox');
  await page.waitForFunction(() => document.getElementById('rl-paste').value !== '');
  assert.match(await page.inputValue('#rl-paste'), /^Role,Attribute,Operator,Value\nSeattle Team,Hotel,In,Seattle/);

  const stats = async () => (await control('control/stats')).requests;
  const before = await stats();
  const full = await pull(page);
  const made = (await stats()) - before;
  assert.deepEqual(full.pairs, await sandboxPairs());
  assert.match(full.summary, /^250 users, \d+ memberships \(12 groups, 6 roles\)\. (\d+) requests:/);
  assert.equal(Number(full.summary.match(/ (\d+) requests/)[1]), made, 'the reported count is what the sandbox saw');
  assert.match(full.summary, / 12 for group records \(which are automatic\), /);
  // The fewest the API allows: a page per 100 users, groups, directory participants, members,
  // and (issue 29.8) each group's record, as the listing does not say which are automatic.
  const state = await control('control/state');
  const pages = (n) => Math.max(1, Math.ceil(n / 100));
  assert.equal(made, pages(250) + pages(12) + pages(250) + state.groups.reduce((n, g) => n + pages(g.members.length), 0) + 12);
  // The matrix marks exactly the long table's memberships.
  const matrix = await tableRows(page, 'mp-matrix-table');
  const columns = await page.$$eval('#mp-matrix-table thead th', (ths) => ths.map((th) => th.textContent));
  const marks = new Set();
  for (const row of matrix) row.forEach((c, i) => { if (c === 'x') marks.add(`${row[2]}|${columns[i].replace(/ \(role\)$/, '')}`); });
  assert.deepEqual(marks, new Set(full.long.map((r) => `${r[6]}|${r[3]}`)));
  assert.equal(matrix.length, 250);
  assert.equal(await page.locator('#mp-chart rect').count(), 18, 'one bar per group and role');
  assert.match(await page.textContent('#mp-notes'), /Executive Viewers has no automatic rule/);

  // A manager's team: only the users whose Hotel list holds Seattle.
  const participants = await sandboxParticipants(server);
  const seattle = new Set(participants.filter((p) => (p.metadata.Hotel ?? '').split('::').includes('Seattle')).map((p) => p.userId));
  const team = await pull(page, 'Hotel = Seattle');
  assert.match(team.summary, new RegExp(`^${seattle.size} users,`));
  assert.ok(team.long.every((r) => seattle.has(r[6])), 'only the Seattle team');
  assert.equal((await tableRows(page, 'mp-matrix-table')).length, seattle.size);

  // 40 changes: 20 in groups, 20 in roles by their rules.
  const users = (await (await fetch(`${server.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': server.adminToken } })).json()).result.elements;
  const meta = new Map(participants.map((p) => [p.userId, p.metadata]));
  const rows = [['User', 'Group or role', 'Member']];
  const wanted = new Map();
  users.slice(2, 22).forEach((u, n) => {
    const g = state.groups[n % state.groups.length];
    const yes = !g.members.includes(u.id);
    rows.push([u.username, `group: ${g.name}`, yes ? "yes" : "no"]);
    wanted.set(`${u.id}|${g.name}|group`, yes);
  });
  const rules = { 'Seattle Team': ['Hotel', 'Seattle'], 'Provo Team': ['Hotel', 'Provo'], 'Boston Team': ['Hotel', 'Boston'] };
  users.slice(30, 50).forEach((u, n) => {
    const role = Object.keys(rules)[n % 3];
    const [attr, value] = rules[role];
    const yes = !(meta.get(u.id)?.[attr] ?? '').split('::').includes(value);
    rows.push([u.id, role, yes ? 'yes' : 'no']);
    wanted.set(`${u.id}|${role}|role by rule`, yes);
  });
  await page.click('#mtab-changes');
  await page.fill('#mb-paste', toCsv(rows));
  await page.click('#mb-plan');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent !== '' || !document.getElementById('mb-error').hidden, null, { timeout: 60_000 });
  assert.match(await page.textContent('#mb-summary'), /^40 rows from pasted text \(comma-separated, header on line 1\): /);
  assert.equal(await page.textContent('#mb-apply'), 'Apply 40 changes');
  const plan = await tableRows(page, 'mb-table');
  const headers = await page.$$eval('#mb-table thead th', (ths) => ths.map((th) => th.textContent.trim()));
  const reason = headers.indexOf('Reason');
  assert.ok(plan.some((r) => /^role Seattle Team: Hotel In Seattle -> (add|remove) Seattle (to|from) Hotel$/.test(r[reason])), 'role changes say which rule and attribute');
  assert.ok(plan.some((r) => /^group .+: (add|remove) member$/.test(r[reason])));
  // People, not ids (issue 29.2): each row names the person its User cell found.
  const name = headers.indexOf('Name');
  assert.ok(name >= 0, `a Name column in ${headers}`);
  const byCell = new Map(users.flatMap((u) => [[u.id, u], [u.username, u]]));
  const user = headers.indexOf('User');
  assert.equal(plan.length, 40);
  for (const r of plan) {
    const u = byCell.get(r[user]);
    assert.ok(u && r[name].startsWith(`${u.firstName} ${u.lastName}`), `"${r[name]}" for ${r[user]}`);
  }
  await applyConfirmed(page, 'mb-');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent.startsWith('Outcome:'), null, { timeout: 120_000 });
  assert.equal(await page.textContent('#mb-summary'), 'Outcome: 40 done · 0 unchanged · 0 failed · 0 not sent.');

  const again = await pull(page);
  assert.deepEqual(again.pairs, await sandboxPairs());
  for (const [pair, yes] of wanted) assert.equal(again.pairs.has(pair), yes, pair);
  await page.click('#mb-plan');
  await page.waitForFunction(() => /unchanged/.test(document.getElementById('mb-summary').textContent), null, { timeout: 60_000 });
  assert.equal(await page.textContent('#mb-summary'), '40 rows from pasted text (comma-separated, header on line 1): 40 unchanged.');
  assert.equal(await page.isDisabled('#mb-apply'), true);
  assert.deepEqual(page.problems, []);
});

test('bad desired rows and an unknown operator in the Roles sheet each get a message on their row', async () => {
  const page = await openPage(browser, `${server.url}/#membership`);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await page.click('#mtab-rules');
  await page.fill('#rl-paste', 'Role,Attribute,Operator,Value\nSeattle Team,Hotel,In,Seattle\nOdd Role,Hotel,Contains any,Seattle\nExecutive Viewers,,,');
  await page.click('#mtab-changes');
  await page.fill('#mb-paste', 'User,Group or role,Member\nnobody@nowhere.org,Front Desk,yes\navery.admin@roster-demo.edu,Night Shift,yes\navery.admin@roster-demo.edu,Executive Viewers,yes\navery.admin@roster-demo.edu,Front Desk,perhaps');
  await page.click('#mb-plan');
  await page.waitForFunction(() => document.getElementById('mb-summary').textContent !== '' || !document.getElementById('mb-error').hidden, null, { timeout: 60_000 });
  const problems = await page.locator('#mb-problems li').allTextContents();
  assert.match(problems[0], /^Row 2, User: "nobody@nowhere.org" is not a user of this brand/);
  assert.match(problems[1], /^Row 3, Group or role: "Night Shift" is not a group of this brand nor a role/);
  assert.match(problems[2], /^Row 4, Group or role: role Executive Viewers has no automatic rule/);
  assert.match(problems[3], /^Row 5, Member: "perhaps" is neither yes nor no/);
  await page.click('#mp-pull');
  await page.waitForFunction(() => document.getElementById('mp-summary').textContent !== '', null, { timeout: 60_000 });
  assert.match(await page.textContent('#mp-notes'), /Row 3, Operator: "Contains any" is not an operator qualtrics-roster knows: use Equals/);
  assert.deepEqual(page.problems, []);
});
