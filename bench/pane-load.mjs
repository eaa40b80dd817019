// Benchmark: what the page and the Excel task pane cost to open. Each WASM module after
// wasm-opt, gzipped, beside the same module before wasm-opt; the WASM the page and the pane
// download before they are usable (the console module), beside the full core they loaded at
// start before it was split off; the page's own JS and CSS gzipped beside their size on disk; and
// the time from navigation to a usable page and task pane in headless Chromium on localhost
// (median of 9 fresh loads), beside the time the browser needs to reach DOMContentLoaded on the
// same loads (before any of our code has run).
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

// Sizes: each module, after wasm-opt beside before.
const modules = [
  ['console', 'qualtrics_roster_console', 'connect, list users: loaded at start'],
  ['full core', 'qualtrics_roster', 'reading files, planning, pulling membership: loaded on first use'],
  ['workbook', 'qualtrics_roster_xlsx', '.xlsx in and out: loaded on the first workbook'],
];
const moduleGz = {};
for (const [label, crate, what] of modules) {
  moduleGz[crate] = gz(path.join(ROOT, `www/pkg/${crate}_bg.wasm`));
  const unoptimised = path.join(ROOT, `target/wasm32-unknown-unknown/wasm-release/${crate}.wasm`);
  emit({ bench: 'page and pane', figure: `${label} WASM (${what}), gzipped`, unit: 'KB', ours: kb(moduleGz[crate]), baseline: kb(gz(unoptimised)), baselineLabel: 'before wasm-bindgen and wasm-opt, gzipped' });
}
const own = [
  ...['www', 'www/host'].flatMap((d) => readdirSync(path.join(ROOT, d)).filter((f) => /\.(js|mjs|css)$/.test(f)).map((f) => path.join(ROOT, d, f))),
  path.join(ROOT, 'www/pkg/qualtrics_roster_console.js'),
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
  // Every WASM module the page (or its worker) asks for before it is usable.
  const wasm = new Set();
  context.on('request', (r) => { const p = new URL(r.url()).pathname; if (p.endsWith('_bg.wasm')) wasm.add(p.replace(/^.*\/pkg\/(.*)_bg\.wasm$/, '$1')); });
  if (withOffice) await page.addInitScript(() => { self.__WORKBOOK_SETUP__ = { sheets: [{ name: 'Sheet1', rows: [['A']] }] }; });
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  const t = await page.evaluate(() => ({
    ready: performance.getEntriesByName('qualtrics-roster:ready')[0].startTime,
    dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
  }));
  await context.close();
  return { ...t, wasm: [...wasm] };
}
try {
  for (const [label, url, office] of [['page', `${server.url}/`, false], ['Excel task pane', `${server.url}/taskpane.html`, true]]) {
    await load(url, office); // warm the server's file cache, not the browser's
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await load(url, office));
    const fetched = [...new Set(runs.flatMap((r) => r.wasm))];
    const before = fetched.reduce((n, crate) => n + (moduleGz[crate] ?? 0), 0);
    console.log(`${label}: WASM before usable: ${fetched.join(', ')}`);
    emit({ bench: 'page and pane', figure: `WASM the ${label} downloads before it is usable (${fetched.join(', ')}), gzipped`, unit: 'KB', ours: kb(before), baseline: kb(moduleGz.qualtrics_roster), baselineLabel: 'the full core, which it loaded at start before the split', goal: 250 });
    const ready = median(runs.map((r) => r.ready));
    const dom = median(runs.map((r) => r.dom));
    console.log(`${label}: usable after ${ready.toFixed(0)} ms (DOMContentLoaded ${dom.toFixed(0)} ms), median of ${RUNS}`);
    emit({ bench: 'page and pane', figure: `navigation to usable ${label} (median of ${RUNS})`, unit: 'ms', ours: ready, baseline: dom, baselineLabel: 'DOMContentLoaded, same loads', goal: 1000 });
  }
} finally {
  await browser.close();
  server.stop();
}
