// Takes the README's screenshots: the task pane at 320 px over the workbook double, and the
// page. Needs a built tree (npm run build). Run by hand: node scripts/screenshots.mjs
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
  await page.goto(`${server.url}/taskpane.html`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
  await page.click('#lc-plan');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
  await page.click('#lc-apply');
  await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome'));
  await page.screenshot({ path: 'docs/taskpane-320.png' });
  console.log('wrote docs/taskpane-320.png');
} finally {
  await browser.close();
  server.stop();
}
