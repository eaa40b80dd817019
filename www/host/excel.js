// The Excel host: the same functions as host/browser.js, over the workbook through Office.js.
// Every access is inside Excel.run; properties are loaded and then read after one sync;
// big reads and writes go in chunks kept under Office's 5 MB request limit (one sync per
// chunk, never one per row).

/** Rows above which a table is refused (Qualtrics brands are far smaller; Excel's payload is not). */
export const MAX_ROWS = 100_000;
/** Bytes of cell text per sync, well under Office's 5 MB request/response limit. */
export const CHUNK_BYTES = 2_000_000;
/** Fill of the outcome cells of failed rows (Fluent's light red). */
export const FAILED_FILL = '#FDE7E9';

/** Thrown with a message the pane shows as is. */
export class HostError extends Error {}

/** Cell values as text: what the core reads. Dates formatted as dates become YYYY-MM-DD. */
export function cellText(value, numberFormat) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' && isDateFormat(numberFormat)) return excelSerialToIso(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return String(value);
}

function isDateFormat(format) {
  if (typeof format !== 'string' || format === 'General' || format === '@') return false;
  const stripped = format.replace(/"[^"]*"|\[[^\]]*\]|\\./g, '');
  return /[dy]/i.test(stripped) || /m.*[dy]|[dy].*m/i.test(stripped);
}

/** Excel's 1900 date system serial to YYYY-MM-DD (serial 1 = 1900-01-01; 60 is the fake 1900-02-29). */
export function excelSerialToIso(serial) {
  const days = Math.floor(serial);
  const ms = Date.UTC(1899, 11, 30) + days * 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

/** A1 column letters for a 0-based index. */
export function columnLetters(index) {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

const rowFingerprint = (cells) => JSON.stringify(cells);

/** Cells read per sync: values and number formats of 50,000 cells stay well under 5 MB. */
const CELLS_PER_READ = 50_000;

/** Reads an area's cells as text, one sync per chunk of rows. */
async function readGrid(context, sheet, area) {
  const rowsPerChunk = Math.max(1, Math.floor(CELLS_PER_READ / area.columnCount));
  const grid = [];
  for (let start = 0; start < area.rowCount; start += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, area.rowCount - start);
    const piece = sheet.getRangeByIndexes(area.rowIndex + start, area.columnIndex, count, area.columnCount);
    piece.load('values,numberFormat');
    await context.sync();
    piece.values.forEach((row, r) => grid.push(row.map((v, c) => cellText(v, piece.numberFormat[r][c]))));
  }
  return grid;
}

/** Splits row indexes [0, count) into chunks whose text stays under CHUNK_BYTES. */
export function chunkRows(count, bytesOfRow) {
  const chunks = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const b = bytesOfRow(i) + 16;
    if (i > start && bytes + b > CHUNK_BYTES) {
      chunks.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += b;
  }
  if (count > start) chunks.push([start, count]);
  return chunks;
}

/**
 * Reads the table the user means: the Excel table around the selection, else the selection,
 * else (one cell selected) the region around it. Resolves to
 * `{columns, rows, rowNumbers, source, sheetName, tableName, area, fingerprints}` where each
 * row's identity is its sheet row number.
 */
export async function readTable({ maxRows = MAX_ROWS } = {}) {
  return Excel.run(async (context) => {
    const selection = context.workbook.getSelectedRange();
    selection.load('address,rowIndex,columnIndex,rowCount,columnCount');
    const sheet = selection.worksheet;
    sheet.load('name');
    sheet.protection.load('protected');
    const tables = selection.getTables(false);
    tables.load('items/name');
    const region = selection.getSurroundingRegion();
    region.load('address,rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();

    let area;
    let tableName = null;
    if (tables.items.length > 0) {
      tableName = tables.items[0].name;
      area = tables.items[0].getRange();
      area.load('address,rowIndex,columnIndex,rowCount,columnCount');
    } else if (selection.rowCount === 1 && selection.columnCount === 1) {
      area = region;
    } else {
      area = selection;
    }
    const merged = area.getMergedAreasOrNullObject();
    merged.load('address');
    await context.sync();

    if (sheet.protection.protected) {
      throw new HostError(`The sheet "${sheet.name}" is protected, so the outcomes could not be written beside your rows: unprotect it (Review > Unprotect Sheet) and plan again. Nothing was sent.`);
    }
    if (area.rowCount * area.columnCount <= 1) {
      throw new HostError('Select a cell inside your table of users (the table needs a header row, such as "User ID" or "Username", and one row per user).');
    }
    if (area.rowCount < 2) {
      throw new HostError(`The selection ${area.address} has only one row: select the whole table, its header row included.`);
    }
    if (area.rowCount - 1 > maxRows) {
      throw new HostError(`The table ${area.address} has ${(area.rowCount - 1).toLocaleString('en-US')} rows; qualtrics-roster works on at most ${maxRows.toLocaleString('en-US')} at a time. Split it into smaller tables and run them one after another.`);
    }
    if (!merged.isNullObject) {
      throw new HostError(`The table has merged cells (${merged.address}): unmerge them (Home > Merge & Center) so each cell holds one value.`);
    }

    const grid = await readGrid(context, sheet, area);
    const [header, ...rows] = grid;
    const columns = header.map((h) => h.trim());
    const firstRow = area.rowIndex + 2; // sheet row number of the first data row
    return {
      columns,
      rows,
      rowNumbers: rows.map((_, i) => firstRow + i),
      source: `${sheet.name}!${area.address.split('!').pop()}`,
      sheetName: sheet.name,
      tableName,
      area: { rowIndex: area.rowIndex, columnIndex: area.columnIndex, rowCount: area.rowCount, columnCount: area.columnCount },
      fingerprints: rows.map(rowFingerprint),
    };
  });
}

/**
 * Writes outcome columns beside the table read by `readTable`. `columns` are the outcome
 * column names; `byRow` maps an original sheet row number to that row's values; `failed` is a
 * set of row numbers to colour. Rows are found again by their content, so a table sorted or
 * filtered since it was read still gets each outcome on the right row. Resolves to
 * `{written, notWritten: [row numbers]}`. Refuses a protected sheet before writing anything.
 */
export async function writeColumns(input, columns, byRow, { failed = new Set(), safeText = (s) => s } = {}) {
  return Excel.run(async (context) => {
    const sheet = context.workbook.worksheets.getItem(input.sheetName);
    sheet.load('name');
    sheet.protection.load('protected');
    const { rowIndex, columnIndex, columnCount } = input.area;
    // The table as it is now (it may have been sorted, grown or shrunk since it was read).
    const table = input.tableName ? sheet.tables.getItem(input.tableName) : null;
    // Without a table, look a few columns past the input for outcome columns of an earlier run.
    const now = table ? table.getRange() : sheet.getRangeByIndexes(rowIndex, columnIndex, input.area.rowCount, columnCount + columns.length);
    now.load('rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();
    if (sheet.protection.protected) {
      throw new HostError(`The sheet "${sheet.name}" is protected: unprotect it (Review > Unprotect Sheet) so the outcomes can be written beside your rows. Nothing was written.`);
    }
    const grid = await readGrid(context, sheet, now);
    const header = grid[0].map((h) => h.trim());

    // Where each row is now: by the content it had when it was read (input columns only).
    const width = input.columns.length;
    const positions = new Map();
    grid.slice(1).forEach((cells, i) => {
      const fp = rowFingerprint(cells.slice(0, width));
      positions.set(fp, positions.has(fp) ? -1 : now.rowIndex + 1 + i);
    });
    const targets = new Map(); // sheet row index (0-based) -> values
    const notWritten = [];
    input.rowNumbers.forEach((rowNumber, i) => {
      if (!byRow.has(rowNumber)) return;
      const at = positions.get(input.fingerprints[i]);
      if (at === undefined || at === -1) notWritten.push(rowNumber);
      else targets.set(at, { values: byRow.get(rowNumber), failed: failed.has(rowNumber) });
    });

    // Outcome columns: reuse same-named columns (an earlier run's), else add them on the right
    // of the last non-empty header cell.
    let used = header.length;
    while (used > width && header[used - 1] === '') used--;
    let nextFree = now.columnIndex + used;
    const outcomeCols = columns.map((name) => {
      const existing = header.indexOf(name);
      return existing >= 0 ? now.columnIndex + existing : nextFree++;
    });
    const isNew = (k) => header.indexOf(columns[k]) < 0;
    columns.forEach((name, k) => {
      if (!isNew(k)) return;
      if (table) {
        table.columns.add(null, null, name);
      } else {
        const cell = sheet.getRangeByIndexes(now.rowIndex, outcomeCols[k], 1, 1);
        cell.numberFormat = [['@']];
        cell.values = [[name]];
      }
    });

    // One column block at a time, from the first to the last data row, in chunks.
    const dataRows = now.rowCount - 1;
    const firstData = now.rowIndex + 1;
    const cellValue = (col, rowIdx) => {
      const t = targets.get(firstData + rowIdx);
      if (t) return safeText(String(t.values[col] ?? ''));
      const existing = outcomeCols[col] - now.columnIndex;
      return existing < header.length ? safeText(grid[1 + rowIdx][existing] ?? '') : '';
    };
    const chunks = chunkRows(dataRows, (r) => columns.reduce((n, _, col) => n + cellValue(col, r).length * 2 + 8, 0));
    for (const [start, end] of chunks) {
      outcomeCols.forEach((sheetCol, col) => {
        const range = sheet.getRangeByIndexes(firstData + start, sheetCol, end - start, 1);
        const values = [];
        const formats = [];
        for (let r = start; r < end; r++) {
          values.push([cellValue(col, r)]);
          formats.push(['@']);
        }
        range.numberFormat = formats;
        range.values = values;
      });
      // Colours: clear the block, then mark failed rows.
      const first = Math.min(...outcomeCols);
      const span = Math.max(...outcomeCols) - first + 1;
      sheet.getRangeByIndexes(firstData + start, first, end - start, span).format.fill.clear();
      for (let r = start; r < end; r++) {
        if (targets.get(firstData + r)?.failed) {
          sheet.getRangeByIndexes(firstData + r, first, 1, span).format.fill.color = FAILED_FILL;
        }
      }
      await context.sync();
    }
    return { written: targets.size, notWritten, where: `${input.sheetName}` };
  });
}

/**
 * Writes `{columns, rows}` as an Excel table on the sheet `name` (created, or cleared and
 * refreshed), every cell as text. The table is named after the sheet, so refreshing replaces it.
 * `activate: false` leaves the user on the sheet they are working in.
 */
export async function writeSheet(name, table, { safeText = (s) => s, activate = true } = {}) {
  const tableName = `Roster${name.replace(/[^A-Za-z0-9]/g, '')}`;
  return Excel.run(async (context) => {
    let sheet = context.workbook.worksheets.getItemOrNullObject(name);
    const old = context.workbook.tables.getItemOrNullObject(tableName);
    await context.sync();
    if (sheet.isNullObject) {
      sheet = context.workbook.worksheets.add(name);
    } else {
      sheet.protection.load('protected');
      await context.sync();
      if (sheet.protection.protected) {
        throw new HostError(`The sheet "${name}" is protected: unprotect it (Review > Unprotect Sheet) so it can be refreshed. Nothing was written.`);
      }
    }
    if (!old.isNullObject) old.delete();
    sheet.getRange().clear();
    const width = Math.max(1, table.columns.length);
    const all = [table.columns, ...table.rows];
    const chunks = chunkRows(all.length, (r) => all[r].reduce((n, c) => n + String(c ?? '').length * 2 + 8, 0));
    for (const [start, end] of chunks) {
      const range = sheet.getRangeByIndexes(start, 0, end - start, width);
      const rows = all.slice(start, end).map((r) => Array.from({ length: width }, (_, c) => safeText(String(r[c] ?? ''))));
      range.numberFormat = rows.map((r) => r.map(() => '@'));
      range.values = rows;
      await context.sync();
    }
    const address = `A1:${columnLetters(width - 1)}${all.length}`;
    const created = sheet.tables.add(address, true);
    created.name = tableName;
    if (activate) sheet.activate();
    await context.sync();
    return { sheet: name, table: tableName, rows: table.rows.length };
  });
}

/**
 * Reads the sheet `name` (its used range, header first) as `{columns, rows, rowNumbers}`, or
 * null when the workbook has no such sheet or it is empty.
 */
export async function readNamedSheet(name) {
  return Excel.run(async (context) => {
    const sheet = context.workbook.worksheets.getItemOrNullObject(name);
    await context.sync();
    if (sheet.isNullObject) return null;
    const used = sheet.getUsedRangeOrNullObject(true);
    used.load('address,rowIndex,columnIndex,rowCount,columnCount');
    await context.sync();
    if (used.isNullObject || used.rowCount < 1) return null;
    const grid = await readGrid(context, sheet, used);
    const [header, ...rows] = grid;
    return {
      columns: header.map((h) => h.trim()),
      rows,
      rowNumbers: rows.map((_, i) => used.rowIndex + 2 + i),
    };
  });
}

/**
 * The Excel host object the app uses: the functions above with the core's formula-injection
 * rule applied to every cell written, and a token store that never touches the workbook.
 */
export function createExcelHost({ safeText, progress }) {
  return {
    kind: 'excel',
    progress,
    readTable: () => readTable(),
    /** The rules of the sheet named "Roles", or null when there is none. */
    readRoles: () => readNamedSheet('Roles'),
    /** Writes a Roles sheet. */
    setRoles: (table) => writeSheet('Roles', table, { safeText }),
    /** The template goes to a sheet of its own. */
    offerTemplate: (table) => writeSheet('Template', table, { safeText }),
    writeSheet: (name, table, { activate } = {}) => writeSheet(name, table, { safeText, activate }),
    writeColumns: (input, columns, byRow, { failed } = {}) => writeColumns(input, columns, byRow, { failed, safeText }),
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
  };
}
