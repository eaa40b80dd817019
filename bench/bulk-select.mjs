// Benchmark (issue 29.3): in the page (headless Chromium) connected to the sandbox brand of 5,000
// users through the relay, "Select all 5,000 shown" in the Users grid, then Disable, until the
// lifecycle plan of the 5,000 is on screen (its summary written, a frame painted): planned from
// the listing the grid holds (the core's choice while it is recent). Beside it, in
// the same run, the same 5,000 rows pasted into the lifecycle view and planned as a file: a
// plan that reads the brand's users itself, as every bulk plan did before. Median of RUNS each,
// after one warm-up of each (the full core loads on the first plan). Goal: under 1 s.
// Run: node bench/bulk-select.mjs (after npm run build).
import { startServer, launchBrowser, openPage, connectViaRelay } from '../tests/e2e/harness.mjs';
import { emit, median } from './lib.mjs';

const USERS = 5000;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const server = await startServer(['--relay-upstream', 'sandbox', '--users', String(USERS)]);
const browser = await launchBrowser();

try {
  const page = await openPage(browser, `${server.url}/`, { width: 1366, height: 768 });
  await connectViaRelay(page, server);
  await page.waitForFunction((n) => document.getElementById('users-table-count').textContent === `${n.toLocaleString('en-US')} rows`, USERS, { timeout: 120_000 });

  /** Milliseconds from `start()` (in the page) until the lifecycle summary is written and painted. */
  const timed = (start) => page.evaluate((how) => new Promise((resolve, reject) => {
    const summary = document.getElementById('lc-summary');
    const error = document.getElementById('lc-error');
    summary.textContent = '';
    const t0 = performance.now();
    const done = () => {
      if (!error.hidden && error.textContent) {
        obs.disconnect();
        reject(new Error(error.textContent));
      } else if (summary.textContent) {
        obs.disconnect();
        requestAnimationFrame(() => resolve({ ms: performance.now() - t0, summary: summary.textContent }));
      }
    };
    const obs = new MutationObserver(done);
    obs.observe(summary, { childList: true, characterData: true, subtree: true });
    obs.observe(error, { childList: true, characterData: true, subtree: true, attributes: true });
    if (how === 'grid') {
      /** @type {HTMLInputElement} */ (document.getElementById('users-table-select-all')).click();
      /** @type {HTMLButtonElement} */ (document.getElementById('bulk-disable')).click();
    } else {
      /** @type {HTMLButtonElement} */ (document.getElementById('lc-plan')).click();
    }
  }), start);

  /** Back to the Users view with nothing selected. */
  const reset = async () => {
    await page.click('#tab-users');
    await page.waitForSelector('#view-users:not([hidden])');
    if (await page.isVisible('#bulk-clear')) await page.click('#bulk-clear');
  };

  const grid = [];
  let gridSummary = '';
  for (let i = 0; i <= RUNS; i++) {
    await reset();
    const { ms, summary } = await timed('grid');
    gridSummary = summary;
    if (i > 0) grid.push(ms);
    console.log(`select all ${USERS} + Disable until planned: ${ms.toFixed(0)} ms${i ? '' : ' (warm-up)'}: ${summary}`);
  }

  // The same rows as a pasted file, planned in the lifecycle view.
  const csv = await page.evaluate(async () => {
    const { gridOf } = await import('./grid.js');
    const { lifecycleSheet } = await import('./bulk.js');
    const g = gridOf(/** @type {HTMLTableElement} */ (document.getElementById('users-table')));
    const t = /** @type {any} */ (g.table());
    const sheet = lifecycleSheet(t, t.rows.map((_, i) => i), 'disable');
    return [sheet.columns, ...sheet.rows].map((r) => r.join(',')).join('\n');
  });
  await page.click('#tab-lifecycle');
  await page.waitForSelector('#view-lifecycle:not([hidden])');
  await page.$eval('#lc-paste', (box, text) => {
    /** @type {HTMLTextAreaElement} */ (box).value = text;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }, csv);
  const file = [];
  for (let i = 0; i <= RUNS; i++) {
    const { ms, summary } = await timed('file');
    if (i > 0) file.push(ms);
    console.log(`the same ${USERS} rows pasted, planned: ${ms.toFixed(0)} ms${i ? '' : ' (warm-up)'}: ${summary}`);
  }
  if (page.problems.length) throw new Error(page.problems.join('\n'));
  emit({
    bench: 'bulk-select',
    figure: `select all ${USERS.toLocaleString('en-US')} shown + bulk Disable until the plan is on screen (median of ${RUNS})`,
    unit: 'ms',
    ours: median(grid),
    baseline: median(file),
    baselineLabel: 'the same rows pasted and planned, the plan reading the brand\'s users itself, same run',
    goal: 1000,
    note: gridSummary,
  });
} finally {
  await browser.close();
  server.stop();
}
