// The Excel host: the same functions as host/browser.js, over the workbook through Office.js.
// Every access is inside Excel.run; properties are loaded and then read after one sync; big
// reads and writes go in chunks sized in bytes (request and response, formatting included),
// so no sync comes near Office's 5 MB limit, and never one sync per row.
//
// What the add-in writes, and how it knows what is its own:
// - Sheets it creates (Plan, Users, Audit, Outcomes, Template, Membership, …) carry the worksheet
//   custom property `qualtrics-roster` (ExcelApi 1.12) whose value is the name the add-in gave
//   the sheet. A sheet is refreshed only while that value equals its current name: a user's own
//   "Plan" or "plan" sheet has no such property and is left alone (the add-in takes "Plan (2)"),
//   and a sheet of ours the user renamed (a snapshot of Users) or copied is theirs from then on.
//   A custom property rather than a workbook name: it lives and dies with its sheet, is not
//   shown in Name Manager or formula autocomplete, and cannot turn into a #REF! name.
// - Tables it creates are named Roster<Name> (or Roster<Name>2, … when a table elsewhere has
//   that name) and live only on its own sheets; it deletes only the tables of a sheet it owns.
// - Outcome columns beside the user's rows are marked with a worksheet-scoped name
//   `QualtricsRoster.Outcomes<n>` over their header cells. A name rather than a custom property
//   because Excel moves it with the cells when the user inserts or deletes columns. Columns
//   are reused only when that name still covers, on the header row, exactly the outcome
//   headers; otherwise new ones go after the table's last column (as table columns) or after
//   the region's last column, never over a user's cell.

import { tableToCsv } from '../pkg/qualtrics_roster_console.js';
import { forgetSheetsClient, planRun, sheetsClient, workbooks } from '../run.js';
import { find, download } from '../ui.js';
import { formatNumber } from '../format.js';

/** @typedef {import('./host.js').Host} Host */

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** Rows above which a table is refused (Qualtrics brands are far smaller; Excel's payload is not). */
export const MAX_ROWS = 100_000;
/** Estimated bytes of one write request (cells, formats, fills): well under Office's 5 MB. */
export const WRITE_BUDGET = 2_000_000;
/** Estimated bytes of one read response (values, text and number formats). */
export const READ_BUDGET = 1_000_000;
/** Fill of the outcome cells of failed rows (Fluent's light red). */
export const FAILED_FILL = '#FDE7E9';
/** Worksheet custom property marking the sheets the add-in made; its value is the sheet's name. */
export const SHEET_MARKER = 'qualtrics-roster';
/** Prefix of the worksheet-scoped names marking outcome columns. */
export const OUTCOME_NAME = 'QualtricsRoster.Outcomes';

/**
 * Request bytes of the fixed parts of one block of outcome rows (its range, number formats,
 * values and fill clearing) and of one coloured block, as Office.js serialises them. The
 * request-size test measures both with Microsoft's builder and checks they stay above it.
 */
export const SEGMENT_OVERHEAD_BYTES = 1_500;
/** Request bytes of colouring one block of failed rows (see SEGMENT_OVERHEAD_BYTES). */
export const FILL_BLOCK_BYTES = 800;
/** Rows per read at most: bounds the list of visible areas Excel returns with each read. */
const MAX_ROWS_PER_READ = 10_000;
/** First guess of a cell's response bytes (values, text, format) before any row was measured. */
const FIRST_GUESS_CELL_BYTES = 200;
/** Response bytes per row of the visible-areas address that comes with a read that skips hidden rows. */
const VISIBLE_ROW_BYTES = 40;

/** Thrown with a message the pane shows as is. */
export class HostError extends Error {}

/**
 * A table as read from the workbook, and where it came from.
 * @typedef {object} SheetInput
 * @property {string[]} columns header cells, trimmed
 * @property {string[][]} rows the data rows planned (visible ones unless includeHidden)
 * @property {number[]} rowNumbers each row's sheet row number (1-based)
 * @property {string} source `Sheet!A1:D9`, for messages
 * @property {string} sheetName
 * @property {string | null} tableName the Excel table read, or null for a range
 * @property {Area} area header row to last data row (the totals row excluded)
 * @property {string[]} fingerprints one per row: what it held when read
 * @property {boolean} includeHidden whether hidden rows were read as data
 * @property {LeftOut} leftOut rows of the area that were not planned, and why
 * @property {string[]} notes sentences saying what was left out, for the plan
 */
/**
 * @typedef {object} LeftOut
 * @property {number[]} hiddenRows sheet row numbers of hidden rows left out
 * @property {boolean} filtered whether a filter is applied (else the rows were hidden by hand)
 * @property {number | null} totalsRow sheet row number of the table's totals row, if any
 */
/**
 * @typedef {object} Area
 * @property {number} rowIndex 0-based
 * @property {number} columnIndex 0-based
 * @property {number} rowCount
 * @property {number} columnCount
 */
/** @typedef {{columns: string[], rows: string[][]}} PlainTable */
/** @typedef {(text: string) => string} SafeText */

/**
 * A cell as the core reads it: what Excel shows where the value alone would lose it (an id
 * `00123` in format `00000`), dates formatted as dates as YYYY-MM-DD, numbers in General
 * format from their exact value (never a rounded `1.23E+11`).
 * @param {unknown} value the cell's value
 * @param {string} [numberFormat] its number format
 * @param {string} [text] what the cell shows
 * @returns {string}
 */
export function cellText(value, numberFormat, text) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value !== 'number') return String(value);
  if (isDateFormat(numberFormat)) return excelSerialToIso(value);
  // A formatted number: the text, unless Excel shows #### (a column too narrow for it).
  const formatted = typeof numberFormat === 'string' && numberFormat !== 'General' && numberFormat !== '@';
  if (formatted && typeof text === 'string' && text !== '' && !/^#+$/.test(text)) return text;
  return String(value);
}

/**
 * @param {unknown} format
 * @returns {boolean}
 */
function isDateFormat(format) {
  if (typeof format !== 'string' || format === 'General' || format === '@') return false;
  const stripped = format.replace(/"[^"]*"|\[[^\]]*\]|\\./g, '');
  return /[dy]/i.test(stripped) || /m.*[dy]|[dy].*m/i.test(stripped);
}

/**
 * Excel's 1900 date system serial to YYYY-MM-DD (serial 1 = 1900-01-01; 60 is the fake 1900-02-29).
 * @param {number} serial
 * @returns {string}
 */
export function excelSerialToIso(serial) {
  const days = Math.floor(serial);
  const ms = Date.UTC(1899, 11, 30) + days * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * A1 column letters for a 0-based index.
 * @param {number} index
 * @returns {string}
 */
export function columnLetters(index) {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/**
 * Bytes of a value once serialised as JSON and sent as UTF-8, as Office.js sends requests.
 * @param {unknown} value
 * @returns {number}
 */
export function jsonBytes(value) {
  const text = JSON.stringify(value) ?? '';
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/** @param {string[]} cells */
const rowFingerprint = (cells) => JSON.stringify(cells);
/** @param {string} a @param {string} b */
const sameName = (a, b) => a.toLowerCase() === b.toLowerCase();
/** @param {unknown} err */
const isPayloadTooLarge = (err) => /** @type {{code?: string}} */ (err)?.code === 'RequestPayloadSizeLimitExceeded'
  || /** @type {{code?: string}} */ (err)?.code === 'ResponsePayloadSizeLimitExceeded';
/** @param {number} n @param {string} word */
const count = (n, word) => `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;
/** @param {number[]} numbers at most 20 of them, then "…" */
const listRows = (numbers) => numbers.slice(0, 20).join(', ') + (numbers.length > 20 ? ', …' : '');

/**
 * Sheet rows (0-based) inside a RangeAreas address such as `Sheet1!A2:A4,Sheet1!A7`.
 * @param {string} address
 * @returns {Set<number>}
 */
function rowsOfAreas(address) {
  const rows = new Set();
  for (const m of address.matchAll(/!\$?[A-Z]+\$?(\d+)(?::\$?[A-Z]+\$?(\d+))?(?=\s*,|\s*$)/g)) {
    const first = Number(m[1]) - 1;
    const last = m[2] ? Number(m[2]) - 1 : first;
    for (let r = first; r <= last; r++) rows.add(r);
  }
  return rows;
}

/**
 * Reads an area's cells as the core reads them (see cellText), in syncs whose responses stay
 * near READ_BUDGET bytes: the rows per read follow the largest row read so far, and a read that
 * Excel still finds too large is split in two and read again. With `skipHidden`, rows hidden by
 * a filter or by hand come back in `hidden` instead of `rows`.
 * @param {Excel.RequestContext} context
 * @param {Excel.Worksheet} sheet
 * @param {Area} area
 * @param {{skipHidden?: boolean}} [options]
 * @returns {Promise<{rows: {row: number, cells: string[]}[], hidden: number[]}>} rows are 0-based sheet rows
 */
export async function readCells(context, sheet, area, { skipHidden = false } = {}) {
  /** @type {{row: number, cells: string[]}[]} */
  const rows = [];
  /** @type {number[]} */
  const hidden = [];
  const perRow = (/** @type {number} */ bytes) => Math.max(1, Math.min(MAX_ROWS_PER_READ, Math.floor(READ_BUDGET / (bytes + (skipHidden ? VISIBLE_ROW_BYTES : 0)))));
  let rowsPerRead = perRow(area.columnCount * FIRST_GUESS_CELL_BYTES);
  for (let start = 0; start < area.rowCount;) {
    const n = Math.min(rowsPerRead, area.rowCount - start);
    const first = area.rowIndex + start;
    const piece = sheet.getRangeByIndexes(first, area.columnIndex, n, area.columnCount);
    piece.load('values,numberFormat,text');
    const visible = skipHidden ? sheet.getRangeByIndexes(first, area.columnIndex, n, 1).getSpecialCellsOrNullObject('Visible') : null;
    visible?.load('address');
    try {
      await context.sync();
    } catch (err) {
      if (isPayloadTooLarge(err) && n > 1) {
        rowsPerRead = Math.ceil(n / 2);
        continue;
      }
      throw err;
    }
    const shown = visible && (visible.isNullObject ? new Set() : rowsOfAreas(visible.address));
    let largest = 0;
    piece.values.forEach((values, r) => {
      const row = first + r;
      if (shown && !shown.has(row)) hidden.push(row);
      else rows.push({ row, cells: values.map((v, c) => cellText(v, piece.numberFormat[r][c], piece.text[r][c])) });
      largest = Math.max(largest, jsonBytes(values) + jsonBytes(piece.text[r]) + jsonBytes(piece.numberFormat[r]));
    });
    rowsPerRead = perRow(largest);
    start += n;
  }
  return { rows, hidden };
}

/**
 * Where a table is and what it holds beyond its data: the header row to the last data row, and
 * the totals row (never data).
 * @typedef {object} Located
 * @property {Excel.Worksheet} sheet
 * @property {string} sheetName
 * @property {string | null} tableName
 * @property {Area} area header row to last data row
 * @property {number | null} totalsRow 0-based sheet row of the totals row
 * @property {boolean} filtered a filter hides rows of the area
 */

/**
 * Reads a located table's cells into a SheetInput.
 * @param {Excel.RequestContext} context
 * @param {Located} at
 * @param {boolean} includeHidden
 * @returns {Promise<SheetInput>}
 */
async function readLocated(context, at, includeHidden) {
  const { rows, hidden } = await readCells(context, at.sheet, at.area, { skipHidden: !includeHidden });
  const [header, ...data] = rows[0]?.row === at.area.rowIndex ? rows : [{ row: at.area.rowIndex, cells: [] }, ...rows];
  if (hidden[0] === at.area.rowIndex) {
    throw new HostError(`The header row (row ${at.area.rowIndex + 1}) of ${at.sheetName} is hidden: unhide it (Home > Format > Hide & Unhide) so the columns can be read.`);
  }
  const leftOut = { hiddenRows: hidden.map((r) => r + 1), filtered: at.filtered, totalsRow: at.totalsRow === null ? null : at.totalsRow + 1 };
  const notes = [];
  if (hidden.length) {
    const why = at.filtered ? 'hidden by the filter' : 'hidden';
    notes.push(`${count(hidden.length, 'row')} ${why} (row${hidden.length === 1 ? '' : 's'} ${listRows(leftOut.hiddenRows)}) left out: only the rows you can see are planned. Show them, or choose to include hidden rows, to plan them too.`);
  }
  if (leftOut.totalsRow !== null) notes.push(`The totals row (row ${leftOut.totalsRow}) is not a user and was left out.`);
  const end = at.area.rowIndex + at.area.rowCount + (at.totalsRow === null ? 0 : 1);
  const address = `${columnLetters(at.area.columnIndex)}${at.area.rowIndex + 1}:${columnLetters(at.area.columnIndex + at.area.columnCount - 1)}${end}`;
  return {
    columns: header.cells.map((h) => h.trim()),
    rows: data.map((r) => r.cells),
    rowNumbers: data.map((r) => r.row + 1),
    source: `${at.sheetName}!${address}`,
    sheetName: at.sheetName,
    tableName: at.tableName,
    area: at.area,
    fingerprints: data.map((r) => rowFingerprint(r.cells)),
    includeHidden,
    leftOut,
    notes,
  };
}

/**
 * Finds an Excel table's area (header to last data row, the totals row apart) and filter.
 * @param {Excel.RequestContext} context
 * @param {Excel.Worksheet} sheet
 * @param {Excel.Table} table
 * @returns {Promise<{area: Area, totalsRow: number | null, filtered: boolean}>}
 */
async function tableArea(context, sheet, table) {
  const range = table.getRange();
  range.load('rowIndex,columnIndex,rowCount,columnCount');
  table.load('showTotals');
  table.autoFilter.load('isDataFiltered');
  await context.sync();
  const totals = table.showTotals ? 1 : 0;
  return {
    area: { rowIndex: range.rowIndex, columnIndex: range.columnIndex, rowCount: range.rowCount - totals, columnCount: range.columnCount },
    totalsRow: totals ? range.rowIndex + range.rowCount - 1 : null,
    filtered: Boolean(table.autoFilter.isDataFiltered),
  };
}

/**
 * Reads the table the user means: the Excel table around the selection, else the selection,
 * else (one cell selected) the region around it. Only what the user sees is read as data: rows
 * hidden by a filter or by hand are left out unless `includeHidden`, a table's totals row
 * always; `leftOut` and `notes` say which. Each row's identity is its sheet row number.
 * @param {{maxRows?: number, includeHidden?: boolean}} [options]
 * @returns {Promise<SheetInput>}
 */
export async function readTable({ maxRows = MAX_ROWS, includeHidden = false } = {}) {
  return Excel.run(async (context) => {
    const selection = context.workbook.getSelectedRange();
    selection.load('address,rowIndex,columnIndex,rowCount,columnCount');
    const sheet = selection.worksheet;
    sheet.load('name');
    sheet.protection.load('protected');
    sheet.autoFilter.load('isDataFiltered');
    const tables = selection.getTables(false);
    tables.load('items/name');
    const region = selection.getSurroundingRegion();
    region.load('address,rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();

    const table = tables.items[0] ?? null;
    const chosen = selection.rowCount === 1 && selection.columnCount === 1 ? region : selection;
    const whole = table ? table.getRange() : chosen;
    whole.load('address');
    const merged = whole.getMergedAreasOrNullObject();
    merged.load('address');
    // One sync either way: the table's area comes with the merged cells.
    const { area, totalsRow, filtered } = table
      ? await tableArea(context, sheet, table)
      : await context.sync().then(() => ({
        area: { rowIndex: chosen.rowIndex, columnIndex: chosen.columnIndex, rowCount: chosen.rowCount, columnCount: chosen.columnCount },
        totalsRow: null,
        filtered: Boolean(sheet.autoFilter.isDataFiltered),
      }));

    if (sheet.protection.protected) {
      throw new HostError(`The sheet "${sheet.name}" is protected, so the outcomes could not be written beside your rows: unprotect it (Review > Unprotect Sheet) and plan again. Nothing was sent.`);
    }
    if (area.rowCount * area.columnCount <= 1) {
      throw new HostError('Select a cell inside your table of users (the table needs a header row, such as "User ID" or "Username", and one row per user).');
    }
    if (area.rowCount < 2) {
      throw new HostError(`The selection ${whole.address} has only one row: select the whole table, its header row included.`);
    }
    if (area.rowCount - 1 > maxRows) {
      throw new HostError(`The table ${whole.address} has ${formatNumber(area.rowCount - 1)} rows; qualtrics-roster works on at most ${formatNumber(maxRows)} at a time. Split it into smaller tables and run them one after another.`);
    }
    if (!merged.isNullObject) {
      throw new HostError(`The table has merged cells (${merged.address}): unmerge them (Home > Merge & Center) so each cell holds one value.`);
    }
    return readLocated(context, { sheet, sheetName: sheet.name, tableName: table?.name ?? null, area, totalsRow, filtered }, includeHidden);
  });
}

/**
 * The users on the rows selected in the sheet `sheetName` (the Users sheet List users wrote):
 * its header row, and each selected row below it that is visible (rows hidden by hand or by a
 * filter are left out, as Excel's own commands leave them). Refuses, saying what to select,
 * when the selection is in another sheet or holds no user's row.
 * @param {string} sheetName
 * @returns {Promise<{ table: { columns: string[], rows: string[][] }, rowNumbers: number[], hidden: number }>}
 */
export async function readSelectedUsers(sheetName) {
  return Excel.run(async (context) => {
    const selection = context.workbook.getSelectedRange();
    selection.load('rowIndex,rowCount');
    const sheet = selection.worksheet;
    sheet.load('name');
    const used = sheet.getUsedRangeOrNullObject();
    used.load('rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();
    if (sheet.name !== sheetName) {
      throw new HostError(`Select the users' rows in the "${sheetName}" sheet first (List users writes it): the selection is in "${sheet.name}".`);
    }
    if (used.isNullObject || used.rowCount < 2) throw new HostError(`The "${sheetName}" sheet has no users: press List users first.`);
    const first = Math.max(selection.rowIndex, used.rowIndex + 1);
    const last = Math.min(selection.rowIndex + selection.rowCount - 1, used.rowIndex + used.rowCount - 1);
    if (last < first) throw new HostError(`Select the rows of the users to act on in the "${sheetName}" sheet (below its header row).`);
    const header = await readCells(context, sheet, { rowIndex: used.rowIndex, columnIndex: used.columnIndex, rowCount: 1, columnCount: used.columnCount });
    const { rows, hidden } = await readCells(context, sheet, { rowIndex: first, columnIndex: used.columnIndex, rowCount: last - first + 1, columnCount: used.columnCount }, { skipHidden: true });
    if (!rows.length) throw new HostError(`Every selected row of the "${sheetName}" sheet is hidden or filtered out: select rows you can see.`);
    return {
      table: { columns: (header.rows[0]?.cells ?? []).map((h) => h.trim()), rows: rows.map((r) => r.cells) },
      rowNumbers: rows.map((r) => r.row + 1),
      hidden: hidden.length,
    };
  });
}

/**
 * Reads the table of a plan again (same sheet, same table or range, hidden rows treated the
 * same) and refuses, naming the rows, if anything the plan was made from changed: a row edited,
 * removed, added, hidden or shown. Apply calls it before sending anything.
 * @param {SheetInput} input what readTable returned at Plan
 * @returns {Promise<SheetInput>} the table as it is now (the same rows)
 */
export async function verifyTable(input) {
  const now = await Excel.run(async (context) => {
    const sheet = context.workbook.worksheets.getItemOrNullObject(input.sheetName);
    sheet.load('name');
    await context.sync();
    if (sheet.isNullObject) throw new HostError(`The sheet "${input.sheetName}" was renamed or deleted since the plan: plan again. Nothing was sent.`);
    sheet.autoFilter.load('isDataFiltered');
    const table = input.tableName ? sheet.tables.getItemOrNullObject(input.tableName) : null;
    table?.load('name');
    await context.sync();
    if (table?.isNullObject) throw new HostError(`The table "${input.tableName}" was renamed or deleted since the plan: plan again. Nothing was sent.`);
    const located = table
      ? await tableArea(context, sheet, table)
      : { area: input.area, totalsRow: null, filtered: Boolean(sheet.autoFilter.isDataFiltered) };
    return readLocated(context, { sheet, sheetName: sheet.name, tableName: input.tableName, ...located }, input.includeHidden);
  });
  const before = new Map(input.rowNumbers.map((n, i) => [n, input.fingerprints[i]]));
  const after = new Map(now.rowNumbers.map((n, i) => [n, now.fingerprints[i]]));
  const edited = input.rowNumbers.filter((n) => after.has(n) && after.get(n) !== before.get(n));
  const gone = input.rowNumbers.filter((n) => !after.has(n));
  const added = now.rowNumbers.filter((n) => !before.has(n));
  const headerChanged = JSON.stringify(now.columns) !== JSON.stringify(input.columns);
  if (headerChanged || edited.length || gone.length || added.length) {
    const what = [
      headerChanged ? 'the header row changed' : '',
      edited.length ? `row${edited.length === 1 ? '' : 's'} ${listRows(edited)} changed` : '',
      gone.length ? `row${gone.length === 1 ? '' : 's'} ${listRows(gone)} removed or hidden` : '',
      added.length ? `row${added.length === 1 ? '' : 's'} ${listRows(added)} added or shown` : '',
    ].filter(Boolean).join('; ');
    throw new HostError(`The table changed since Plan (${what}): plan again to see what Apply would do. Nothing was sent.`);
  }
  return now;
}

/**
 * One row's outcome, where it goes.
 * @typedef {object} OutcomeRow
 * @property {number} row 0-based sheet row
 * @property {string[]} values one per outcome column, already made safe
 * @property {boolean} failed coloured FAILED_FILL
 */

/** @param {string[]} values */
const rowBytes = (values) => jsonBytes(values) + 6 * values.length;

/**
 * Writes outcome rows into `width` columns from `firstColumn` on, as few blocks of consecutive
 * rows as possible: per block one range with its number formats (text), values and fill
 * cleared, and one fill per run of failed rows inside it. Each request is kept under
 * WRITE_BUDGET estimated bytes, formatting included; rows not listed are not touched.
 * @param {Excel.RequestContext} context
 * @param {Excel.Worksheet} sheet
 * @param {number} firstColumn 0-based
 * @param {OutcomeRow[]} rows sorted by row
 * @returns {Promise<number>} the number of syncs made
 */
export async function writeOutcomeRows(context, sheet, firstColumn, rows) {
  let syncs = 0;
  let queued = 0;
  const fillBytes = (/** @type {number} */ i, /** @type {number} */ start) => (rows[i].failed && !(i > start && rows[i - 1].failed) ? FILL_BLOCK_BYTES : 0);
  for (let start = 0; start < rows.length;) {
    let end = start;
    let bytes = SEGMENT_OVERHEAD_BYTES;
    do {
      bytes += rowBytes(rows[end].values) + fillBytes(end, start);
      end += 1;
    } while (end < rows.length && rows[end].row === rows[end - 1].row + 1
      && queued + bytes + rowBytes(rows[end].values) + fillBytes(end, start) <= WRITE_BUDGET);
    queueOutcomeBlock(sheet, firstColumn, rows.slice(start, end));
    queued += bytes;
    start = end;
    const next = start < rows.length ? SEGMENT_OVERHEAD_BYTES + rowBytes(rows[start].values) + FILL_BLOCK_BYTES : Infinity;
    if (queued + next > WRITE_BUDGET) {
      await context.sync();
      syncs += 1;
      queued = 0;
    }
  }
  return syncs;
}

/**
 * Queues one block of consecutive outcome rows (see writeOutcomeRows).
 * @param {Excel.Worksheet} sheet
 * @param {number} firstColumn
 * @param {OutcomeRow[]} block
 */
function queueOutcomeBlock(sheet, firstColumn, block) {
  const width = block[0].values.length;
  const range = sheet.getRangeByIndexes(block[0].row, firstColumn, block.length, width);
  range.numberFormat = block.map(() => Array(width).fill('@'));
  range.values = block.map((r) => r.values);
  range.format.fill.clear();
  for (let i = 0; i < block.length;) {
    if (!block[i].failed) { i += 1; continue; }
    let j = i;
    while (j < block.length && block[j].failed) j += 1;
    sheet.getRangeByIndexes(block[i].row, firstColumn, j - i, width).format.fill.color = FAILED_FILL;
    i = j;
  }
}

/**
 * Whether header cells are the outcome columns (Excel may have added a digit to a table
 * header that repeated another, "User ID2").
 * @param {unknown[]} headers
 * @param {string[]} columns
 */
const outcomeHeaders = (headers, columns) => headers.length === columns.length
  && headers.every((h, k) => new RegExp(`^${columns[k].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\d*$`, 'i').test(String(h).trim()));

/**
 * The first sheet column of the outcome columns beside an area: an earlier run's (marked with
 * an OUTCOME_NAME name, on the header row, right of the input columns and inside the table or
 * the region, holding exactly these headers), else new ones after the table's last column (as
 * table columns) or after the region's last column where every cell is empty, else after the
 * sheet's used range. New columns get their headers and a marking name, queued.
 * @param {Excel.RequestContext} context
 * @param {Excel.Worksheet} sheet
 * @param {Excel.Table | null} table
 * @param {Area} area the input's area now
 * @param {number} inputWidth columns of the input
 * @param {string[]} columns outcome column names, already made safe
 * @returns {Promise<number>}
 */
async function outcomeColumns(context, sheet, table, area, inputWidth, columns) {
  const headerRow = area.rowIndex;
  const inputEnd = area.columnIndex + inputWidth;
  sheet.names.load('items/name');
  const extent = table ? table.getRange() : sheet.getRangeByIndexes(headerRow, area.columnIndex, 1, 1).getSurroundingRegion();
  extent.load('columnIndex,columnCount');
  await context.sync();
  const end = Math.max(inputEnd, extent.columnIndex + extent.columnCount);
  const ours = sheet.names.items.filter((n) => n.name.startsWith(OUTCOME_NAME));
  const names = ours.map((n) => n.name);
  const marked = ours.map((n) => {
    const range = n.getRangeOrNullObject();
    range.load('rowIndex,columnIndex,rowCount,columnCount,values');
    return range;
  });
  await context.sync();
  const earlier = marked
    .filter((r) => !r.isNullObject && r.rowIndex === headerRow && r.rowCount === 1 && r.columnIndex >= inputEnd && r.columnIndex + r.columnCount <= end && outcomeHeaders(r.values[0], columns))
    .sort((a, b) => a.columnIndex - b.columnIndex)[0];
  if (earlier) return earlier.columnIndex;

  let first = end;
  if (table) {
    for (const name of columns) table.columns.add(undefined, undefined, name);
  } else {
    const block = sheet.getRangeByIndexes(headerRow, first, area.rowCount, columns.length).getUsedRangeOrNullObject(true);
    block.load('address');
    const used = sheet.getUsedRangeOrNullObject(true);
    used.load('columnIndex,columnCount');
    await context.sync();
    if (!block.isNullObject) first = used.columnIndex + used.columnCount;
    const header = sheet.getRangeByIndexes(headerRow, first, 1, columns.length);
    header.numberFormat = [columns.map(() => '@')];
    header.values = [columns];
  }
  let n = 1;
  while (names.includes(`${OUTCOME_NAME}${n}`)) n += 1;
  sheet.names.add(`${OUTCOME_NAME}${n}`, sheet.getRangeByIndexes(headerRow, first, 1, columns.length), 'Outcome columns written by qualtrics-roster');
  return first;
}

/**
 * Writes the outcome columns beside the rows read by readTable (see outcomeColumns for where).
 * Rows are found again by their content, so a table sorted since it was read still gets each
 * outcome on its own row; a row without an outcome is not touched. Resolves to
 * `{written, notWritten, where}` with the rows that could not be found again.
 * @param {Excel.RequestContext} context
 * @param {SheetInput} input
 * @param {string[]} columns
 * @param {Map<number, unknown[]>} byRow
 * @param {Set<number>} failed
 * @param {SafeText} safeText
 */
async function writeBeside(context, input, columns, byRow, failed, safeText) {
  const sheet = context.workbook.worksheets.getItemOrNullObject(input.sheetName);
  sheet.load('name');
  await context.sync();
  if (sheet.isNullObject) throw new HostError(`the sheet "${input.sheetName}" was renamed or deleted since the plan`);
  sheet.protection.load('protected');
  const table = input.tableName ? sheet.tables.getItemOrNullObject(input.tableName) : null;
  table?.load('name');
  await context.sync();
  if (sheet.protection.protected) throw new HostError(`the sheet "${sheet.name}" is protected`);
  if (table?.isNullObject) throw new HostError(`the table "${input.tableName}" was renamed or deleted since the plan`);
  const area = table ? (await tableArea(context, sheet, table)).area : input.area;

  // Where each row is now: by the content it had when it was read (input columns only).
  const { rows: now } = await readCells(context, sheet, { rowIndex: area.rowIndex + 1, columnIndex: area.columnIndex, rowCount: area.rowCount - 1, columnCount: input.columns.length });
  /** @type {Map<string, number>} */
  const positions = new Map();
  for (const { row, cells } of now) {
    const fp = rowFingerprint(cells);
    positions.set(fp, positions.has(fp) ? -1 : row);
  }
  /** @type {OutcomeRow[]} */
  const targets = [];
  /** @type {number[]} */
  const notWritten = [];
  input.rowNumbers.forEach((rowNumber, i) => {
    const values = byRow.get(rowNumber);
    if (!values) return;
    const at = positions.get(input.fingerprints[i]);
    if (at === undefined || at === -1) notWritten.push(rowNumber);
    else targets.push({ row: at, values: columns.map((_, k) => safeText(String(values[k] ?? ''))), failed: failed.has(rowNumber) });
  });
  targets.sort((a, b) => a.row - b.row);
  const first = await outcomeColumns(context, sheet, table, area, input.columns.length, columns.map(safeText));
  await writeOutcomeRows(context, sheet, first, targets);
  await context.sync();
  return { written: targets.length, notWritten, where: sheet.name };
}

/**
 * Every row's outcome beside its input cells, for an Outcomes sheet.
 * @param {SheetInput} input
 * @param {string[]} columns
 * @param {Map<number, unknown[]>} byRow
 * @returns {PlainTable}
 */
function outcomesTable(input, columns, byRow) {
  return {
    columns: ['Row', ...input.columns, ...columns],
    rows: input.rowNumbers.filter((n) => byRow.has(n)).map((n) => {
      const i = input.rowNumbers.indexOf(n);
      return [String(n), ...input.rows[i], ...columns.map((_, k) => String(byRow.get(n)?.[k] ?? ''))];
    }),
  };
}

/**
 * @param {unknown} err
 * @returns {string} why a write failed, as a clause
 */
function whyNotWritten(err) {
  if (err instanceof HostError) return err.message;
  const { code, message } = /** @type {{code?: string, message?: string}} */ (err ?? {});
  if (code === 'AccessDenied') return 'Excel refused the write (the sheet or workbook is protected)';
  return `Excel refused the write (${code ?? message ?? String(err)})`;
}

/**
 * Writes the outcome columns beside the table read by readTable, after Apply. `columns` are
 * the outcome column names; `byRow` maps a sheet row number (as read) to that row's values;
 * `failed` holds the row numbers to colour. When they cannot be written beside the rows (the
 * sheet protected, renamed or deleted since the plan, a write refused) every outcome goes to a
 * new sheet (Outcomes, or Outcomes (2)…), `table` if given else the input rows with their
 * outcomes: never lost, as Qualtrics was already changed. Resolves to
 * `{written, notWritten, where, movedTo?, reason?}`: `where` is the sheet that holds them,
 * `movedTo` and `reason` are set when that is the new sheet.
 * @param {SheetInput} input
 * @param {string[]} columns
 * @param {Map<number, unknown[]>} byRow
 * @param {{failed?: Set<number>, safeText?: SafeText, table?: PlainTable}} [options]
 * @returns {Promise<{written: number, notWritten: number[], where: string, movedTo?: string, reason?: string}>}
 */
export async function writeColumns(input, columns, byRow, { failed = new Set(), safeText = (s) => s, table } = {}) {
  let reason;
  try {
    // delayForCellEdit: a user typing in a cell when Apply ends makes Excel wait, not fail.
    return await Excel.run({ delayForCellEdit: true }, (context) => writeBeside(context, input, columns, byRow, failed, safeText));
  } catch (err) {
    reason = whyNotWritten(err);
  }
  try {
    const moved = await writeSheet('Outcomes', table ?? outcomesTable(input, columns, byRow), { safeText, activate: false, fresh: true });
    return { written: 0, notWritten: [], where: moved.sheet, movedTo: moved.sheet, reason };
  } catch (err) {
    throw new HostError(`Qualtrics was changed, but the outcomes could not be written beside your rows (${reason}) nor into a new sheet (${whyNotWritten(err)}). The audit holds every request that was sent.`);
  }
}

/**
 * The sheet name the add-in may write `name` to: `name` itself, or `name (2)`, `name (3)`…,
 * the first that no sheet has (Excel compares names ignoring case) or, unless `fresh`, that a
 * sheet of ours has (marked with SHEET_MARKER set to its current name).
 * @param {Excel.RequestContext} context
 * @param {string} name
 * @param {boolean} fresh take a name no sheet has
 * @returns {Promise<{name: string, sheet: Excel.Worksheet | null}>} sheet null: create it
 */
async function sheetSlot(context, name, fresh) {
  const sheets = context.workbook.worksheets;
  sheets.load('items/name');
  await context.sync();
  const markers = sheets.items.map((s) => {
    const marker = s.customProperties.getItemOrNullObject(SHEET_MARKER);
    marker.load('value');
    return marker;
  });
  await context.sync();
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? '' : ` (${n})`;
    const candidate = name.slice(0, 31 - suffix.length) + suffix; // Excel's 31-character limit
    const i = sheets.items.findIndex((s) => sameName(s.name, candidate));
    if (i < 0) return { name: candidate, sheet: null };
    if (!fresh && !markers[i].isNullObject && markers[i].value === sheets.items[i].name) return { name: sheets.items[i].name, sheet: sheets.items[i] };
  }
}

/**
 * Writes `{columns, rows}` as an Excel table, every cell as text, on a sheet the add-in owns:
 * the sheet `name` when the add-in made it (it is cleared and refreshed), else a new sheet
 * under the first free name (`Plan (2)`…), marked as the add-in's. A user's sheet, or a table
 * on another sheet, is never touched. `fresh` always takes a new sheet; `activate: false`
 * leaves the user on the sheet they are working in.
 * @param {string} name
 * @param {PlainTable} table
 * @param {{safeText?: SafeText, activate?: boolean, fresh?: boolean}} [options]
 * @returns {Promise<{sheet: string, table: string, rows: number}>}
 */
export async function writeSheet(name, table, { safeText = (s) => s, activate = true, fresh = false } = {}) {
  return Excel.run({ delayForCellEdit: true }, async (context) => {
    const slot = await sheetSlot(context, name, fresh);
    let sheet = slot.sheet;
    if (sheet) {
      sheet.protection.load('protected');
      sheet.tables.load('items/name');
      await context.sync();
      if (sheet.protection.protected) {
        throw new HostError(`The sheet "${slot.name}" is protected: unprotect it (Review > Unprotect Sheet) so it can be refreshed. Nothing was written.`);
      }
      for (const old of sheet.tables.items) old.delete();
      sheet.getRange().clear();
      await context.sync();
    } else {
      sheet = context.workbook.worksheets.add(slot.name);
      sheet.customProperties.add(SHEET_MARKER, slot.name);
    }
    const tables = context.workbook.tables;
    tables.load('items/name');
    await context.sync();
    const base = `Roster${name.replace(/[^A-Za-z0-9]/g, '')}`;
    let tableName = base;
    for (let n = 2; tables.items.some((t) => sameName(t.name, tableName)); n++) tableName = `${base}${n}`;

    const width = Math.max(1, table.columns.length);
    const all = [table.columns, ...table.rows].map((r) => Array.from({ length: width }, (_, c) => safeText(String(r[c] ?? ''))));
    let start = 0;
    while (start < all.length) {
      let end = start;
      let bytes = 0;
      do {
        bytes += rowBytes(all[end]);
        end += 1;
      } while (end < all.length && bytes + rowBytes(all[end]) <= WRITE_BUDGET);
      const range = sheet.getRangeByIndexes(start, 0, end - start, width);
      const rows = all.slice(start, end);
      range.numberFormat = rows.map((r) => r.map(() => '@'));
      range.values = rows;
      await context.sync();
      start = end;
    }
    const created = sheet.tables.add(`A1:${columnLetters(width - 1)}${all.length}`, true);
    created.name = tableName;
    if (activate) sheet.activate();
    await context.sync();
    return { sheet: slot.name, table: tableName, rows: table.rows.length };
  });
}

/**
 * Reads the sheet `name` (Excel finds it ignoring case; its used range, header first) as
 * `{columns, rows, rowNumbers}`, or null when the workbook has no such sheet or it is empty.
 * @param {string} name
 * @returns {Promise<{columns: string[], rows: string[][], rowNumbers: number[]} | null>}
 */
export async function readNamedSheet(name) {
  return Excel.run(async (context) => {
    const sheet = context.workbook.worksheets.getItemOrNullObject(name);
    await context.sync();
    if (sheet.isNullObject) return null;
    const used = sheet.getUsedRangeOrNullObject(true);
    used.load('rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();
    if (used.isNullObject || used.rowCount < 1) return null;
    const { rows } = await readCells(context, sheet, { rowIndex: used.rowIndex, columnIndex: used.columnIndex, rowCount: used.rowCount, columnCount: used.columnCount });
    const [header, ...data] = rows;
    return {
      columns: header.cells.map((h) => h.trim()),
      rows: data.map((r) => r.cells),
      rowNumbers: data.map((r) => r.row + 1),
    };
  });
}

/**
 * The Excel host (see host/host.js): the functions above over the workbook, with the core's
 * formula-injection rule (`safeText`) applied to every cell written, and a token store that
 * never touches the workbook. A flow's "Include hidden rows" box (`<prefix>include-hidden`),
 * where the pane has one, plans hidden rows too.
 * @param {{safeText: SafeText, progress: Host['progress']}} parts
 * @returns {Host}
 */
export function createExcelHost({ safeText, progress }) {
  /** The sheet each name was last written to (`Users (2)` when the user has a "Users"). */
  /** @type {Map<string, string>} */
  const written = new Map();
  /** @param {string} name */
  const readWritten = (name) => readNamedSheet(written.get(name) ?? name);
  /** The connection the app made (after any datacenter move); the pane plans on it. */
  /** @type {import('../worker.js').ConnectionSpec | null} */
  let spec = null;
  /** The Excel table each sheet name was last written as (`RosterUsers`). */
  /** @type {Map<string, string>} */
  const tablesWritten = new Map();
  /** @type {Host} */
  const host = {
    kind: 'excel',
    progress,
    /**
     * Remembered connection: OfficeRuntime.storage where Office offers it, else the add-in's
     * own (partitioned) localStorage. Never Office.context.document.settings: those travel
     * with the workbook.
     */
    tokenStore: typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage
      ? {
        get: (key) => OfficeRuntime.storage.getItem(key),
        set: (key, value) => OfficeRuntime.storage.setItem(key, value),
        remove: (key) => OfficeRuntime.storage.removeItem(key),
      }
      : {
        async get(key) { return localStorage.getItem(key); },
        async set(key, value) { localStorage.setItem(key, value); },
        async remove(key) { localStorage.removeItem(key); },
      },
    /**
     * The pane plans in its own thread, with a client of the full core module (loaded on the
     * first plan) on this connection.
     */
    async connect(given) { spec = given; },
    async disconnect() {
      spec = null;
      forgetSheetsClient();
    },
    /** The selected table (see readTable), hidden rows included when the flow's box is ticked. */
    readTable: (prefix) => readTable({ includeHidden: find(`${prefix}include-hidden`, HTMLInputElement)?.checked ?? false }),
    /**
     * A table the app made (the Runs view's Retry, Undo, Resume): written to a sheet of the
     * add-in's own named `sheetName` and planned from there, as if selected, so its outcomes
     * go beside its rows. (The pane has no Users grid: its users go to the Users sheet.)
     */
    async takeTable(prefix, kind, table, source, sheetName) {
      if (!sheetName) throw new HostError('Select the rows in a sheet and press Plan: the pane plans the table selected in the workbook.');
      const made = await writeSheet(sheetName, table, { safeText });
      written.set(sheetName, made.sheet);
      // Read back as Plan reads a selected table (Apply checks it the same way).
      const read = await Excel.run(async (context) => {
        const sheet = context.workbook.worksheets.getItem(made.sheet);
        sheet.load('name');
        const excelTable = sheet.tables.getItemOrNullObject(made.table);
        excelTable.load('name');
        await context.sync();
        if (excelTable.isNullObject) throw new HostError(`The "${made.sheet}" sheet lost its table: plan again.`);
        const located = await tableArea(context, sheet, excelTable);
        return readLocated(context, { sheet, sheetName: sheet.name, tableName: excelTable.name, ...located }, true);
      });
      return { ...read, source: `${source}, ${read.source}` };
    },
    /** The users on the rows selected in the Users sheet (see readSelectedUsers). */
    readSelectedUsers: () => readSelectedUsers(written.get('Users') ?? 'Users'),
    /** Refuses, naming the rows, when the planned table changed since Plan (see verifyTable). */
    verifyTable: (input) => verifyTable(/** @type {SheetInput} */ (input)),
    /** Plans in this thread: the rows are in the pane's memory. */
    async plan(kind, input, request, onProgress) {
      if (!spec) throw new HostError('Connect first.');
      return planRun(await sheetsClient(spec), kind, /** @type {SheetInput} */ (input), request, onProgress);
    },
    /** The run lives in this thread: a progress callback is itself. */
    callback: (fn) => fn,
    /** The rules of the sheet named "Roles", or null when there is none. */
    readRoles: () => readNamedSheet('Roles'),
    /** Writes a Roles sheet (a free name if the user has one: theirs is never replaced). */
    setRoles: (table) => host.writeSheet('Roles', table),
    /** A sheet the add-in owns (see writeSheet). */
    async writeSheet(name, table, { activate = true } = {}) {
      const result = await writeSheet(name, table, { safeText, activate });
      written.set(name, result.sheet);
      tablesWritten.set(name, result.table);
      return result;
    },
    /**
     * Filters the Users sheet's table on `column` (a blank `value`: the empty cells), or clears
     * that column's filter for null; shows the sheet.
     */
    async filterUsers(column, value) {
      const tableName = tablesWritten.get('Users');
      const sheetName = written.get('Users');
      if (!tableName || !sheetName) throw new HostError('List users first: the bars filter the Users sheet.');
      await Excel.run(async (context) => {
        const table = context.workbook.tables.getItemOrNullObject(tableName);
        await context.sync();
        if (table.isNullObject) throw new HostError(`The table "${tableName}" of the Users sheet was renamed or deleted: list users again.`);
        const filter = table.columns.getItem(column).filter;
        if (value === null) filter.clear();
        else if (value === '') filter.applyCustomFilter('=');
        else filter.applyValuesFilter([value]);
        context.workbook.worksheets.getItem(sheetName).activate();
        await context.sync();
      });
    },
    /** Outcome columns beside the rows, or a new Outcomes sheet (see writeColumns). */
    writeColumns: (input, columns, byRow, { failed, table }) => writeColumns(/** @type {SheetInput} */ (input), columns, byRow, { failed, table, safeText }),
    /** Selects the row `row` of the user's sheet the flow planned (a problem's "go to row"). */
    async showRow(prefix, input, row) {
      const sheetName = /** @type {SheetInput} */ (input).sheetName;
      await Excel.run(async (context) => {
        const sheet = context.workbook.worksheets.getItem(sheetName);
        sheet.activate();
        sheet.getRange(`${row}:${row}`).select();
        await context.sync();
      });
    },
    /** A group of problems: selects the first of its rows (Excel's own filter is the user's). */
    async showRows(prefix, input, rows) {
      if (rows.length) await host.showRow(prefix, input, rows[0]);
    },
    /** The run's audit log as an Audit sheet. */
    async saveAudit(run) {
      await host.writeSheet('Audit', await run.auditTable());
    },
    /** A sheet the add-in wrote, as a CSV download. */
    async downloadSheet(name, filename) {
      const table = await readWritten(name);
      if (!table) throw new HostError(`There is no ${name} sheet yet.`);
      download(filename, tableToCsv(table));
    },
    /** Sheets the add-in wrote (and the Roles sheet), as one .xlsx download. */
    async downloadWorkbook(names, filename) {
      const sheets = [];
      for (const name of names) {
        const table = await readWritten(name);
        if (table) sheets.push({ name, table: { columns: table.columns, rows: table.rows } });
      }
      const { writeWorkbook } = await workbooks();
      download(filename, writeWorkbook(sheets, Date.now()), XLSX_TYPE);
    },
  };
  return host;
}
