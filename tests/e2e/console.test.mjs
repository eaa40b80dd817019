// The page as a console (issue 29): connected, the Connect card gives way to a header item and
// the users are listed at once; Disconnect forgets the token; a connection lost mid-apply is one
// message with Retry, its unsent rows "not sent"; leaving while sending asks first; at 360 px the
// tabs fold into a menu the keyboard works, and tables show the person, change and status first.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, applyConfirmed, seriousViolations } from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  server?.stop();
});

const connected = (page) => page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
const usersListed = (page) => page.waitForFunction(() => document.getElementById('summary').textContent !== '');

/** Sets the sandbox's injected faults (`{}`: none). */
async function faults(body) {
  const res = await fetch(`${server.url}/sandbox/control/faults`, {
    method: 'PUT', headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(res.status, 204);
}

/** Puts every user back as active (a test disables some). */
async function reenable() {
  for (const u of (await sandboxUsers(server)).slice(1).filter((x) => x.accountStatus !== 'active')) {
    await fetch(`${server.url}/sandbox/API/v3/users/${u.id}`, {
      method: 'PUT', headers: { 'x-api-token': server.adminToken, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'active' }),
    });
  }
}

test('connected: the Connect card becomes a header item (who, brand, datacenter) and the users are listed without pressing List users', async () => {
  const page = await openPage(browser, `${server.url}/`);
  assert.equal(await page.isVisible('#view-connect'), true);
  assert.equal(await page.isHidden('#connection-actions'), true, 'nothing to switch or disconnect yet');
  await connectViaRelay(page, server);
  assert.match(await page.textContent('#connection'), /avery\.admin@roster-demo\.edu · brand rosterdemo · iad1/);
  assert.equal(await page.isVisible('#switch-brand'), true);
  assert.equal(await page.isVisible('#disconnect'), true);
  await page.waitForSelector('#view-connect', { state: 'hidden' });

  // The Users view is open: its users are listed with no click.
  await usersListed(page);
  assert.equal(await page.textContent('#summary'), '250 users, 3 pages.');
  assert.equal(await page.locator('#users-table tbody tr').count(), 250);

  // Switch brand reopens the form; keeping the connection folds it again.
  await page.click('#switch-brand');
  assert.equal(await page.getAttribute('#switch-brand', 'aria-expanded'), 'true');
  assert.equal(await page.isVisible('#view-connect'), true);
  assert.deepEqual(await seriousViolations(page, 'header', '#view-connect'), []);
  await page.click('#connect-cancel');
  assert.equal(await page.isHidden('#view-connect'), true);
  assert.equal(await page.getAttribute('#switch-brand', 'aria-expanded'), 'false');
  assert.match(await page.textContent('#who'), /^Connected/);

  // Switching to the sandbox brand lists its users again, for it.
  await page.click('#switch-brand');
  await page.check('input[name=mode][value=sandbox]');
  await page.click('#connect');
  await page.waitForSelector('#view-connect', { state: 'hidden' });
  await usersListed(page);
  assert.equal(await page.locator('#users-table tbody tr').count(), 250);
  assert.deepEqual(page.problems, []);
});

test('Disconnect forgets the token, in the field and in storage, and the Connect form is back', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.check('#remember');
  await page.click('#connect');
  await connected(page);
  await usersListed(page);
  const stored = await page.evaluate(() => localStorage.getItem('qualtrics-roster:connection'));
  assert.ok(stored?.includes(server.adminToken), 'remembered while connected');
  assert.deepEqual(await seriousViolations(page, 'header'), []);

  await page.click('#disconnect');
  await page.waitForSelector('#view-connect:not([hidden])');
  assert.equal(await page.evaluate(() => localStorage.getItem('qualtrics-roster:connection')), null, 'gone from storage');
  const everything = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!everything.includes(server.adminToken), 'the token is nowhere in storage');
  assert.equal(await page.inputValue('#token'), '', 'gone from the field');
  assert.equal(await page.isChecked('#remember'), false);
  assert.equal(await page.textContent('#who'), 'Not connected');
  assert.equal(await page.isHidden('#connection-actions'), true);
  assert.equal(await page.isHidden('#users-table-wrap'), true, 'the brand\'s users are not left on screen');
  assert.equal(await page.isDisabled('#list-users'), true);

  // A reload finds nothing remembered.
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.inputValue('#token'), '');
  assert.deepEqual(page.problems, []);
});

test('a connection lost mid-apply is one message with Retry; the rows never sent end "not sent", and Retry plans only what is left', async () => {
  const page = await openPage(browser, `${server.url}/`);
  await page.click('#connect');
  await connected(page);
  await usersListed(page);
  const users = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 200);
  await openView(page, 'lifecycle');
  await page.fill('#lc-paste', ['Username,Action', ...users.map((u) => `${u.username},disable`)].join('\n'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  assert.equal(await page.textContent('#lc-apply'), 'Apply 200 changes');

  const leaveAsks = () => page.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  });
  assert.equal(await leaveAsks(), false, 'nothing being sent: leaving asks nothing');

  // Slow answers, so the run is still sending when the connection goes.
  await faults({ latencyMs: 150 });
  try {
    await applyConfirmed(page, 'lc-', { count: 200 });
    await page.waitForFunction(() => Number(document.getElementById('lc-progress').value) >= 20, null, { timeout: 20_000 });
    assert.equal(await leaveAsks(), true, 'leaving while sending asks first');
    await faults({ dropConnection: 1 });
    await page.waitForSelector('#lc-lost:not([hidden])', { timeout: 30_000 });
  } finally {
    await faults({});
  }
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
  assert.equal(await leaveAsks(), false);

  const bar = await page.textContent('#lc-lost-text');
  const [, notSent] = bar.match(/^Lost the connection to Qualtrics at \d{1,2}:\d{2}.*?; (\d+) rows? not sent\./) ?? [];
  assert.ok(notSent, bar);
  const summary = await page.textContent('#lc-summary');
  const [, done, failed, unsent] = summary.match(/^Outcome: (\d+) done · 0 unchanged · (\d+) failed · (\d+) not sent\./).map(Number);
  assert.equal(unsent, Number(notSent), summary);
  assert.ok(unsent > 50, `most rows were never sent: ${summary}`);
  assert.ok(failed <= 16, `at most the requests in flight failed, not a flood: ${summary}`);
  assert.equal(done + failed + unsent, 200, summary);
  // One message: no error bar, and the rows say "not sent", distinct from failed ones.
  assert.equal(await page.isHidden('#lc-error'), true);
  assert.equal(await page.locator('#lc-table tbody .badge', { hasText: /^not sent$/ }).count(), unsent);
  assert.match(await page.textContent('#lc-table tbody'), /not sent: the connection to Qualtrics was lost at/);

  // Retry plans again: the rows done are in the journal, so only the rest is planned.
  await page.click('#lc-retry');
  await page.waitForFunction(() => /^Apply \d+ change/.test(document.getElementById('lc-apply').textContent));
  assert.equal(await page.isHidden('#lc-lost'), true);
  const left = Number((await page.textContent('#lc-apply')).match(/\d+/)[0]);
  assert.ok(left >= unsent && left <= unsent + failed, `${left} to apply, ${unsent} not sent, ${failed} unsure`);
  await applyConfirmed(page, 'lc-', { count: left });
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
  assert.equal(await page.textContent('#lc-summary'), `Outcome: ${left} done · ${200 - left} unchanged · 0 failed · 0 not sent.`);
  await reenable();
  assert.deepEqual(page.problems, []);
});

test('at 360 px the tabs fold into a menu button the keyboard opens, moves through and chooses from; tables put the person, change and status first', async () => {
  const page = await openPage(browser, `${server.url}/`, { width: 360, height: 800 });
  assert.equal(await page.isHidden('#tab-lifecycle'), true, 'the tab bar is folded');
  const menuButton = page.locator('#tabs-menu-button');
  assert.equal(await menuButton.isVisible(), true);
  assert.equal(await menuButton.getAttribute('aria-haspopup'), 'menu');
  assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');

  await page.click('#connect');
  await connected(page);
  await usersListed(page);
  // The users table: Username and Account status first (after each row's selection box).
  const heads = await page.$$eval('#users-table thead th:not(.select)', (ths) => ths.map((th) => th.textContent));
  assert.deepEqual(heads.slice(0, 2), ['Username', 'Account status']);
  assert.equal(heads.length, 8);

  // Keyboard only: focus the button, open with Enter, ArrowDown to "Disable · enable · expire", Enter.
  await menuButton.focus();
  await page.keyboard.press('Enter');
  assert.equal(await menuButton.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-users', 'the open view is focused');
  assert.deepEqual(await seriousViolations(page, 'header', '.tabs-menu'), []);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-lifecycle');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  assert.equal(new URL(page.url()).hash, '#lifecycle');
  assert.equal(await menuButton.getAttribute('aria-expanded'), 'false');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tabs-menu-button', 'focus back on the button');
  assert.match(await menuButton.textContent(), /Disable · enable · expire/);
  assert.equal(await page.getAttribute('#menu-lifecycle', 'aria-checked'), 'true');

  // ArrowUp opens it on the last item; Escape closes it, changing nothing.
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'menu-runs', 'the last shown (Automations is hidden here)');
  await page.keyboard.press('Escape');
  assert.equal(await page.isHidden('#tabs-menu'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tabs-menu-button');
  assert.equal(await page.isVisible('#view-lifecycle'), true);

  // A plan's table: the person, the change and the status first.
  const users = (await sandboxUsers(server)).slice(1, 3);
  await page.fill('#lc-paste', ['User ID,Action,Username', ...users.map((u) => `${u.id},disable,${u.username}`)].join('\n'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.querySelectorAll('#lc-table tbody tr').length > 0);
  const planHeads = await page.$$eval('#lc-table thead th', (ths) => ths.map((th) => th.textContent));
  assert.equal(planHeads[0], 'Username', planHeads.join(' | '));
  assert.equal(planHeads[1], 'Change', planHeads.join(' | '));
  assert.deepEqual(page.problems, []);
});
