// Request and response sizes measured with Microsoft's own Office.js (npm @microsoft/office-js,
// dist/excel-web-16.00.debug.js: the library Excel on the web loads), run in node. Its
// Excel.RequestContext builds and serialises every queued action exactly as in Excel; only the
// transport is ours: it records each request body as Office.js sends it (JSON, UTF-8) and
// answers its load queries from an in-memory grid, the way Excel's host answers them. Excel on
// the web refuses any request or response over 5 MB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import vm from 'node:vm';
import * as excel from '../../www/host/excel.js';

const require = createRequire(import.meta.url);
const LIMIT = 5 * 1024 * 1024;
const utf8 = (text) => Buffer.byteLength(text, 'utf8');

/** Office.js in a fresh V8 context of its own, with nothing of the browser but what it touches when it loads. */
function loadOfficeJs() {
  const file = require.resolve('@microsoft/office-js/dist/excel-web-16.00.debug.js');
  const sandbox = { console, setTimeout, clearTimeout, navigator: { userAgent: 'node' } };
  sandbox.window = sandbox;
  sandbox.self = sandbox;
  vm.createContext(sandbox);
  vm.runInContext(readFileSync(file, 'utf8'), sandbox, { filename: file });
  return sandbox;
}
const office = loadOfficeJs();

/**
 * An Excel.RequestContext whose requests are answered here instead of by Excel. `grid(sheet, r, c)`
 * gives `{value, format, text}` of the cells inside `extent` (rows and columns from A1); every
 * row is visible, no sheet is protected, the workbook has no names. Records the bytes of every
 * request and response body.
 */
function requestContext(grid, extent = { rows: 0, cols: 0 }) {
  const context = new office.Excel.RequestContext();
  const sizes = { requests: [], responses: [] };
  const pascal = (p) => p[0].toUpperCase() + p.slice(1);
  const A1 = (box) => `${excel.columnLetters(box.c0)}${box.r0 + 1}:${excel.columnLetters(box.c1)}${box.r1 + 1}`;

  /** What an object path designates: the workbook, a sheet, a range (and its parts). */
  function resolve(paths, id) {
    const path = paths[id];
    if (path.ObjectPathType === 1) return { kind: 'workbook' };
    const parent = resolve(paths, path.ParentObjectPathId);
    const args = path.ArgumentInfo?.Arguments ?? [];
    const whole = { r0: 0, c0: 0, r1: extent.rows - 1, c1: extent.cols - 1 };
    if (path.Name === 'Worksheets') return { kind: 'worksheets' };
    if (parent.kind === 'worksheets') return { kind: 'sheet', sheet: args[0] }; // getItem, getItemOrNullObject
    if (path.Name === 'GetRangeByIndexes') {
      const [r, c, rows, cols] = args;
      return { kind: 'range', sheet: parent.sheet, box: { r0: r, c0: c, r1: r + rows - 1, c1: c + cols - 1 } };
    }
    if (path.Name === 'GetSpecialCellsOrNullObject') return { kind: 'areas', sheet: parent.sheet, box: parent.box };
    if (path.Name === 'GetSurroundingRegion') return { kind: 'range', sheet: parent.sheet, box: whole };
    if (path.Name === 'GetUsedRangeOrNullObject') {
      const box = parent.box ?? whole;
      const empty = box.r0 > whole.r1 || box.c0 > whole.c1;
      return empty ? { kind: 'null' } : { kind: 'range', sheet: parent.sheet, box: { r0: box.r0, c0: box.c0, r1: Math.min(box.r1, whole.r1), c1: Math.min(box.c1, whole.c1) } };
    }
    return { kind: path.Name, sheet: parent.sheet, box: parent.box }; // Format, Fill, Protection, Names…
  }

  function value(target, prop) {
    const { box, sheet } = target;
    const cells = (pick) => Array.from({ length: box.r1 - box.r0 + 1 }, (_, r) => Array.from({ length: box.c1 - box.c0 + 1 }, (_, c) => pick(grid(sheet, box.r0 + r, box.c0 + c))));
    switch (`${target.kind}.${prop}`) {
      case 'range.values': return cells((x) => x.value);
      case 'range.numberFormat': return cells((x) => x.format);
      case 'range.text': return cells((x) => x.text);
      case 'areas.address': return `${sheet}!${A1(box)}`;
      case 'range.rowIndex': return box.r0;
      case 'range.columnIndex': return box.c0;
      case 'range.rowCount': return box.r1 - box.r0 + 1;
      case 'range.columnCount': return box.c1 - box.c0 + 1;
      case 'range.address': return `${sheet}!${A1(box)}`;
      case 'sheet.name': return sheet;
      case 'Protection.protected': return false;
      default: throw new Error(`the fake Excel does not answer ${target.kind}.${prop}`);
    }
  }

  context._requestExecutor = {
    executeAsync(_customData, _flags, message) {
      const body = JSON.stringify(message.Body); // what OfficeJsRequestExecutor sends to Excel
      sizes.requests.push(utf8(body));
      const { Actions, ObjectPaths } = message.Body;
      const Results = Actions.filter((a) => a.ActionType === 2).map((a) => {
        const target = resolve(ObjectPaths, a.ObjectPathId);
        if (target.kind === 'null') return { ActionId: a.Id, Value: null };
        if (target.kind === 'Names') return { ActionId: a.Id, Value: { _Items: [] } };
        return { ActionId: a.Id, Value: Object.fromEntries(a.QueryInfo.Select.map((p) => [pascal(p), value(target, p)])) };
      });
      const response = { Results };
      sizes.responses.push(utf8(JSON.stringify(response)));
      return Promise.resolve({ HttpStatusCode: 200, ErrorCode: '', ErrorMessage: '', Headers: {}, Body: response });
    },
  };
  return { context, sheet: context.workbook.worksheets.getItem('Big'), sizes };
}

const outcomeRows = (n, failed, message) => Array.from({ length: n }, (_, i) => ({
  row: i + 1,
  values: [failed(i) ? 'failed' : 'done', message(i), `UR_${String(i).padStart(15, '0')}`, '2026-11-22T13:45:10Z'],
  failed: failed(i),
}));
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

test('the byte estimates of one block and one coloured run are above what Office.js really sends', async () => {
  const measure = async (rows) => {
    const { context, sheet, sizes } = requestContext(() => ({}));
    await excel.writeOutcomeRows(context, sheet, 11, rows);
    return sizes.requests[0];
  };
  const one = outcomeRows(1, () => false, () => 'disabled');
  const plain = await measure(one);
  const estimate = excel.SEGMENT_OVERHEAD_BYTES + excel.jsonBytes(one[0].values) + 6 * 4;
  assert.ok(plain <= estimate, `one block: ${plain} bytes sent, ${estimate} estimated`);
  // Two separate failed runs cost two fills more than none.
  const three = outcomeRows(3, (i) => i !== 1, () => 'disabled');
  const coloured = await measure(three);
  const uncoloured = await measure(outcomeRows(3, () => false, () => 'disabled'));
  assert.ok((coloured - uncoloured) / 2 <= excel.FILL_BLOCK_BYTES, `a coloured run: ${(coloured - uncoloured) / 2} bytes sent, ${excel.FILL_BLOCK_BYTES} estimated`);
});

test('50,000 failed rows: every request Office.js builds for the outcomes stays under 5 MB', async () => {
  const { context, sheet, sizes } = requestContext(() => ({}));
  const rows = outcomeRows(50_000, () => true, (i) => `not sent: Row ${i + 2}: no user with username "someone.${i}@example.edu" in this brand`);
  const syncs = await excel.writeOutcomeRows(context, sheet, 11, rows);
  const largest = Math.max(...sizes.requests);
  console.log(`# 50,000 failed rows: ${syncs} requests, largest ${largest} bytes (${mib(largest)}), total ${mib(sizes.requests.reduce((a, b) => a + b, 0))}`);
  assert.ok(largest < LIMIT, `largest request ${largest} bytes`);
  assert.ok(largest <= excel.WRITE_BUDGET, 'within the budget the host counts');
});

test('50,000 rows failing one in two (25,000 coloured runs): every request stays under 5 MB', async () => {
  const { context, sheet, sizes } = requestContext(() => ({}));
  const rows = outcomeRows(50_000, (i) => i % 2 === 0, () => 'Qualtrics refused the request (HTTP 400): the username is already taken');
  await excel.writeOutcomeRows(context, sheet, 11, rows);
  const largest = Math.max(...sizes.requests);
  console.log(`# 50,000 rows, 25,000 coloured runs: ${sizes.requests.length} requests, largest ${largest} bytes (${mib(largest)})`);
  assert.ok(largest <= excel.WRITE_BUDGET && largest < LIMIT, `largest request ${largest} bytes`);
});

test('long outcome messages (2,000 characters, accented) are chunked by their UTF-8 bytes', async () => {
  const { context, sheet, sizes } = requestContext(() => ({}));
  const rows = outcomeRows(20_000, () => true, () => 'é'.repeat(2_000));
  await excel.writeOutcomeRows(context, sheet, 11, rows);
  const largest = Math.max(...sizes.requests);
  assert.ok(largest <= excel.WRITE_BUDGET && largest < LIMIT, `largest request ${largest} bytes`);
});

test('reading 50,000 rows of 12 cells of 100 bytes: every response stays under 5 MB', async () => {
  const cell = (sheet, r, c) => {
    const text = `${String(r).padStart(8, '0')}-${c}-${'x'.repeat(88)}`.slice(0, 100);
    return { value: text, format: 'General', text };
  };
  for (const skipHidden of [false, true]) {
    const { context, sheet, sizes } = requestContext(cell);
    const { rows, hidden } = await excel.readCells(context, sheet, { rowIndex: 0, columnIndex: 0, rowCount: 50_001, columnCount: 12 }, { skipHidden });
    assert.equal(rows.length, 50_001);
    assert.deepEqual(hidden, []);
    assert.equal(rows[50_000].cells[11], cell('Big', 50_000, 11).text);
    const largest = Math.max(...sizes.responses);
    console.log(`# read 50,001 x 12 x 100 bytes${skipHidden ? ' (visible rows only)' : ''}: ${sizes.responses.length} responses, largest ${largest} bytes (${mib(largest)})`);
    assert.ok(largest < LIMIT, `largest response ${largest} bytes`);
  }
});

test('writeColumns end to end through Office.js: 50,000 failed rows of a plain range, every request and response under 5 MB', async () => {
  const n = 50_000;
  const id = (r) => `UR_${String(r).padStart(15, '0')}`;
  const cell = (sheet, r, c) => {
    const value = r === 0 ? ['User ID', 'Username', 'Action'][c] : [id(r), `user${r}@example.edu`, 'disable'][c];
    return { value: value ?? '', format: 'General', text: value ?? '' };
  };
  const { context, sizes } = requestContext(cell, { rows: n + 1, cols: 3 });
  const rows = Array.from({ length: n }, (_, i) => [id(i + 1), `user${i + 1}@example.edu`, 'disable']);
  const input = {
    columns: ['User ID', 'Username', 'Action'], rows, rowNumbers: rows.map((_, i) => i + 2), sheetName: 'Big', tableName: null,
    area: { rowIndex: 0, columnIndex: 0, rowCount: n + 1, columnCount: 3 }, fingerprints: rows.map((r) => JSON.stringify(r)),
  };
  const byRow = new Map(input.rowNumbers.map((r) => [r, ['failed', `not sent: Row ${r}: no user with username "someone.${r}@example.edu" in this brand`, '', '2026-11-22T13:45:10Z']]));
  globalThis.Excel = { run: (options, batch) => (typeof options === 'function' ? options : batch)(context) };
  const result = await excel.writeColumns(input, ['Status', 'Message', 'User ID', 'Applied at'], byRow, { failed: new Set(input.rowNumbers) });
  assert.deepEqual(result, { written: n, notWritten: [], where: 'Big' });
  const request = Math.max(...sizes.requests);
  const response = Math.max(...sizes.responses);
  console.log(`# writeColumns, 50,000 failed rows: ${sizes.requests.length} requests, largest ${request} bytes (${mib(request)}); largest response ${mib(response)}`);
  assert.ok(request < LIMIT, `largest request ${request} bytes`);
  assert.ok(response < LIMIT, `largest response ${response} bytes`);
});
