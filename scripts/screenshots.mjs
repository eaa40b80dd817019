// Takes the README's screenshots: the task pane at 320 px over the workbook double (its
// Lifecycle view after a run), and the page (its Users view with the brand's users listed, the
// confirmation of a lifecycle run, its view after the run, and the Runs view with that run on
// record, and Groups and roles with changes asked in its matrix). Needs a built tree (npm run build). Run by hand: node scripts/screenshots.mjs
import { startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { OFFICE_JS, officeDouble } from '../tests/e2e/office-double.mjs';

const server = await startServer(['--relay-upstream', 'sandbox']);
const browser = await launchBrowser();
try {
  const res = await fetch(`${server.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': server.adminToken } });
  const users = (await res.json()).result.elements.slice(1, 13);
  const rows = [['Username', 'Action'], ...users.map((u, i) => [u.username, i % 4 ? 'disable' : 'enable']), ['ghost@nowhere.example', 'disable']];
  const context = await browser.newContext({ viewport: { width: 320, height: 860 }, deviceScaleFactor: 2 });
  await context.route(OFFICE_JS, (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: officeDouble() }));
  const page = await context.newPage();
  await page.addInitScript((s) => { self.__WORKBOOK_SETUP__ = s; }, {
    sheets: [{ name: 'Leavers', rows }], tables: [{ sheet: 'Leavers', address: `A1:B${rows.length}`, name: 'Leavers' }],
    select: { sheet: 'Leavers', address: 'A2' },
  });
  await page.goto(`${server.url}/taskpane.html#lifecycle`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  // Every Apply asks once: confirm in the dialog.
  await page.click('#lc-apply');
  await page.click('#confirm-ok');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome'));
  await page.screenshot({ path: 'docs/taskpane-320.png' });
  console.log('wrote docs/taskpane-320.png');

  // The page: the users of the sandbox brand, then a lifecycle run (the same rows, pasted).
  const web = await (await browser.newContext({ viewport: { width: 1200, height: 800 } })).newPage();
  await web.goto(`${server.url}/#users`);
  await web.waitForSelector('body[data-ready=true]');
  await web.click('#connect');
  await web.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await web.click('#list-users');
  await web.waitForFunction(() => document.getElementById('summary').textContent !== '');
  // Three people ticked: the bulk bar offers what can be done to them.
  const boxes = web.getByRole('checkbox', { name: /^Select (?!all)/ });
  for (const k of [1, 2, 4]) await boxes.nth(k).check();
  await web.evaluate(() => window.scrollTo(0, 0));
  await web.screenshot({ path: 'docs/page-users.png' });
  console.log('wrote docs/page-users.png');
  await web.click('#tab-lifecycle');
  // Other users than the pane's run (those are disabled already).
  const more = await fetch(`${server.url}/sandbox/API/v3/users`, { headers: { 'x-api-token': server.adminToken } });
  const others = (await more.json()).result.elements.slice(20, 44);
  const pageRows = [['Username', 'Action'], ...others.map((u, i) => [u.username, i % 4 ? 'disable' : 'enable']), ['ghost@nowhere.example', 'disable']];
  await web.fill('#lc-paste', pageRows.map((r) => r.join(',')).join('\n'));
  await web.click('#lc-plan');
  await web.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  // The confirmation every Apply asks for, then the run.
  await web.click('#lc-apply');
  await web.waitForSelector('#confirm[open]');
  await web.screenshot({ path: 'docs/page-confirm.png' });
  console.log('wrote docs/page-confirm.png');
  await web.click('#confirm-ok');
  await web.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome'));
  await web.screenshot({ path: 'docs/page-lifecycle.png', fullPage: true });
  console.log('wrote docs/page-lifecycle.png');
  // The Runs view: that run on record, with its results, Retry failed rows and Undo.
  await web.click('#tab-runs');
  await web.waitForSelector('#view-runs li.run');
  await web.screenshot({ path: 'docs/page-runs.png' });
  console.log('wrote docs/page-runs.png');
  // Groups and roles: the sandbox's rules, a pull, and Who is where with two changes asked.
  await web.click('#tab-membership');
  await web.click('#mtab-rules');
  await web.click('#rl-sandbox');
  await web.waitForFunction(() => document.getElementById('rl-paste').value !== '');
  await web.click('#mp-pull');
  await web.waitForFunction(() => document.getElementById('mp-summary').textContent !== '', null, { timeout: 60_000 });
  await web.click('#mtab-where');
  const cells = web.locator('#mx-table tbody button[aria-pressed]:not([aria-disabled="true"])');
  await cells.nth(1).click();
  await cells.nth(7).click();
  await web.screenshot({ path: 'docs/page-groups.png' });
  console.log('wrote docs/page-groups.png');
} finally {
  await browser.close();
  server.stop();
}
