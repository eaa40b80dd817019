// Issue 18, Excel: the add-in plans only what the user sees, never writes over a user's cell,
// sheet or table, and never loses an outcome after Qualtrics was changed. Each test sets up
// the workbook the way real Excel would have it (the double models hidden and filtered rows,
// totals rows, number formats, case-insensitive sheet names, protection changing mid-run).
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as excel from '../../www/host/excel.js';

const require = createRequire(import.meta.url);
const { OfficeMockObject } = require('office-addin-mock');
const { Workbook, createExcelDouble } = require('../excel-double/workbook-double.cjs');

let wb;
beforeEach(() => {
  wb = new Workbook();
  Object.assign(globalThis, createExcelDouble(OfficeMockObject, wb));
});

const OUTCOME = ['Status', 'Message', 'Outcome user ID', 'Applied at'];
const outcome = (status, id) => [status, status === 'failed' ? 'Qualtrics refused it' : 'disabled', id, '2026-11-22T13:45:10Z'];

/** A header and `n` users with 11 columns: User ID, Username, Action, then eight of the user's own. */
function wideSheet(n) {
  const header = ['User ID', 'Username', 'Action', 'Dept', 'Site', 'Manager', 'Start', 'Notes', 'Phone', 'Room', 'Badge'];
  const rows = [header];
  for (let i = 1; i <= n; i++) rows.push([`UR_${String(i).padStart(15, '0')}`, `u${i}@x.edu`, 'disable', 'Ops', 'North', 'Kim', '2020', `note ${i}`, `555-0${i}`, `R${i}`, `B${i}`]);
  return rows;
}

test('a narrow selection in a wide range: outcomes go after the last column, no user cell is written or blanked', async () => {
  const rows = wideSheet(4);
  wb.addSheet('Staff', rows);
  wb.select('Staff', 'A1:C5'); // the user selects three of the eleven columns
  const t = await excel.readTable();
  assert.deepEqual(t.columns, ['User ID', 'Username', 'Action']);
  // Outcomes for rows 2 and 4 only: rows 3 and 5 keep every cell.
  await excel.writeColumns(t, OUTCOME, new Map([[2, outcome('done', 'UR_1')], [4, outcome('failed', 'UR_3')]]), { failed: new Set([4]) });
  const v = wb.values('Staff');
  for (let r = 0; r < rows.length; r++) assert.deepEqual(v[r].slice(0, 11), rows[r], `row ${r + 1}: the user's eleven columns are as they were`);
  assert.deepEqual(v[0].slice(11), OUTCOME, 'outcome headers after column K');
  assert.deepEqual(v[1].slice(11, 13), ['done', 'disabled']);
  assert.deepEqual(v[2].slice(11), ['', '', '', ''], 'a row without an outcome is not written');
  assert.equal(wb.cell('Staff', 3, 11).fill, excel.FAILED_FILL);
  assert.equal(wb.cell('Staff', 3, 10).fill, null, 'the user\'s cells are not coloured');

  // A second run recognises its own columns (by their marking name) and writes into them.
  wb.select('Staff', 'A1:C5');
  const again = await excel.readTable();
  await excel.writeColumns(again, OUTCOME, new Map([[3, outcome('done', 'UR_2')]]));
  const v2 = wb.values('Staff');
  assert.equal(v2[0].length, 15, 'no second set of outcome columns');
  assert.deepEqual(v2[1].slice(11, 13), ['done', 'disabled'], 'the earlier outcome stays');
  assert.deepEqual(v2[2].slice(11, 13), ['done', 'disabled']);
});

test('a user\'s own column that happens to be called Status is never taken for an outcome column', async () => {
  wb.addSheet('Staff', [['User ID', 'Action', 'Status'], ['UR_A', 'disable', 'on leave'], ['UR_B', 'disable', 'retired']]);
  wb.addTable('Staff', 'A1:C3', 'Leavers');
  wb.select('Staff', 'A2');
  const t = await excel.readTable();
  await excel.writeColumns(t, ['Status', 'Message'], new Map([[2, ['done', 'disabled']], [3, ['done', 'disabled']]]));
  const v = wb.values('Staff');
  assert.deepEqual(v.map((r) => r[2]), ['Status', 'on leave', 'retired'], 'the user\'s Status column is untouched');
  assert.deepEqual(v.map((r) => r.slice(3)), [['Status', 'Message'], ['done', 'disabled'], ['done', 'disabled']]);
});

test('outcome columns added to a table push the user\'s cells beside the table along, never over them', async () => {
  wb.addSheet('Staff', [['User ID', 'Action', '', 'kept'], ['UR_A', 'disable', '', 'mine']]);
  wb.addTable('Staff', 'A1:B2', 'Leavers');
  wb.select('Staff', 'A1');
  const t = await excel.readTable();
  await excel.writeColumns(t, ['Status', 'Message'], new Map([[2, ['done', 'disabled']]]));
  const v = wb.values('Staff');
  assert.deepEqual(v[0], ['User ID', 'Action', 'Status', 'Message', '', 'kept']);
  assert.deepEqual(v[1], ['UR_A', 'disable', 'done', 'disabled', '', 'mine']);
});

test('a user\'s own sheet named Plan or plan is left alone: the add-in writes "Plan (2)", marked, and refreshes that one', async () => {
  wb.addSheet('plan', [['My plan for Q3'], ['hire two people']]);
  wb.addSheet('Users', [['my users'], ['Ann']]);
  await excel.writeSheet('Plan', { columns: ['Row', 'Plan'], rows: [['2', 'disable']] });
  await excel.writeSheet('Users', { columns: ['User ID'], rows: [['UR_1']] });
  assert.deepEqual(wb.values('plan'), [['My plan for Q3'], ['hire two people']], 'the user\'s sheet is untouched');
  assert.deepEqual(wb.values('Users'), [['my users'], ['Ann']]);
  assert.deepEqual(wb.values('Plan (2)'), [['Row', 'Plan'], ['2', 'disable']]);
  assert.equal(wb.sheets.get('Plan (2)').properties.get(excel.SHEET_MARKER), 'Plan (2)');
  const second = await excel.writeSheet('Plan', { columns: ['Row', 'Plan'], rows: [['3', 'enable']] });
  assert.equal(second.sheet, 'Plan (2)', 'the add-in\'s own sheet is refreshed, not a third one made');
  assert.deepEqual(wb.values('Plan (2)'), [['Row', 'Plan'], ['3', 'enable']]);
  assert.deepEqual([...wb.sheets.keys()], ['plan', 'Users', 'Plan (2)', 'Users (2)']);
});

test('a renamed snapshot of the Users sheet, and a user\'s table named like ours, are never touched', async () => {
  wb.addSheet('Sheet1');
  await excel.writeSheet('Users', { columns: ['User ID'], rows: [['UR_1'], ['UR_2']] });
  wb.renameSheet('Users', 'Users 2026-11-01'); // the user keeps a snapshot
  wb.addSheet('Mine', [['Row', 'Plan'], ['x', 'y']]);
  wb.addTable('Mine', 'A1:B2', 'RosterPlan'); // a user's table that happens to have our name
  await excel.writeSheet('Users', { columns: ['User ID'], rows: [['UR_9']] });
  await excel.writeSheet('Plan', { columns: ['Row'], rows: [['1']] });
  assert.deepEqual(wb.values('Users 2026-11-01'), [['User ID'], ['UR_1'], ['UR_2']]);
  assert.deepEqual(wb.values('Users'), [['User ID'], ['UR_9']]);
  assert.deepEqual(wb.tables.map((t) => [t.sheet, t.name]), [
    ['Users 2026-11-01', 'RosterUsers'], ['Mine', 'RosterPlan'], ['Users', 'RosterUsers2'], ['Plan', 'RosterPlan2'],
  ]);
  assert.deepEqual(wb.values('Mine'), [['Row', 'Plan'], ['x', 'y']]);
});

test('rows hidden by a filter are not planned by default; the host says how many and why; includeHidden plans them', async () => {
  const rows = wideSheet(6).map((r) => r.slice(0, 3));
  wb.addSheet('Staff', rows, { filteredRows: [2, 4] }); // sheet rows 3 and 5 filtered out
  wb.addTable('Staff', 'A1:C7', 'Leavers');
  wb.select('Staff', 'B2');
  const t = await excel.readTable();
  assert.deepEqual(t.rowNumbers, [2, 4, 6, 7]);
  assert.deepEqual(t.rows.map((r) => r[1]), ['u1@x.edu', 'u3@x.edu', 'u5@x.edu', 'u6@x.edu']);
  assert.deepEqual(t.leftOut, { hiddenRows: [3, 5], filtered: true, totalsRow: null });
  assert.match(t.notes[0], /^2 rows hidden by the filter \(rows 3, 5\) left out/);
  const all = await excel.readTable({ includeHidden: true });
  assert.deepEqual(all.rowNumbers, [2, 3, 4, 5, 6, 7]);
  assert.deepEqual(all.notes, []);
});

test('rows hidden by hand in a plain range are left out too', async () => {
  wb.addSheet('S', wideSheet(3).map((r) => r.slice(0, 2)), { hiddenRows: [2] });
  wb.select('S', 'A1');
  const t = await excel.readTable();
  assert.deepEqual(t.rowNumbers, [2, 4]);
  assert.deepEqual(t.leftOut, { hiddenRows: [3], filtered: false, totalsRow: null });
  assert.match(t.notes[0], /^1 row hidden \(row 3\) left out/);
});

test('a table\'s totals row is not read as a user, and no outcome lands in it', async () => {
  const rows = [['User ID', 'Action'], ['UR_A', 'disable'], ['UR_B', 'disable'], ['Total', 2]];
  wb.addSheet('S', rows);
  wb.addTable('S', 'A1:B4', 'Leavers', { totals: true });
  wb.select('S', 'A2');
  const t = await excel.readTable();
  assert.deepEqual(t.rows, [['UR_A', 'disable'], ['UR_B', 'disable']]);
  assert.equal(t.leftOut.totalsRow, 4);
  assert.match(t.notes.join(' '), /The totals row \(row 4\) is not a user and was left out/);
  await excel.writeColumns(t, ['Status'], new Map([[2, ['done']], [3, ['failed']]]), { failed: new Set([3]) });
  const v = wb.values('S');
  assert.deepEqual(v.map((r) => r[2]), ['Status', 'done', 'failed', '']);
  assert.equal(wb.cell('S', 3, 2).fill, null, 'the totals row is not coloured');
});

test('cells read as Excel shows them: 00123 in format 00000, dates as YYYY-MM-DD, General numbers exact', async () => {
  wb.addSheet('S', [['Employee ID', 'Expiration date', 'Cost centre', 'Badge'], [123, 46387, 4200, 123456789012]], {
    formats: { '1,0': '00000', '1,1': 'dd/mm/yyyy', '1,2': '0.00' },
  });
  wb.select('S', 'A1:D2');
  const t = await excel.readTable();
  assert.deepEqual(t.rows[0], ['00123', '2026-12-31', '4200.00', '123456789012']);
});

test('sheet protected in the middle of writing the outcomes: every outcome goes to a new Outcomes sheet, and the user is told where', async () => {
  const rows = [['User ID', 'Note']];
  for (let i = 0; i < 30_000; i++) rows.push([`UR_${String(i).padStart(15, '0')}`, 'x'.repeat(40)]);
  wb.addSheet('Big', rows);
  wb.addSheet('Outcomes', [['my own outcomes sheet']]);
  wb.select('Big', 'A1');
  const t = await excel.readTable();
  const byRow = new Map(t.rowNumbers.map((n, i) => [n, ['failed', `refused by Qualtrics, row ${i} of the sheet, long message`, '', '2026-11-22T13:45:10Z']]));
  const syncsBefore = wb.syncs;
  let protectedAt = null;
  wb.beforeSync = (n) => {
    // The user protects the sheet after the first block of outcomes was written.
    if (protectedAt === null && n > syncsBefore + 4 && wb.cell('Big', 1, 2).value === 'failed') {
      wb.sheets.get('Big').protected = true;
      protectedAt = n;
    }
  };
  const result = await excel.writeColumns(t, OUTCOME, byRow, { failed: new Set(t.rowNumbers) });
  assert.ok(protectedAt, 'the sheet was protected mid-run');
  assert.equal(result.where, 'Outcomes (2)');
  assert.equal(result.movedTo, 'Outcomes (2)');
  assert.match(result.reason, /protected/);
  const moved = wb.values('Outcomes (2)');
  assert.equal(moved.length, 30_001, 'every outcome is in the new sheet');
  assert.deepEqual(moved[0], ['Row', 'User ID', 'Note', ...OUTCOME]);
  assert.equal(moved[30_000][0], '30001');
  assert.deepEqual(wb.values('Outcomes'), [['my own outcomes sheet']]);
  assert.equal(wb.sheets.get('Outcomes (2)').properties.get(excel.SHEET_MARKER), 'Outcomes (2)');
  assert.ok(wb.runs.some((o) => o.delayForCellEdit === true), 'the write after Apply waits for a cell being edited');
});

test('sheet renamed or deleted since the plan: outcomes go to an Outcomes sheet, the core\'s table when given', async () => {
  wb.addSheet('Staff', [['User ID', 'Action'], ['UR_A', 'disable']]);
  wb.select('Staff', 'A1');
  const t = await excel.readTable();
  wb.renameSheet('Staff', 'Staff (old)');
  const table = { columns: ['Row', 'User ID', 'Status'], rows: [['2', 'UR_A', 'done']] };
  const renamed = await excel.writeColumns(t, ['Status'], new Map([[2, ['done']]]), { table });
  assert.equal(renamed.movedTo, 'Outcomes');
  assert.match(renamed.reason, /the sheet "Staff" was renamed or deleted since the plan/);
  assert.deepEqual(wb.values('Outcomes'), [table.columns, ...table.rows]);
  wb.deleteSheet('Staff (old)');
  const deleted = await excel.writeColumns(t, ['Status'], new Map([[2, ['done']]]), { table });
  assert.equal(deleted.movedTo, 'Outcomes (2)', 'a new sheet each time: an earlier run\'s outcomes stay');
});

test('apply re-reads the table and refuses, naming the rows, when it changed since Plan', async () => {
  wb.addSheet('S', [['User ID', 'Action'], ['UR_A', 'disable'], ['UR_B', 'disable'], ['UR_C', 'disable']]);
  wb.addTable('S', 'A1:B4', 'Leavers');
  wb.select('S', 'A1');
  const t = await excel.readTable();
  const same = await excel.verifyTable(t);
  assert.deepEqual(same.rows, t.rows);
  wb.setCell('S', 2, 1, { value: 'enable' }); // row 3 edited
  wb.sheets.get('S').filtered.add(3); // row 4 filtered out
  await assert.rejects(excel.verifyTable(t), /^Error: The table changed since Plan \(row 3 changed; row 4 removed or hidden\): plan again/);
  wb.select('Other', 'A1'); // where the selection is does not matter
  wb.sheets.get('S').filtered.clear();
  wb.setCell('S', 2, 1, { value: 'disable' });
  assert.deepEqual((await excel.verifyTable(t)).rowNumbers, [2, 3, 4]);
});
