// Benchmark: reading, validating and planning a 100,000-row provisioning sheet in the WASM
// core inside headless Chromium, beside the time the same page needs just to parse the CSV
// with PapaParse (a popular JS CSV parser). Goal: ours, validation included, no slower than
// the JS parse alone. Run: node bench/plan-100k.mjs (after npm run build).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startServer, launchBrowser } from '../tests/e2e/harness.mjs';
import { emit, median } from './lib.mjs';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const RUNS = 7;

function sheet(rows) {
  const lines = ['Username,First name,Last name,Email,User type,Password,Language,Time zone,Expiration date,Role,Hotel'];
  for (let i = 0; i < rows; i++) {
    lines.push(`user${i}@example.org,First${i},Last${i},user${i}@example.org,UT_ABCDEFGHIJKLMNO,Pw-${i}-x,en,Europe/Berlin,2027-06-30,${i % 2 ? 'Manager' : 'Agent'},Seattle::Provo`);
  }
  return lines.join('\n');
}

const server = await startServer(['--no-sandbox']);
const browser = await launchBrowser();
try {
  const page = await browser.newPage();
  await page.route('**/__bench__/papaparse.min.js', (r) => r.fulfill({ contentType: 'text/javascript', body: readFileSync(path.join(ROOT, 'node_modules/papaparse/papaparse.min.js'), 'utf8') }));
  await page.goto(`${server.url}/`);
  await page.addScriptTag({ url: '/__bench__/papaparse.min.js' });
  const csv = sheet(ROWS);
  const result = await page.evaluate(async ({ csv, runs }) => {
    const core = await import('/pkg/qualtrics_roster.js');
    await core.default();
    const papa = [];
    const ours = [];
    let checked;
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      const parsed = window.Papa.parse(csv, { skipEmptyLines: true });
      papa.push(performance.now() - t);
      if (parsed.data.length < 2) throw new Error('PapaParse read nothing');
      t = performance.now();
      checked = core.checkProvisionCsv(csv);
      ours.push(performance.now() - t);
    }
    return { papa, ours, checked, memory: performance.memory?.usedJSHeapSize };
  }, { csv, runs: RUNS });
  const ours = median(result.ours);
  const papa = median(result.papa);
  console.log(`provisioning sheet: ${ROWS.toLocaleString('en-US')} rows, ${(csv.length / 1e6).toFixed(1)} MB, median of ${RUNS} runs in headless Chromium`);
  console.log('| figure | ours (read + validate + plan, WASM) | baseline (PapaParse parse only, JS) | ratio | goal |');
  console.log('|---|---|---|---|---|');
  console.log(`| time | ${ours.toFixed(0)} ms | ${papa.toFixed(0)} ms | ${(ours / papa).toFixed(2)}x | <= 1.00x |`);
  console.log(`planned: ${result.checked.counts.map(([l, n]) => `${n} ${l}`).join(', ')}; ${result.checked.problems} problems`);
  console.log(`goal ${ours <= papa ? 'met' : 'MISSED'}`);
  emit({ bench: 'validation', figure: `read + validate + plan ${ROWS.toLocaleString('en-US')} rows (WASM)`, unit: 'ms', ours, baseline: papa, baselineLabel: 'PapaParse parse only (JS)', goal: 1, goalIsRatio: true });
} finally {
  await browser.close();
  server.stop();
}
