// Benchmark: a 50,000-user table in the page (headless Chromium), the longest frame while
// scrolling it and while filtering it, in the page's table (grid.js: only the rows in view are in
// the document) beside the same 50,000 rows as one plain <table> with every row in the document
// (ui.js renderTable, the page before), measured in the same run. A frame is the time between
// two requestAnimationFrame callbacks; a long task (PerformanceObserver 'longtask') is counted
// too, and the longer of the two is the figure. Scrolling: 60 wheel steps of 400 px down then
// up, each followed by a frame. Filtering: a search typed a key at a time ("user4", then
// backspaces), then a status filter chosen and cleared. Goal: no frame over 100 ms.
// Run: node bench/table-50k.mjs (after npm run build).
import { startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { emit } from './lib.mjs';

const ROWS = 50_000;
const server = await startServer(['--no-sandbox']);
const browser = await launchBrowser();

/** Fills the users table with ROWS rows, the page's way (`grid`) or the old way (`plain`). */
async function fill(page, how) {
  return page.evaluate(async ({ how, n }) => {
    const statuses = ['active', 'disabled'];
    const table = {
      columns: ['User ID', 'Username', 'First name', 'Last name', 'Email', 'User type', 'Division', 'Account status'],
      rows: Array.from({ length: n }, (_, i) => [`UR_${String(i).padStart(15, '0')}`, `user${i}@example.org`, `First${i % 977}`, `Last${i % 1291}`,
        `user${i}@example.org`, i % 10 ? `UT_type${i % 4}` : 'UT_BRANDADMIN', `DV_div${i % 13}`, statuses[i % 5 === 0 ? 1 : 0]]),
    };
    const el = /** @type {HTMLTableElement} */ (document.getElementById('users-table'));
    const wrap = document.getElementById('users-table-wrap');
    wrap.hidden = false;
    const t0 = performance.now();
    if (how === 'grid') {
      const { gridOf } = await import('./grid.js');
      gridOf(el).set(table);
    } else {
      const { renderTable } = await import('./ui.js');
      renderTable(el, table);
      // The old page's filter: the whole table drawn again with the rows that match.
      window.__plainFilter = (/** @type {string} */ q) => renderTable(el, { columns: table.columns, rows: table.rows.filter((r) => r.join(' ').toLowerCase().includes(q)) });
    }
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
  }, { how, n: ROWS });
}

/** Starts recording frames and long tasks in the page. */
const record = (page) => page.evaluate(() => {
  const rec = { frames: [], tasks: [], on: true };
  window.__rec = rec;
  let last = performance.now();
  const tick = (t) => {
    if (!rec.on) return;
    rec.frames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame((t) => { last = t; requestAnimationFrame(tick); });
  new PerformanceObserver((list) => { for (const e of list.getEntries()) rec.tasks.push(e.duration); }).observe({ type: 'longtask' });
});
/** Stops recording: the longest frame or long task, in ms. */
const longest = (page) => page.evaluate(async () => {
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const rec = window.__rec;
  rec.on = false;
  return Math.max(0, ...rec.frames, ...rec.tasks);
});
const frame = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));

async function measure(how) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${server.url}/#users`);
  await page.waitForSelector('body[data-ready=true]');
  const render = await fill(page, how);
  // Scrolling: the mouse wheel over the table, down then up.
  await page.hover('#users-table-wrap');
  await record(page);
  for (let i = 0; i < 60; i++) {
    await page.mouse.wheel(0, i < 30 ? 400 : -400);
    await frame(page);
  }
  const scroll = await longest(page);
  // Filtering: typing a search, then (the page) a status filter.
  await record(page);
  if (how === 'grid') {
    await page.click('#users-table-search');
    for (const key of ['u', 's', 'e', 'r', '4']) {
      await page.keyboard.press(key);
      await frame(page);
    }
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Backspace');
      await frame(page);
    }
    const status = page.locator('#users-table-tools label:has-text("Status") select');
    await status.selectOption({ index: 2 });
    await frame(page);
    await status.selectOption('');
    await frame(page);
  } else {
    for (const q of ['u', 'us', 'use', 'user', 'user4', 'user', 'use', 'us', 'u', '']) {
      await page.evaluate((text) => window.__plainFilter(text), q);
      await frame(page);
    }
  }
  const filter = await longest(page);
  await page.close();
  return { render, scroll, filter };
}

try {
  const plain = await measure('plain');
  const grid = await measure('grid');
  console.log(`50,000 rows: page table drawn in ${grid.render.toFixed(0)} ms (plain ${plain.render.toFixed(0)} ms); longest frame scrolling ${grid.scroll.toFixed(0)} ms (plain ${plain.scroll.toFixed(0)} ms), filtering ${grid.filter.toFixed(0)} ms (plain ${plain.filter.toFixed(0)} ms)`);
  const baselineLabel = 'one plain <table>, every row in the document (the page before), same run';
  emit({ bench: 'table-50k', figure: 'longest frame scrolling a 50,000-row table', unit: 'ms', ours: grid.scroll, baseline: plain.scroll, baselineLabel, goal: 100 });
  emit({ bench: 'table-50k', figure: 'longest frame filtering a 50,000-row table (search typed, status filter)', unit: 'ms', ours: grid.filter, baseline: plain.filter, baselineLabel, goal: 100 });
  emit({ bench: 'table-50k', figure: 'showing a 50,000-row table', unit: 'ms', ours: grid.render, baseline: plain.render, baselineLabel });
} finally {
  await browser.close();
  server.stop();
}
