// Shared by the page tests: start the real server binary and a real headless Chromium; read
// our CSV output; ask axe for the serious and critical violations.
import AxeBuilder from '@axe-core/playwright';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Starts `roster-server --port 0` and resolves to {url, adminToken, stop()}. */
export function startServer(args = ['--relay-upstream', 'sandbox']) {
  const bin = path.join(ROOT, 'target/debug/roster-server');
  const sandbox = args.includes('--no-sandbox') ? [] : ['--sandbox'];
  const child = spawn(bin, ['--port', '0', '--www', path.join(ROOT, 'www'), '--quiet', ...sandbox, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const info = { url: null, adminToken: null };
    const timer = setTimeout(() => reject(new Error('server did not start in 10 s')), 10_000);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const url = line.match(/^qualtrics-roster listening on (\S+)/);
      if (url) info.url = url[1].replace(/\/$/, '');
      const token = line.match(/brand admin token (\w+)/);
      if (token) info.adminToken = token[1];
      if (info.url && (info.adminToken || args.includes('--no-sandbox'))) {
        clearTimeout(timer);
        resolve({ ...info, stop: () => child.kill() });
      }
    });
  });
}

/** Launches Debian's Chromium headless (no browser download). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A new page that records uncaught errors and unhandled rejections in `page.problems`. */
export async function openPage(browser, url, viewport = { width: 1000, height: 800 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  return page;
}

/**
 * Opens a view (users, lifecycle, provision, membership, automations) by its tab, as a user
 * would, and waits until it shows.
 */
export async function openView(page, name) {
  // At 400 px and narrower (the pane) the tabs are folded into a menu.
  if (await page.isVisible(`#tab-${name}`)) await page.click(`#tab-${name}`);
  else {
    await page.click('#tabs-menu-button');
    await page.click(`#menu-${name}`);
  }
  await page.waitForSelector(`#view-${name}:not([hidden])`);
}

/** Every user of the sandbox, read straight from its API. */
export async function sandboxUsers(server) {
  const users = [];
  let url = `${server.url}/sandbox/API/v3/users`;
  while (url) {
    const res = await fetch(url, { headers: { 'x-api-token': server.adminToken } });
    const body = await res.json();
    users.push(...body.result.elements);
    url = body.result.nextPage;
  }
  return users;
}

/** Connects the page to the sandbox through the relay, as a real brand would be. */
export async function connectViaRelay(page, server) {
  // Connected already: the form is behind Switch brand.
  if (await page.isVisible('#switch-brand')) await page.click('#switch-brand');
  await page.check('input[name=mode][value=qualtrics]');
  await page.fill('#datacenter', 'iad1');
  await page.fill('#token', server.adminToken);
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('who').textContent.startsWith('Connected'));
}

/**
 * Presses a flow's Apply (`prefix`: lc-, pv-, mb-) and confirms in the dialog every Apply asks
 * for, as an administrator would: under the mass-change brake the number of accounts that lose
 * access is typed (`count`, which the test must know: it is never read off the dialog), and the
 * tick box for other Brand Administrators is ticked only when `allowAdminChanges`.
 */
export async function applyConfirmed(page, prefix, { count, allowAdminChanges = false } = {}) {
  await page.click(`#${prefix}apply`);
  await page.waitForSelector('#confirm[open]');
  if (await page.isVisible('#confirm-count')) {
    if (count === undefined) throw new Error(`the confirmation asks for the number of accounts that lose access: ${await page.textContent('#confirm-brake-message')}`);
    await page.fill('#confirm-count', String(count));
  }
  if (allowAdminChanges) await page.check('#confirm-admins');
  await page.click('#confirm-ok');
  await page.waitForSelector('#confirm:not([open])', { state: 'attached' });
}

/** Parses our CSV output (quoted fields, BOM). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(cell); cell = ''; }
    else if (c === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else if (c !== '\r') cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/** Serious and critical accessibility violations (axe) on the page, or within `selectors`. */
export async function seriousViolations(page, ...selectors) {
  let axe = new AxeBuilder({ page });
  for (const s of selectors) axe = axe.include(s);
  const results = await axe.analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}
