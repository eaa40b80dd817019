// The Excel host (www/host/excel.js) against an in-memory workbook exposed through
// office-addin-mock: reading the table around the selection, writing outcomes beside the right
// rows even after a sort, chunked writes under Office's 5 MB limit, formula injection, and the
// refusals that keep a workbook from being half-written.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { initSync, safeCell } from '../../www/pkg/qualtrics_roster.js';
import { initSync as initConsole } from '../../www/pkg/qualtrics_roster_console.js';
import * as excel from '../../www/host/excel.js';

const require = createRequire(import.meta.url);
const { OfficeMockObject } = require('office-addin-mock');
const { Workbook, createExcelDouble } = require('../excel-double/workbook-double.cjs');

initSync({ module: readFileSync(new URL('../../www/pkg/qualtrics_roster_bg.wasm', import.meta.url)) });
// The pane's own module (its downloads write CSV with it), as the pane starts it.
initConsole({ module: readFileSync(new URL('../../www/pkg/qualtrics_roster_console_bg.wasm', import.meta.url)) });

let wb;
beforeEach(() => {
  wb = new Workbook();
  Object.assign(globalThis, createExcelDouble(OfficeMockObject, wb));
});

const leavers = [
  ['User ID', 'Username', 'Action'],
  ['UR_AAAAAAAAAAAAAAA', 'ann@x.edu', 'disable'],
  ['UR_BBBBBBBBBBBBBBB', 'bob@x.edu', 'enable'],
  ['UR_CCCCCCCCCCCCCCC', 'cy@x.edu', 'disable'],
];

test('reads the Excel table around the selection: header, 3 rows, sheet row numbers', async () => {
  wb.addSheet('Staff', [[], ...leavers.map((r) => ['', ...r])]); // table at B2:D5
  wb.addTable('Staff', 'B2:D5', 'Leavers');
  wb.select('Staff', 'C4');
  const t = await excel.readTable();
  assert.deepEqual(t.columns, ['User ID', 'Username', 'Action']);
  assert.deepEqual(t.rows, leavers.slice(1));
  assert.deepEqual(t.rowNumbers, [3, 4, 5]);
  assert.equal(t.tableName, 'Leavers');
  assert.equal(t.source, 'Staff!B2:D5');
  assert.ok(wb.syncs <= 3, `load, then one sync per step: ${wb.syncs} syncs`);
});

test('without an Excel table: the selected range, or the region around one selected cell', async () => {
  wb.addSheet('Sheet1', [...leavers, [], ['other', 'data']]);
  wb.select('Sheet1', 'A3');
  const region = await excel.readTable();
  assert.equal(region.rows.length, 3);
  assert.equal(region.tableName, null);
  wb.select('Sheet1', 'A1:B3');
  const chosen = await excel.readTable();
  assert.deepEqual(chosen.columns, ['User ID', 'Username']);
  assert.equal(chosen.rows.length, 2);
});

test('dates typed as dates read as YYYY-MM-DD; ids stay text', async () => {
  wb.addSheet('S', [['User ID', 'Expiration date'], ['UR_AAAAAAAAAAAAAAA', 46387]]);
  wb.sheets.get('S').cells.get('1,1').format = 'yyyy-mm-dd';
  wb.select('S', 'A1:B2');
  const t = await excel.readTable();
  assert.deepEqual(t.rows[0], ['UR_AAAAAAAAAAAAAAA', '2026-12-31']);
});

test('outcomes land beside the right rows after the table was sorted, failed rows coloured', async () => {
  wb.addSheet('Staff', leavers);
  wb.addTable('Staff', 'A1:C4', 'Leavers');
  wb.select('Staff', 'A1');
  const t = await excel.readTable();
  // The user sorts the table by username descending while the run goes on.
  const sorted = [leavers[0], leavers[3], leavers[2], leavers[1]];
  sorted.forEach((row, r) => row.forEach((v, c) => wb.setCell('Staff', r, c, { value: v })));
  // Outcomes arrive in yet another order, keyed by the row numbers read before the sort.
  const byRow = new Map([
    [4, ['failed', 'Qualtrics refused the request (HTTP 400)', 'UR_CCCCCCCCCCCCCCC', '']],
    [2, ['done', 'disabled', 'UR_AAAAAAAAAAAAAAA', '2026-11-22T13:45:10Z']],
    [3, ['unchanged', 'already active', 'UR_BBBBBBBBBBBBBBB', '']],
  ]);
  const result = await excel.writeColumns(t, ['Status', 'Message', 'Outcome user ID', 'Applied at'], byRow, { failed: new Set([4]), safeText: safeCell });
  assert.deepEqual(result, { written: 3, notWritten: [], where: 'Staff' });
  const v = wb.values('Staff');
  assert.deepEqual(v[0], ['User ID', 'Username', 'Action', 'Status', 'Message', 'Outcome user ID', 'Applied at']);
  // Row by row: cy (row 2 now) failed, bob (row 3) unchanged, ann (row 4) done.
  assert.deepEqual(v[1].slice(0, 4), ['UR_CCCCCCCCCCCCCCC', 'cy@x.edu', 'disable', 'failed']);
  assert.deepEqual(v[2].slice(0, 4), ['UR_BBBBBBBBBBBBBBB', 'bob@x.edu', 'enable', 'unchanged']);
  assert.deepEqual(v[3].slice(0, 5), ['UR_AAAAAAAAAAAAAAA', 'ann@x.edu', 'disable', 'done', 'disabled']);
  assert.equal(wb.cell('Staff', 1, 3).fill, excel.FAILED_FILL);
  assert.equal(wb.cell('Staff', 3, 3).fill, null);
  assert.equal(wb.cell('Staff', 3, 3).format, '@', 'outcome cells are text');
  // The table grew to hold the outcome columns.
  assert.deepEqual(wb.tables[0].box, { r0: 0, c0: 0, r1: 3, c1: 6 });
});

test('the outcome "User ID" column does not overwrite the input\'s own User ID column', async () => {
  wb.addSheet('S', leavers);
  wb.select('S', 'A1:C4');
  const t = await excel.readTable();
  const byRow = new Map([[2, ['done', 'disabled', 'UR_AAAAAAAAAAAAAAA', 'x']]]);
  await excel.writeColumns(t, ['Status', 'Message', 'Outcome user ID', 'Applied at'], byRow);
  const v = wb.values('S');
  assert.deepEqual(v[0], ['User ID', 'Username', 'Action', 'Status', 'Message', 'Outcome user ID', 'Applied at']);
  // A second run updates the same columns instead of adding new ones.
  wb.select('S', 'A1:C4');
  const again = await excel.readTable();
  await excel.writeColumns(again, ['Status', 'Message', 'Outcome user ID', 'Applied at'], new Map([[3, ['failed', 'no', '', '']]]));
  const v2 = wb.values('S');
  assert.equal(v2[0].length, 7);
  assert.deepEqual(v2[1].slice(3, 5), ['done', 'disabled'], 'rows without a new outcome keep the old one');
  assert.deepEqual(v2[2].slice(3, 5), ['failed', 'no']);
});

test('50,000 rows: read and written in chunks, every sync under 5 MB, every row written', async () => {
  const rows = [['User ID', 'Note']];
  for (let i = 0; i < 50_000; i++) rows.push([`UR_${String(i).padStart(15, '0')}`, `note ${i}`]);
  wb.addSheet('Big', rows);
  wb.select('Big', 'A1');
  const t = await excel.readTable();
  assert.equal(t.rows.length, 50_000);
  const byRow = new Map(t.rowNumbers.map((n, i) => [n, ['done', `disabled the account of user number ${i} as the sheet asked`, t.rows[i][0], '2026-11-22T13:45:10Z']]));
  const syncsBefore = wb.syncs;
  const result = await excel.writeColumns(t, ['Status', 'Message', 'Outcome user ID', 'Applied at'], byRow);
  assert.equal(result.written, 50_000);
  assert.ok(wb.syncs - syncsBefore > 3, 'more than one write sync');
  assert.ok(wb.largestSyncBytes < 5 * 1024 * 1024, `largest sync ${wb.largestSyncBytes} bytes`);
  assert.equal(wb.cell('Big', 50_000, 2).value, 'done');
  assert.equal(wb.cell('Big', 50_000, 3).value, 'disabled the account of user number 49999 as the sheet asked');
  // Written all at once, the same data is over the limit: the double enforces it.
  await assert.rejects(
    Excel.run(async (ctx) => {
      const r = ctx.workbook.worksheets.getItem('Big').getRangeByIndexes(1, 3, 50_000, 2);
      r.values = t.rows.map((_, i) => ['x'.repeat(120), String(i)]);
      await ctx.sync();
    }),
    /payload size has exceeded the limit/,
  );
});

test('formula injection: values starting with = + - @ are written as text', async () => {
  wb.addSheet('S', leavers);
  wb.select('S', 'A1');
  const t = await excel.readTable();
  const byRow = new Map([[2, ['failed', '=HYPERLINK("http://evil.example","click")', '+1', '@SUM(A1)']]]);
  await excel.writeColumns(t, ['Status', 'Message', 'Outcome user ID', 'Applied at'], byRow, { safeText: safeCell });
  assert.equal(wb.cell('S', 1, 4).value, '\'=HYPERLINK("http://evil.example","click")');
  assert.equal(wb.cell('S', 1, 5).value, "'+1");
  assert.equal(wb.cell('S', 1, 6).value, "'@SUM(A1)");
  assert.equal(wb.cell('S', 1, 4).format, '@');
  await excel.writeSheet('Plan', { columns: ['Message'], rows: [['-2+3']] }, { safeText: safeCell });
  assert.equal(wb.cell('Plan', 1, 0).value, "'-2+3");
});

test('writeSheet makes a sheet with an Excel table, and refreshing replaces it', async () => {
  wb.addSheet('Sheet1');
  await excel.writeSheet('Users', { columns: ['User ID', 'Username'], rows: [['UR_1', 'a'], ['UR_2', 'b'], ['UR_3', 'c']] });
  assert.deepEqual(wb.values('Users'), [['User ID', 'Username'], ['UR_1', 'a'], ['UR_2', 'b'], ['UR_3', 'c']]);
  assert.deepEqual(wb.tables.map((t) => t.name), ['RosterUsers']);
  assert.equal(wb.active, 'Users');
  await excel.writeSheet('Users', { columns: ['User ID', 'Username'], rows: [['UR_9', 'z']] });
  assert.deepEqual(wb.values('Users'), [['User ID', 'Username'], ['UR_9', 'z']], 'no stale rows');
  assert.equal(wb.tables.length, 1);
  assert.deepEqual(wb.tables[0].box, { r0: 0, c0: 0, r1: 1, c1: 1 });
});

test('bad input gets a clear message and nothing is written', async () => {
  wb.addSheet('Empty');
  wb.select('Empty', 'C3');
  await assert.rejects(excel.readTable(), /Select a cell inside your table of users/);

  wb.addSheet('Merged', leavers, { merged: ['B2:C2'] });
  wb.select('Merged', 'A1');
  await assert.rejects(excel.readTable(), /merged cells \(Merged!B2:C2\): unmerge them/);

  wb.addSheet('Locked', leavers, { protectedSheet: true });
  wb.select('Locked', 'A1');
  await assert.rejects(excel.readTable(), /The sheet "Locked" is protected.*unprotect it \(Review > Unprotect Sheet\) and plan again\. Nothing was sent\./);
  // Protected between plan and apply: nothing is written to it, and the outcomes go to a new
  // Outcomes sheet instead (Qualtrics was already changed: they must not be lost).
  wb.sheets.get('Locked').protected = false;
  const t = await excel.readTable();
  wb.sheets.get('Locked').protected = true;
  const before = JSON.stringify(wb.values('Locked'));
  const moved = await excel.writeColumns(t, ['Status'], new Map([[2, ['done']]]));
  assert.deepEqual(moved, { written: 0, notWritten: [], where: 'Outcomes', movedTo: 'Outcomes', reason: 'the sheet "Locked" is protected' });
  assert.equal(JSON.stringify(wb.values('Locked')), before);
  assert.deepEqual(wb.values('Outcomes'), [['Row', 'User ID', 'Username', 'Action', 'Status'], ['2', 'UR_AAAAAAAAAAAAAAA', 'ann@x.edu', 'disable', 'done']]);

  const huge = [['User ID']];
  for (let i = 0; i < 200_000; i++) huge.push([`UR_${i}`]);
  wb.addSheet('Huge', huge);
  wb.select('Huge', 'A1');
  const syncs = wb.syncs;
  await assert.rejects(excel.readTable(), /has 200,000 rows; qualtrics-roster works on at most 100,000 at a time/);
  assert.ok(wb.syncs - syncs <= 2, 'refused before reading the values');

  wb.addSheet('Single', [['User ID']]);
  wb.select('Single', 'A1');
  await assert.rejects(excel.readTable(), /Select a cell inside your table/);
});
