// Benchmark: what the page and the Excel task pane cost to open. The release WASM after
// wasm-opt, gzipped, beside the same module before wasm-opt; the page's own JS and CSS gzipped
// beside their size on disk; and the time from navigation to a usable page and task pane in
// headless Chromium on localhost (median of 9 fresh loads), beside the time the browser needs to
// reach DOMContentLoaded on the same loads (before any of our code has run).
// Run: node bench/pane-load.mjs (after npm run build).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT, startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { OFFICE_JS, officeDouble } from '../tests/e2e/office-double.mjs';
import { emit, median } from './lib.mjs';

const RUNS = 9;
const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const kb = (bytes) => bytes / 1024;

// Sizes.
const wasm = path.join(ROOT, 'www/pkg/qualtrics_roster_bg.wasm');
const unoptimised = path.join(ROOT, 'target/wasm32-unknown-unknown/wasm-release/qualtrics_roster.wasm');
emit({ bench: 'page and pane', figure: 'core WASM, gzipped (after wasm-opt)', unit: 'KB', ours: kb(gz(wasm)), baseline: kb(gz(unoptimised)), baselineLabel: 'before wasm-bindgen and wasm-opt, gzipped', goal: 300 });
const own = [
  ...['www', 'www/host'].flatMap((d) => readdirSync(path.join(ROOT, d)).filter((f) => /\.(js|mjs|css)$/.test(f)).map((f) => path.join(ROOT, d, f))),
  path.join(ROOT, 'www/pkg/qualtrics_roster.js'),
  path.join(ROOT, 'www/pkg/comlink.mjs'),
];
const gzipped = own.reduce((n, f) => n + gz(f), 0);
const raw = own.reduce((n, f) => n + statSync(f).size, 0);
emit({ bench: 'page and pane', figure: `JS and CSS (${own.length} files), gzipped`, unit: 'KB', ours: kb(gzipped), baseline: kb(raw), baselineLabel: 'on disk, uncompressed' });

// Time to usable.
const server = await startServer(['--no-sandbox']);
const browser = await launchBrowser();
async function load(url, withOffice) {
  const context = await browser.newContext();
  if (withOffice) {
    const script = officeDouble();
    await context.route(OFFICE_JS, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: script }));
  }
  const page = await context.newPage();
  if (withOffice) await page.addInitScript(() => { self.__WORKBOOK_SETUP__ = { sheets: [{ name: 'Sheet1', rows: [['A']] }] }; });
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  const t = await page.evaluate(() => ({
    ready: performance.getEntriesByName('qualtrics-roster:ready')[0].startTime,
    dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
  }));
  await context.close();
  return t;
}
try {
  for (const [label, url, office] of [['page', `${server.url}/`, false], ['Excel task pane', `${server.url}/taskpane.html`, true]]) {
    await load(url, office); // warm the server's file cache, not the browser's
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await load(url, office));
    const ready = median(runs.map((r) => r.ready));
    const dom = median(runs.map((r) => r.dom));
    console.log(`${label}: usable after ${ready.toFixed(0)} ms (DOMContentLoaded ${dom.toFixed(0)} ms), median of ${RUNS}`);
    emit({ bench: 'page and pane', figure: `navigation to usable ${label} (median of ${RUNS})`, unit: 'ms', ours: ready, baseline: dom, baselineLabel: 'DOMContentLoaded, same loads', goal: 1000 });
  }
} finally {
  await browser.close();
  server.stop();
}
