// npm run bench: runs every benchmark under bench/, each measuring its figures beside their
// baselines in the same run, and prints one table (figure, ours, baseline, ratio, goal). It
// also writes the table as Markdown (bench/results.md) and a chart (docs/performance.png),
// with the machine it ran on. Takes about 7 minutes. BENCH_ONLY=name,name runs a subset
// (pane-load, table-50k, bulk-select, plan-100k, memory, big-file, pull, lifecycle, provision, hooks).
import { spawn, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, launchBrowser } from '../tests/e2e/harness.mjs';

const BENCHES = [
  { name: 'pane-load', cmd: 'node', args: ['bench/pane-load.mjs'] },
  { name: 'table-50k', cmd: 'node', args: ['bench/table-50k.mjs'] },
  { name: 'bulk-select', cmd: 'node', args: ['bench/bulk-select.mjs'] },
  { name: 'plan-100k', cmd: 'node', args: ['bench/plan-100k.mjs'] },
  { name: 'memory', cmd: 'node', args: ['bench/big-file.mjs'], env: { BENCH_ROWS: '100000' } },
  { name: 'big-file', cmd: 'node', args: ['bench/big-file.mjs'] },
  { name: 'pull', cmd: 'cargo', args: ['run', '-q', '--release', '-p', 'roster-server', '--example', 'bench_pull'] },
  { name: 'lifecycle', cmd: 'cargo', args: ['run', '-q', '--release', '-p', 'roster-server', '--example', 'bench_lifecycle'], env: { BENCH_ROWS: '1000' } },
  { name: 'provision', cmd: 'cargo', args: ['run', '-q', '--release', '-p', 'roster-server', '--example', 'bench_provision'] },
  { name: 'hooks', cmd: 'cargo', args: ['run', '-q', '--release', '-p', 'roster-server', '--example', 'bench_hooks'] },
];

function run({ name, cmd, args, env = {} }) {
  return new Promise((resolve, reject) => {
    console.error(`\n== ${name}: ${cmd} ${args.join(' ')}`);
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    const figures = [];
    let rest = '';
    child.stdout.on('data', (chunk) => {
      rest += chunk;
      const lines = rest.split('\n');
      rest = lines.pop();
      for (const line of lines) {
        if (line.startsWith('BENCH ')) figures.push(JSON.parse(line.slice(6)));
        else console.error(`   ${line}`);
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(figures) : reject(new Error(`${name} exited ${code}`))));
  });
}

const number = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const withUnit = (x, unit) => (x === null || x === undefined ? '' : `${number(x)} ${unit}`);
function goalText(f) {
  if (f.goal === null) return '';
  const sign = f.lowerIsBetter ? '<=' : '>=';
  return f.goalIsRatio ? `${sign} ${number(f.goal)}x baseline` : `${sign} ${number(f.goal)} ${f.unit}`;
}
const verdict = (f) => (f.met === null ? '' : f.met ? 'met' : 'MISSED');

function machine() {
  const cpu = os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  let chromium = '';
  try {
    chromium = execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    chromium = 'Chromium';
  }
  return `${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, node ${process.version}, ${chromium}`;
}

function markdown(figures, when, where) {
  const lines = [
    `Measured ${when} on ${where}.`,
    '',
    '| benchmark | figure | ours | baseline (same run) | ratio | goal | |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const f of figures) {
    lines.push(`| ${f.bench} | ${f.figure} | ${withUnit(f.ours, f.unit)} | ${withUnit(f.baseline, f.unit)} (${f.baselineLabel}) | ${f.ratio === null ? '' : `${number(f.ratio)}x`} | ${goalText(f)} | ${verdict(f)} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** One picture: per figure, ours and the baseline as bars on a shared scale, the goal as a line. */
async function chart(figures, when, where, file) {
  const rows = figures.map((f) => {
    const top = Math.max(f.ours, f.baseline ?? 0, f.goalIsRatio ? (f.goal ?? 0) * (f.baseline ?? 0) : (f.goal ?? 0)) || 1;
    // The longest bar takes 60 % of the width, leaving room for its label.
    const pct = (x) => `${Math.max(0.5, (60 * x) / top).toFixed(1)}%`;
    const goalAt = f.goal === null ? null : f.goalIsRatio ? f.goal * f.baseline : f.goal;
    const colour = f.met === false ? '#c0392b' : '#1f6feb';
    return `<div class="row">
      <div class="label"><b>${f.figure}</b><span>${f.bench}${f.goal !== null ? ` · goal ${goalText(f)} · ${verdict(f)}` : ''}</span></div>
      <div class="bars">
        <div class="bar" style="width:${pct(f.ours)};background:${colour}"><span>ours ${withUnit(f.ours, f.unit)}</span></div>
        <div class="bar base" style="width:${pct(f.baseline ?? 0)}"><span>${withUnit(f.baseline, f.unit)} · ${f.baselineLabel}</span></div>
        ${goalAt === null ? '' : `<div class="goal" style="left:${pct(goalAt)}"></div>`}
      </div></div>`;
  }).join('');
  const html = `<!doctype html><html><head><style>
    body { font: 13px system-ui, sans-serif; margin: 0; background: #fff; color: #1b1f24; }
    #chart { width: 1100px; padding: 20px 24px; }
    h1 { font-size: 18px; margin: 0 0 4px; } p { margin: 0 0 14px; color: #57606a; }
    .row { display: grid; grid-template-columns: 300px 1fr; gap: 12px; padding: 7px 0; border-top: 1px solid #eaeef2; }
    .label b { display: block; font-weight: 600; } .label span { color: #57606a; font-size: 12px; }
    .bars { position: relative; }
    .bar { height: 17px; margin: 2px 0; border-radius: 3px; white-space: nowrap; }
    .bar span { position: relative; left: calc(100% + 6px); line-height: 17px; font-size: 12px; color: #1b1f24; }
    .bar.base { background: #afb8c1; }
    .goal { position: absolute; top: -2px; bottom: -2px; border-left: 2px dashed #1b1f24; }
  </style></head><body><div id="chart"><h1>qualtrics-roster performance: ours (blue; red where a goal is missed) beside its baseline (grey), goal dashed</h1>
  <p>${when} · ${where}</p>${rows}</div></body></html>`;
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1150, height: 400 } });
    await page.setContent(html);
    await (await page.$('#chart')).screenshot({ path: file });
  } finally {
    await browser.close();
  }
}

const only = process.env.BENCH_ONLY?.split(',');
console.error('== building (release WASM and server, benchmark examples)');
execFileSync('bash', ['scripts/build.sh'], { cwd: ROOT, stdio: 'inherit' });
execFileSync('cargo', ['build', '-q', '--release', '-p', 'roster-server', '--examples'], { cwd: ROOT, stdio: 'inherit' });
const figures = [];
for (const bench of BENCHES.filter((b) => !only || only.includes(b.name))) {
  figures.push(...(await run(bench)));
}
const when = new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const where = machine();
const md = markdown(figures, when, where);
console.log(`\n${md}`);
writeFileSync(path.join(ROOT, 'bench/results.md'), md);
await chart(figures, when, where, path.join(ROOT, 'docs/performance.png'));
console.log('Wrote bench/results.md and docs/performance.png.');
const missed = figures.filter((f) => f.met === false);
if (missed.length) console.log(`Goals missed: ${missed.map((f) => f.figure).join('; ')}.`);
