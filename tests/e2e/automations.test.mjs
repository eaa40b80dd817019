// The Automations view against a real hooks server: a sandbox brand in one roster-server, the
// hooks (and the page) in another whose relay reaches that brand. A CRM-shaped event signed as
// Standard Webhooks creates a user in a dashboard role; a second one is parked with its
// reason; the view lists both behind the page's own connection. An event Qualtrics refuses (a
// user type the brand does not have) says what to fix and is not offered Retry; one that failed
// from an outage (every request answered 503) is, and Retry says what it did. Each event's
// details show its mapped row, its plan row and every attempt with Qualtrics' answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, launchBrowser, openPage, openView, connectViaRelay, sandboxUsers, seriousViolations } from './harness.mjs';

const SECRET = 'whsec_ZTJlIGF1dG9tYXRpb25zIHRlc3Qgc2VjcmV0';
// Each hook's secret is its own (a server refuses two hooks sharing one).
const LEAVERS_SECRET = 'whsec_bGVhdmVycyBob29rIG9mIHRoZSBlMmUgdGVzdHM=';
const TYPO_SECRET = 'whsec_dHlwbyBob29rOiBhIHVzZXIgdHlwZSB0aGF0IGlzIGdvbmU=';
/** A user type id the brand does not have: Qualtrics refuses an account of it (400). */
const GONE_TYPE = 'UT_RetiredType0000';
let brand;
let hooks;
let browser;
let dir;

before(async () => {
  brand = await startServer(['--relay-upstream', 'sandbox']);
  dir = mkdtempSync(path.join(tmpdir(), 'roster-automations-'));
  const users = await sandboxUsers(brand);
  const userType = users.map((u) => u.userType).find((t) => t !== 'UT_BRANDADMIN');
  const creds = path.join(dir, 'credentials');
  writeFileSync(creds, `api_token = ${brand.adminToken}\n`);
  chmodSync(creds, 0o600);
  writeFileSync(path.join(dir, 'roles.csv'), 'Role,Attribute,Operator,Value\nSeattle Team,Hotel,In,Seattle\n');
  const config = path.join(dir, 'hooks.toml');
  writeFileSync(config, `
[qualtrics]
base_url = "${brand.url}/sandbox/API/v3"
credentials = "${creds}"
[store]
path = "${path.join(dir, 'events.sqlite')}"
audit = "${path.join(dir, 'audit.jsonl')}"
[retry]
attempts = 2
first_delay_seconds = 0.1
[hooks.crm]
signing_secrets = ["${SECRET}"]
roles = "${path.join(dir, 'roles.csv')}"
[hooks.crm.fields]
Username = "/email"
"First name" = "/firstName"
"Last name" = "/lastName"
Email = "/email"
"User type" = "${userType}"
Role = "/dataAccess"
[hooks.leavers]
signing_secrets = ["${LEAVERS_SECRET}"]
[hooks.leavers.fields]
Username = "/email"
Action = "disable"
[hooks.typo]
signing_secrets = ["${TYPO_SECRET}"]
[hooks.typo.fields]
Username = "/email"
"First name" = "/firstName"
"Last name" = "/lastName"
Email = "/email"
"User type" = "${GONE_TYPE}"
`);
  chmodSync(config, 0o600);
  hooks = await startServer(['--no-sandbox', '--relay-upstream', `${brand.url}/sandbox`, '--hooks-config', config]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  hooks?.stop();
  brand?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Posts `event` to hook `hook` (the crm one by default), signed as Standard Webhooks with
 * message id `id` and the hook's own secret. */
async function post(id, event, hook = 'crm', secret = SECRET) {
  const body = JSON.stringify(event);
  const ts = Math.floor(Date.now() / 1000);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  const res = await fetch(`${hooks.url}/hooks/v1/${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signature}` },
    body,
  });
  return { status: res.status, body: await res.json() };
}

/** Waits until event `id` has ended (done, or failed and parked). */
async function ended(id) {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${hooks.url}/hooks/v1/events/${id}`, { headers: { 'x-api-token': brand.adminToken } });
    const e = await res.json();
    if (e.status === 'done' || (e.status === 'failed' && !e.nextAttemptAt)) return e;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`event ${id} did not end`);
}

test('a signed CRM event creates the user in its dashboard role; the Automations view shows it, and says what to fix on one the plan refuses', async () => {
  const created = await post('crm-1', { email: 'automation.new@example.org', firstName: 'Auto', lastName: 'Mation', dataAccess: 'Seattle Team' });
  assert.equal(created.status, 202, JSON.stringify(created.body));
  // A new account without a last name cannot be created: parked with the plan's reason.
  const parked = await post('crm-2', { email: 'no.last.name@example.org', firstName: 'No' });
  assert.equal(parked.status, 202);
  const done = await ended(created.body.id);
  assert.equal(done.status, 'done', JSON.stringify(done));
  assert.match(done.outcome.message, /created; attributes set/);
  const failed = await ended(parked.body.id);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.reason, 'Last name: empty, but needed to create the account.');

  // The account is in the role whose rule (Hotel In Seattle) its attributes meet.
  const user = (await sandboxUsers(brand)).find((u) => u.username === 'automation.new@example.org');
  assert.ok(user, 'the account exists');
  const state = await (await fetch(`${brand.url}/sandbox/control/state`, { headers: { 'x-api-token': brand.adminToken } })).json();
  const seattle = state.roles.find((r) => r.name === 'Seattle Team');
  assert.ok(seattle.members.some((m) => m.userId === user.id), 'in Seattle Team by its rule');

  // The page served by the hooks' server, connected to the brand through the relay.
  const page = await openPage(browser, `${hooks.url}/`);
  await page.waitForSelector('#tab-automations:not([hidden])');
  await connectViaRelay(page, brand);
  await openView(page, 'automations');
  await page.waitForFunction(() => document.querySelectorAll('#view-automations tbody tr').length >= 2);
  const text = await page.textContent('#view-automations');
  assert.match(text, /automation\.new@example\.org/);
  assert.match(text, /no\.last\.name@example\.org/);
  assert.match(text, /Last name: empty, but needed to create the account\./);

  // Refused by the plan (no last name to create the account with): the same event would be
  // refused again, so no Retry is offered as if it were an outage; the row says what to fix,
  // and the server refuses a retry with the reason.
  assert.equal(failed.retryable, false);
  assert.match(await page.textContent(`#au-table tr[data-event="${failed.id}"]`), /refused: fix this at the source and send it again/);
  assert.equal(await page.locator(`button[aria-label^="Retry event ${failed.id}"]`).count(), 0);
  const retried = await fetch(`${hooks.url}/hooks/v1/events/${failed.id}/retry`, { method: 'POST', headers: { 'x-api-token': brand.adminToken } });
  assert.equal(retried.status, 409);
  assert.match((await retried.json()).error, /refused.*Last name: empty, but needed to create the account\./);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('a burst of leavers over the mass-change brake is quarantined, nothing sent, until an administrator releases it in the Automations view', async () => {
  const active = (await sandboxUsers(brand)).filter((u) => u.accountStatus === 'active' && u.userType !== 'UT_BRANDADMIN');
  const leavers = active.slice(10, 40);
  assert.ok(leavers.length / active.length > 0.1, `30 of ${active.length}`);
  const posted = await post('leavers-1', leavers.map((u) => ({ email: u.username })), 'leavers', LEAVERS_SECRET);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const ids = posted.body.events.map((/** @type {{ id: string }} */ e) => e.id);
  const statusOf = async (id) => (await (await fetch(`${hooks.url}/hooks/v1/events/${id}`, { headers: { 'x-api-token': brand.adminToken } })).json()).status;
  for (let i = 0; i < 300 && (await statusOf(ids[0])) !== 'quarantined'; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await statusOf(ids[0]), 'quarantined');
  const stillActive = async () => {
    const now = await sandboxUsers(brand);
    return leavers.filter((l) => now.find((u) => u.id === l.id)?.accountStatus === 'active').length;
  };
  assert.equal(await stillActive(), 30, 'nothing was sent');

  const page = await openPage(browser, `${hooks.url}/`);
  await page.waitForSelector('#tab-automations:not([hidden])');
  await connectViaRelay(page, brand);
  await openView(page, 'automations');
  const release = `button[aria-label^="Release event ${ids[0]}"]`;
  await page.waitForSelector(release);
  assert.match(await page.textContent('#view-automations'), /nothing was sent: Release applies the whole burst, Discard drops it/);
  assert.ok(await page.isVisible(`button[aria-label^="Discard event ${ids[0]}"]`));
  await page.click(release);
  for (let i = 0; i < 300 && (await stillActive()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await stillActive(), 0, 'released: every leaver disabled');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the Runs view lists the hooks\' runs beside this device\'s, marked "hook" and read-only', async () => {
  const page = await openPage(browser, `${hooks.url}/#runs`);
  await page.waitForSelector('#view-runs:not([hidden])');
  await page.waitForFunction(() => /Connect to see/.test(document.getElementById('rn-hooks-note').textContent));
  await connectViaRelay(page, brand);
  await openView(page, 'users');
  await openView(page, 'runs');
  await page.waitForFunction(() => document.querySelectorAll('#rn-hooks li.run').length >= 2);
  const items = await page.$$eval('#rn-hooks li.run', (lis) => lis.map((li) => li.textContent));
  assert.ok(items.some((t) => /^done hook crm · .*create automation\.new@example\.org/.test(t) || /^done hook crm/.test(t)), items.join('\n'));
  assert.ok(items.some((t) => /^failed hook crm .*Last name: empty, but needed to create the account\./.test(t)), items.join('\n'));
  assert.equal(await page.locator('#rn-hooks button').count(), 0, 'read-only: steered in Automations');
  assert.match(await page.textContent('#rn-count'), /No runs on this device yet/);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await seriousViolations(page), [], `Runs with hook runs (${scheme})`);
  }
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the Automations view is live: says to connect first before connecting, then shows an event sent while it is open within 5 s, without Refresh, keeping the focus', async () => {
  const page = await openPage(browser, `${hooks.url}/`);
  await page.waitForSelector('#tab-automations:not([hidden])');
  await openView(page, 'automations');
  await page.waitForFunction(() => document.getElementById('au-count').textContent.startsWith('Connect first'));
  assert.equal(await page.isVisible('#au-table'), false, 'no empty table before connecting');

  await connectViaRelay(page, brand);
  await openView(page, 'automations');
  await page.waitForFunction(() => document.querySelectorAll('#view-automations tbody tr').length >= 1);
  // The keyboard is on the search box (outside the table): a poll does not take it away.
  await page.focus('#au-search');
  const sent = Date.now();
  const res = await post('crm-live-1', { email: 'live.one@example.org', firstName: 'Live', lastName: 'One' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await page.waitForFunction(() => document.getElementById('au-table').textContent.includes('live.one@example.org'), null, { timeout: 5000 });
  assert.ok(Date.now() - sent <= 5000, `shown ${Date.now() - sent} ms after it was sent`);
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'au-search');
  await ended(res.body.id);
  assert.deepEqual(page.problems, []);
  await page.close();
});

/** Sets the brand's injected faults (the sandbox's control endpoint). */
async function faults(/** @type {object} */ f) {
  const res = await fetch(`${brand.url}/sandbox/control/faults`, { method: 'PUT', headers: { 'x-api-token': brand.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(f) });
  assert.ok(res.ok, `faults: HTTP ${res.status}`);
}

test('each event\'s details show its mapped row, its plan and every attempt with Qualtrics\' answer; Retry only on the outage, saying what it did; a refusal says what to fix', async () => {
  // Refused by Qualtrics: an account of a user type the brand does not have (400).
  const typo = await post('typo-1', { email: 'typo.one@example.org', firstName: 'Ty', lastName: 'Po' }, 'typo', TYPO_SECRET);
  assert.equal(typo.status, 202, JSON.stringify(typo.body));
  const refused = await ended(typo.body.id);
  assert.equal(refused.status, 'failed');
  assert.equal(refused.retryable, false, JSON.stringify(refused));
  // An outage: every request to the brand answered 503 until the event is parked.
  await faults({ error503: 1 });
  let outage;
  try {
    const sent = await post('crm-outage-1', { email: 'outage.one@example.org', firstName: 'Out', lastName: 'Age' });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    outage = await ended(sent.body.id);
  } finally {
    await faults({});
  }
  assert.equal(outage.status, 'failed');
  assert.equal(outage.retryable, true, JSON.stringify(outage));

  const page = await openPage(browser, `${hooks.url}/`);
  await page.waitForSelector('#tab-automations:not([hidden])');
  await connectViaRelay(page, brand);
  await openView(page, 'automations');
  const typoRow = `#au-table tr[data-event="${refused.id}"]`;
  const outageRow = `#au-table tr[data-event="${outage.id}"]`;
  await page.waitForSelector(typoRow);
  await page.waitForSelector(outageRow);

  // The refusal: no Retry, and what to fix in Qualtrics' words.
  assert.equal(await page.locator(`button[aria-label^="Retry event ${refused.id}"]`).count(), 0, 'no Retry on a refusal');
  assert.match(await page.textContent(typoRow), /Invalid value for userType.*refused: fix this at the source/);
  // Its details, opened from the keyboard: the mapped row, the plan row, the request and answer.
  const typoDetails = `button[aria-label^="Details of event ${refused.id}"]`;
  await page.focus(typoDetails);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => /Attempts/.test(document.getElementById(`au-details-${id}`)?.textContent ?? ''), refused.id);
  assert.equal(await page.getAttribute(typoDetails, 'aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), await page.getAttribute(typoDetails, 'aria-label'), 'the keyboard stays on Details');
  let shown = await page.textContent(`#au-details-${refused.id}`);
  assert.match(shown, /What to fix: Qualtrics refused the request \(HTTP 400, SBX_BAD_VALUE\): Invalid value for userType/);
  assert.match(shown, /Mapped row.*Usernametypo\.one@example\.org/s);
  assert.match(shown, new RegExp(`User type${GONE_TYPE}`));
  assert.match(shown, /Plan.*create/is);
  assert.match(shown, /POST \/sandbox\/API\/v3\/users400Qualtrics refused the request/);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await seriousViolations(page), [], `Automations with a refusal's details (${scheme})`);
  }

  // The outage: Retry offered; its details give each try the brand could not be read one line:
  // its last resend, with Qualtrics' 503 and how many failed (not a line per resend).
  const retry = `button[aria-label^="Retry event ${outage.id}"]`;
  assert.equal(await page.locator(retry).count(), 1, 'Retry on an outage');
  await page.click(`button[aria-label^="Details of event ${outage.id}"]`);
  assert.equal(await page.getAttribute(typoDetails, 'aria-expanded'), 'false', 'one event\'s details at a time');
  await page.waitForFunction((id) => /503/.test(document.getElementById(`au-details-${id}`)?.textContent ?? ''), outage.id);
  shown = await page.textContent(`#au-details-${outage.id}`);
  assert.ok((shown.match(/503/g) ?? []).length >= 2, shown);
  assert.match(shown, /\(resend \d+\).*GET \/sandbox\/API\/v3\/users503.*the last of \d+ failed requests reading the brand/s);
  const lines = (shown.match(/failed requests reading the brand/g) ?? []).length;
  const tries = (shown.match(/\d+ \(resend \d+\)/g) ?? []).length;
  assert.equal(lines, tries, `one line per try: ${shown}`);
  assert.doesNotMatch(shown, /What to fix/);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await seriousViolations(page), [], `Automations with an outage's details (${scheme})`);
  }

  // Retry says what it does: retrying, then done (the brand answers again); the details show
  // the second try's request and answer beside the first's.
  await page.click(retry);
  await page.waitForFunction(() => /retrying|retry queued/.test(document.getElementById('au-feedback')?.textContent ?? ''));
  await page.waitForFunction(() => /retried, done/.test(document.getElementById('au-feedback')?.textContent ?? ''), null, { timeout: 30000 });
  assert.match(await page.textContent('#au-feedback'), new RegExp(`Event ${outage.id} for outage\\.one@example\\.org: retried, done`));
  await page.waitForFunction((id) => /POST \/sandbox\/API\/v3\/users200/.test(document.getElementById(`au-details-${id}`)?.textContent ?? ''), outage.id);
  assert.equal(await page.locator(retry).count(), 0, 'done: nothing to retry');
  assert.deepEqual(page.problems, []);
  await page.close();
});
