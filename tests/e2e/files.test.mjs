// Real-world files in the page, end to end: the corpus of bad and odd files (each with the exact
// message the user sees), a million-row file, a workbook with many sheets, an .xlsx in and out
// (dates stay dates, formula-like text stays text), and a big file planned in the sheet worker
// with a preview in the page and every row in the download.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startServer, launchBrowser, openPage, openView, sandboxUsers, connectViaRelay, applyConfirmed, ROOT } from './harness.mjs';
import { initSync, readWorkbook, writeWorkbook } from '../../www/pkg/qualtrics_roster_xlsx.js';

initSync({ module: readFileSync(path.join(ROOT, 'www/pkg/qualtrics_roster_xlsx_bg.wasm')) });

const CORPUS = path.join(ROOT, 'tests/bad-files');
let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Chooses a file in the lifecycle flow, presses Plan, and waits for a summary or an error. */
async function planFile(page, file) {
  await page.evaluate(() => {
    document.getElementById('lc-error').hidden = true;
    document.getElementById('lc-summary').textContent = '';
  });
  await page.setInputFiles('#lc-file', file);
  await page.click('#lc-plan');
  await page.waitForFunction(() => !document.getElementById('lc-error').hidden || document.getElementById('lc-summary').textContent !== '');
  const error = await page.$eval('#lc-error', (e) => (e.hidden ? null : e.textContent));
  return { error, summary: await page.textContent('#lc-summary'), problems: await page.$$eval('#lc-problems li', (lis) => lis.map((li) => li.textContent)) };
}

test('each file of the bad-file corpus gets its exact message in the page, and a million rows are refused', async () => {
  const server = await startServer();
  try {
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    const expected = JSON.parse(readFileSync(path.join(CORPUS, 'expected.json'), 'utf8'));
    const files = readdirSync(CORPUS).filter((f) => f !== 'expected.json');
    assert.deepEqual(files.sort(), Object.keys(expected).sort());
    for (const name of files) {
      const got = await planFile(page, path.join(CORPUS, name));
      const want = expected[name];
      if (want.error) {
        assert.equal(got.error, want.error, name);
      } else {
        assert.equal(got.error, null, name);
        assert.match(got.summary, new RegExp(`^${want.rows} rows? from ${name.replace('.', '\\.')}`), name);
        for (const note of want.notes) assert.ok(got.problems.includes(note), `${name}: ${note}`);
      }
    }

    const million = ['User ID', ...Array.from({ length: 1_000_000 }, (_, i) => `UR_${String(i).padStart(15, '0')}`)].join('\n');
    const refused = await planFile(page, { name: 'everyone.csv', mimeType: 'text/csv', buffer: Buffer.from(million) });
    assert.equal(refused.error, 'The file has more than 500,000 rows: split it into files of at most 500,000 rows each and run them one after another.');

    // A workbook of 20 sheets: the first is read, and the Sheet list offers the others.
    await planFile(page, path.join(CORPUS, 'twenty-sheets.xlsx'));
    assert.equal(await page.$$eval('#lc-sheet option', (o) => o.length), 20);
    await page.selectOption('#lc-sheet', 'Sheet 7');
    await page.evaluate(() => { document.getElementById('lc-summary').textContent = ''; });
    await page.click('#lc-plan');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent !== '');
    assert.match(await page.textContent('#lc-summary'), /^1 row from twenty-sheets\.xlsx, sheet "Sheet 7" \(Excel workbook, header on row 1\): /);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('an .xlsx in, outcomes and plan as .xlsx out: ids stay text, dates stay dates, formula-like text stays text', async () => {
  const server = await startServer();
  try {
    // Not the first user: the sandbox's token is that account's own, which no run may disable.
    const active = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 3);
    const evil = '=HYPERLINK("http://evil.example","click")';
    const input = {
      columns: ['User ID', 'Action', 'Expiration date', 'Note'],
      rows: [
        [active[0].id, 'disable', '', evil],
        [active[1].id, 'expire', '2027-01-31', '-2+3'],
        [active[2].id, 'disable', '', '@SUM(A1)'],
      ],
    };
    const bytes = writeWorkbook([{ name: 'Leavers', table: input }], Date.now());
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    const planned = await planFile(page, { name: 'leavers.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: Buffer.from(bytes) });
    assert.equal(planned.error, null);
    assert.match(planned.summary, /^3 rows from leavers\.xlsx, sheet "Leavers" \(Excel workbook, header on row 1\): /);
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    assert.equal(await page.textContent('#lc-summary'), 'Outcome: 3 done · 0 unchanged · 0 failed · 0 not sent.');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lc-download-xlsx')]);
    assert.equal(download.suggestedFilename(), 'outcomes.xlsx');
    const out = readFileSync(await download.path());
    const outcomes = readWorkbook(out, 'Outcomes');
    assert.deepEqual(outcomes.sheets, ['Outcomes', 'Plan']);
    assert.deepEqual(outcomes.columns.slice(0, 4), input.columns);
    assert.ok(outcomes.columns.includes('Status'));
    assert.deepEqual(outcomes.rows.map((r) => r.slice(0, 4)), input.rows);
    const status = outcomes.columns.indexOf('Status');
    assert.deepEqual(outcomes.rows.map((r) => r[status]), ['done', 'done', 'done']);
    const plan = readWorkbook(out, 'Plan');
    assert.equal(plan.rows.length, 3);
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('a 20,000-row file is planned in the worker: the page shows the first 1,000 rows, the download has all', async () => {
  const server = await startServer();
  try {
    // Not the first user: the sandbox's token is that account's own, which no run may disable.
    const active = (await sandboxUsers(server)).slice(1).filter((u) => u.accountStatus === 'active').slice(0, 5);
    const lines = ['Username,Action'];
    for (const u of active) lines.push(`${u.username},disable`);
    for (let i = lines.length; i <= 20_000; i++) lines.push(`nobody${i}@nowhere.example,disable`);
    const page = await openPage(browser, server.url + '/#lifecycle');
    await connectViaRelay(page, server);
    const planned = await planFile(page, { name: 'big.csv', mimeType: 'text/csv', buffer: Buffer.from(lines.join('\n')) });
    assert.match(planned.summary, /^20000 rows from big\.csv \(comma-separated, header on line 1\): 5 disable · 19995 not found\. Rows without an Action: no action chosen, so they are refused\.$/);
    assert.equal(await page.$$eval('#lc-table tbody tr', (trs) => trs.length), 1000);
    assert.equal(await page.textContent('#lc-table caption'), 'Showing the first 1,000 of 20,000 rows; the downloads have them all.');
    await applyConfirmed(page, 'lc-');
    await page.waitForFunction(() => document.getElementById('lc-summary').textContent.startsWith('Outcome:'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#lc-download-outcomes')]);
    const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    assert.equal(csv.length, 20_001);
    assert.match(csv[1], new RegExp(`^${active[0].username.replace(/[.+]/g, '\\$&')},disable,.*done`));
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('the users list and the membership pull download as workbooks (Users; Membership, matrix and Roles)', async () => {
  const server = await startServer();
  try {
    const users = await sandboxUsers(server);
    const page = await openPage(browser, server.url + '/#users');
    await connectViaRelay(page, server);
    await page.click('#list-users');
    await page.waitForFunction(() => !document.getElementById('download-xlsx').disabled);
    const [usersDownload] = await Promise.all([page.waitForEvent('download'), page.click('#download-xlsx')]);
    const listed = readWorkbook(readFileSync(await usersDownload.path()));
    assert.deepEqual(listed.sheets, ['Users']);
    assert.equal(listed.rows.length, users.length);
    const shownHeader = await page.$$eval('#users-table thead th:not(.select)', (ths) => ths.map((th) => th.textContent));
    assert.deepEqual(listed.columns, shownHeader);
    assert.ok(listed.rows.some((r) => r.includes(users[0].id)), 'user ids stay text');

    await openView(page, 'membership');
    await page.click('#mtab-rules');
    await page.click('#rl-sandbox');
    await page.click('#mp-pull');
    await page.click('#mtab-where');
    await page.waitForFunction(() => !document.getElementById('mp-downloads').hidden);
    const [pulled] = await Promise.all([page.waitForEvent('download'), page.click('#mp-download-xlsx')]);
    const bytes = readFileSync(await pulled.path());
    assert.deepEqual(readWorkbook(bytes).sheets, ['Membership', 'Membership matrix', 'Roles']);
    const roles = readWorkbook(bytes, 'Roles');
    assert.deepEqual(roles.columns, ['Role', 'Attribute', 'Operator', 'Value']);
    assert.ok(roles.rows.length >= 5);
    assert.equal(readWorkbook(bytes, 'Membership').rows.length, await page.$$eval('#mp-long-table tbody tr', (trs) => trs.length));
    assert.deepEqual(page.problems, []);
  } finally {
    server.stop();
  }
});

test('pasted text reaches the core exactly: ASCII, accents late or first, emoji, a lone surrogate', async () => {
  const server = await startServer(['--no-sandbox']);
  try {
    const page = await openPage(browser, server.url + '/#lifecycle');
    const cases = [
      ['Name,Note', ['plain', 'ascii']],
      ['Name,Note', ['Müller', 'late accent after ascii']],
      ['Name,Note', ['山田', '伟 王 Анна']],
      ['Name,Note', ['emoji 😀 pair', '👩‍💻 zwj']],
      ['Name,Note', ['a'.repeat(5000) + 'é', 'long ascii run then one accent']],
    ];
    const got = await page.evaluate(async (cases) => {
      const core = await import('/pkg/qualtrics_roster.js');
      await core.default();
      const out = cases.map(([header, row]) => {
        const text = `${header}\n${row.join(',')}\n`;
        const read = core.readCsv(text);
        const sheet = core.Sheet.fromText(text);
        return { rows: read.rows, columns: read.columns, sheetColumns: sheet.columns, sheetRows: sheet.rowCount };
      });
      // A lone surrogate cannot be UTF-8: the encoder writes U+FFFD, as a browser does in a file.
      const lone = core.readCsv('Name\nx\uD800y\n').rows[0][0];
      return { out, lone };
    }, cases);
    cases.forEach(([header, row], i) => {
      assert.deepEqual(got.out[i].columns, header.split(','), `case ${i}`);
      assert.deepEqual(got.out[i].rows, [row], `case ${i}`);
      assert.deepEqual(got.out[i].sheetColumns, header.split(','), `case ${i}`);
      assert.equal(got.out[i].sheetRows, 1, `case ${i}`);
    });
    assert.equal(got.lone, 'x\uFFFDy');
  } finally {
    server.stop();
  }
});
