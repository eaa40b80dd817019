// An Excel workbook held in memory, exposed through office-addin-mock objects so code under
// test must load properties and sync before reading them, as with Office.js. Writes are
// applied when the context syncs; a sync whose request or response exceeds Office's 5 MB limit
// fails as Office's does. Loads in Node (CommonJS) and in a page (sets window.WorkbookDouble).
//
// What it models of real Excel, because the add-in depends on it:
// - sheet and table names are matched ignoring case, and a table name is unique in the workbook;
// - rows hidden by hand or by a filter (`getSpecialCellsOrNullObject('Visible')`, autoFilter);
// - a table's totals row (`showTotals`, `getDataBodyRange`);
// - number formats: `values` holds the number, `text` what the cell shows (`00123`);
// - protection that changes between syncs: a write to a protected sheet fails the sync with
//   `AccessDenied` and applies nothing of it;
// - worksheet custom properties and worksheet-scoped names (which follow their cells when a
//   table gains columns);
// - `Excel.run(options, batch)` with the options recorded (`delayForCellEdit`).
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.WorkbookDouble = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  const PAYLOAD_LIMIT = 5 * 1024 * 1024;

  function letters(index) {
    let s = '';
    for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
    return s;
  }
  function parseCell(a) {
    const m = /^([A-Z]+)(\d+)$/.exec(a.replace(/\$/g, ''));
    let col = 0;
    for (const ch of m[1]) col = col * 26 + (ch.charCodeAt(0) - 64);
    return { row: Number(m[2]) - 1, col: col - 1 };
  }
  function parseAddress(address) {
    const bare = address.split('!').pop();
    const [a, b] = bare.split(':');
    const s = parseCell(a);
    const e = b ? parseCell(b) : s;
    return { r0: s.row, c0: s.col, r1: e.row, c1: e.col };
  }
  function formatAddress(sheet, box) {
    const a = `${letters(box.c0)}${box.r0 + 1}`;
    const b = `${letters(box.c1)}${box.r1 + 1}`;
    const quoted = /^[A-Za-z0-9_]+$/.test(sheet) ? sheet : `'${sheet.replace(/'/g, "''")}'`;
    return `${quoted}!${a === b ? a : `${a}:${b}`}`;
  }
  const overlaps = (a, b) => a.r0 <= b.r1 && b.r0 <= a.r1 && a.c0 <= b.c1 && b.c0 <= a.c1;
  const sameName = (a, b) => a.toLowerCase() === b.toLowerCase();
  const isDateFormat = (f) => /^[dmy\-/. ]+$/i.test(f) && /[dy]/i.test(f);

  /** What Excel shows for a value in a format (the subset the tests use). */
  function displayText(value, format) {
    if (value === '' || value === null || value === undefined) return '';
    if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
    if (typeof value !== 'number' || format === 'General' || format === '@') return String(value);
    if (/^0+$/.test(format)) return String(Math.round(value)).padStart(format.length, '0');
    const decimals = /^0\.(0+)$/.exec(format);
    if (decimals) return value.toFixed(decimals[1].length);
    if (isDateFormat(format)) {
      const iso = new Date(Date.UTC(1899, 11, 30) + Math.floor(value) * 86_400_000).toISOString().slice(0, 10);
      const [y, m, d] = iso.split('-');
      return format.toLowerCase().startsWith('d') ? `${d}/${m}/${y}` : iso;
    }
    return String(value);
  }

  /** The workbook's state: sheets of cells, tables, selection. Tests build and inspect it. */
  class Workbook {
    constructor() {
      this.sheets = new Map();
      this.tables = [];
      this.selection = null;
      this.active = null;
      this.syncs = 0;
      this.largestSyncBytes = 0;
      this.payloadLimit = PAYLOAD_LIMIT;
      /** Options of every Excel.run, in order ({} for the one-argument form). */
      this.runs = [];
      /** Called with the sync number before each sync is applied: tests change the workbook mid-run. */
      this.beforeSync = null;
    }
    /**
     * `hiddenRows` are hidden by hand, `filteredRows` by a filter (0-based sheet rows);
     * `formats` maps "row,col" to a number format.
     */
    addSheet(name, rows = [], { protectedSheet = false, merged = [], hiddenRows = [], filteredRows = [], formats = {} } = {}) {
      if (this.findSheet(name)) throw new Error(`ItemAlreadyExists: a sheet "${name}" already exists (names are compared ignoring case).`);
      const sheet = {
        name, cells: new Map(), protected: protectedSheet, merged: merged.map(parseAddress),
        hidden: new Set(hiddenRows), filtered: new Set(filteredRows), properties: new Map(), names: new Map(),
      };
      rows.forEach((row, r) => row.forEach((v, c) => {
        if (v !== '' && v !== null && v !== undefined) sheet.cells.set(`${r},${c}`, { value: v, format: formats[`${r},${c}`] ?? 'General', fill: null });
      }));
      this.sheets.set(name, sheet);
      if (!this.active) this.active = name;
      return sheet;
    }
    /** The sheet called `name`, ignoring case, as Excel finds it; undefined if none. */
    findSheet(name) {
      for (const sheet of this.sheets.values()) if (sameName(sheet.name, name)) return sheet;
      return undefined;
    }
    renameSheet(from, to) {
      const sheet = this.sheets.get(from);
      this.sheets.delete(from);
      sheet.name = to;
      this.sheets.set(to, sheet);
      for (const t of this.tables) if (t.sheet === from) t.sheet = to;
      if (this.active === from) this.active = to;
      if (this.selection?.sheet === from) this.selection.sheet = to;
    }
    deleteSheet(name) {
      this.sheets.delete(name);
      this.tables = this.tables.filter((t) => t.sheet !== name);
    }
    /** A table; `totals` adds a totals row as its last row. */
    addTable(sheetName, address, name, { totals = false } = {}) {
      this.tables.push({ sheet: sheetName, name, box: parseAddress(address), totals });
    }
    findTable(name) {
      return this.tables.find((t) => sameName(t.name, name));
    }
    select(sheetName, address) {
      this.selection = { sheet: sheetName, box: parseAddress(address) };
      this.active = sheetName;
    }
    cell(sheetName, r, c) {
      return this.sheets.get(sheetName).cells.get(`${r},${c}`) ?? { value: '', format: 'General', fill: null };
    }
    /** Cell values of a sheet as a 2-D array up to its last used cell. */
    values(sheetName) {
      const { rows, cols } = this.extent(sheetName);
      return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => this.cell(sheetName, r, c).value));
    }
    /** Rows and columns up to the last cell holding a value or a format. */
    extent(sheetName) {
      let rows = 0;
      let cols = 0;
      for (const k of this.sheets.get(sheetName).cells.keys()) {
        const [r, c] = k.split(',').map(Number);
        rows = Math.max(rows, r + 1);
        cols = Math.max(cols, c + 1);
      }
      return { rows, cols };
    }
    setCell(sheetName, r, c, patch) {
      const sheet = this.sheets.get(sheetName);
      const next = { ...this.cell(sheetName, r, c), ...patch };
      if ((next.value === '' || next.value === null) && next.format === 'General' && !next.fill) sheet.cells.delete(`${r},${c}`);
      else sheet.cells.set(`${r},${c}`, next);
    }
    isEmpty(sheetName, r, c) {
      const v = this.cell(sheetName, r, c).value;
      return v === '' || v === null || v === undefined;
    }
    isHidden(sheetName, r) {
      const sheet = this.sheets.get(sheetName);
      return sheet.hidden.has(r) || sheet.filtered.has(r);
    }
    /** Excel's current region: the rectangle around a cell bounded by empty rows and columns. */
    region(sheetName, box) {
      const b = { ...box };
      const rowHas = (r) => { for (let c = Math.max(0, b.c0 - 1); c <= b.c1 + 1; c++) if (!this.isEmpty(sheetName, r, c)) return true; return false; };
      const colHas = (c) => { for (let r = Math.max(0, b.r0 - 1); r <= b.r1 + 1; r++) if (!this.isEmpty(sheetName, r, c)) return true; return false; };
      for (let changed = true; changed;) {
        changed = false;
        while (rowHas(b.r1 + 1)) { b.r1++; changed = true; }
        while (b.r0 > 0 && rowHas(b.r0 - 1)) { b.r0--; changed = true; }
        while (colHas(b.c1 + 1)) { b.c1++; changed = true; }
        while (b.c0 > 0 && colHas(b.c0 - 1)) { b.c0--; changed = true; }
      }
      return b;
    }
  }

  /** An error as Office.js raises it: a message and a `code`. */
  function officeError(code, message) {
    return Object.assign(new Error(`${code}: ${message}`), { code, name: 'RichApi.Error' });
  }

  /**
   * Office.js globals over `workbook`: `{Excel, Office, OfficeRuntime}`. `OfficeMockObject` is
   * office-addin-mock's class (passed in so the page and Node can each load it their way).
   */
  function createExcelDouble(OfficeMockObject, workbook) {
    let ops = [];
    let created = [];
    let loaded = [];

    function track(mock) {
      created.push(mock);
      const load = mock.load.bind(mock);
      mock.load = (props) => { loaded.push({ mock, props }); load(props); return mock; };
      return new Proxy(mock, {
        set(target, prop, value) {
          if (['values', 'numberFormat', 'name'].includes(prop) && target.__writable) ops.push({ kind: 'set', target, prop, value });
          target[prop] = value;
          return true;
        },
      });
    }
    const nullObject = (props = {}) => {
      const nul = track(new OfficeMockObject(props));
      nul.isNullObject = true;
      return nul;
    };
    /** A collection whose load('items/a,items/b') loads those properties of every item. */
    function collection(items) {
      const coll = track(new OfficeMockObject({
        load: (props) => {
          const sub = String(props ?? '').split(',').map((p) => p.trim()).filter((p) => p.startsWith('items/')).map((p) => p.slice(6));
          if (sub.length) items.forEach((item) => item.load(sub.join(',')));
          return coll;
        },
      }));
      coll.items = items;
      return coll;
    }
    const sheetOf = (name) => {
      const sheet = workbook.findSheet(name);
      if (!sheet) throw officeError('ItemNotFound', `the worksheet "${name}" does not exist.`);
      return sheet;
    };

    function worksheetMock(name) {
      const sheet = sheetOf(name);
      const filtered = sheet.filtered.size > 0;
      const m = track(new OfficeMockObject({
        name: sheet.name,
        protection: { protected: sheet.protected },
        autoFilter: { isDataFiltered: filtered },
        getRangeByIndexes: (r, c, rows, cols) => rangeMock(sheet.name, { r0: r, c0: c, r1: r + rows - 1, c1: c + cols - 1 }),
        getRange: (address) => rangeMock(sheet.name, address ? parseAddress(address) : { r0: 0, c0: 0, r1: 1048575, c1: 16383 }),
        activate: () => { ops.push({ kind: 'activate', sheet: sheet.name }); },
        getUsedRangeOrNullObject: () => {
          const { rows, cols } = workbook.extent(sheet.name);
          if (!rows) return nullObject({ rowCount: 0, columnIndex: 0, columnCount: 0 });
          const r = rangeMock(sheet.name, { r0: 0, c0: 0, r1: rows - 1, c1: cols - 1 });
          r.isNullObject = false;
          return r;
        },
        customProperties: {
          add: (key, value) => { ops.push({ kind: 'addProperty', sheet, key, value }); },
          getItemOrNullObject: (key) => {
            if (!sheet.properties.has(key)) return nullObject({ value: '' });
            const p = track(new OfficeMockObject({ key, value: sheet.properties.get(key) }));
            p.isNullObject = false;
            return p;
          },
        },
        tables: {
          add: (address, hasHeaders) => {
            const t = { sheet: sheet.name, name: `Table${workbook.tables.length + 1}`, box: parseAddress(address), hasHeaders, totals: false };
            ops.push({ kind: 'addTable', table: t });
            return tableMock(t);
          },
          getItem: (tname) => {
            const t = workbook.tables.find((x) => sameName(x.name, tname) && x.sheet === sheet.name);
            if (!t) throw officeError('ItemNotFound', `the table "${tname}" does not exist.`);
            return tableMock(t);
          },
          getItemOrNullObject: (tname) => {
            const t = workbook.tables.find((x) => sameName(x.name, tname) && x.sheet === sheet.name);
            if (!t) return nullObject({ name: tname });
            const tm = tableMock(t);
            tm.isNullObject = false;
            return tm;
          },
        },
      }));
      // A collection of names: load('items/name') reads every name of the sheet.
      m.names = Object.assign(collection([...sheet.names.keys()].map((n) => namedItemMock(sheet, n))), {
        add: (nameText, reference) => { ops.push({ kind: 'addName', sheet, name: nameText, box: reference.__box }); },
        getItemOrNullObject: (nameText) => (sheet.names.has(nameText) ? namedItemMock(sheet, nameText) : nullObject({ name: nameText })),
      });
      m.tables.load = (props) => {
        const items = workbook.tables.filter((t) => t.sheet === sheet.name).map(tableMock);
        collection(items).load(props);
        m.tables.items = items;
        return m.tables;
      };
      m.__writable = true;
      m.__sheet = sheet;
      m.isNullObject = false;
      return m;
    }

    function namedItemMock(sheet, nameText) {
      const m = track(new OfficeMockObject({
        name: nameText,
        getRangeOrNullObject: () => {
          const box = sheet.names.get(nameText);
          if (!box) return nullObject({ rowIndex: -1 });
          const r = rangeMock(sheet.name, box);
          r.isNullObject = false;
          return r;
        },
      }));
      m.isNullObject = false;
      return m;
    }

    function rangeMock(sheetName, box) {
      const huge = (box.r1 - box.r0 + 1) * (box.c1 - box.c0 + 1) > 5_000_000;
      const rows = huge ? [] : Array.from({ length: box.r1 - box.r0 + 1 }, (_, r) => Array.from({ length: box.c1 - box.c0 + 1 }, (_, c) => workbook.cell(sheetName, box.r0 + r, box.c0 + c)));
      const fill = track(new OfficeMockObject({ color: '', clear: () => { ops.push({ kind: 'clearFill', sheet: sheetName, box }); } }));
      const merged = workbook.sheets.get(sheetName).merged.filter((m) => overlaps(m, box));
      const m = track(new OfficeMockObject({
        address: formatAddress(sheetName, box),
        rowIndex: box.r0,
        columnIndex: box.c0,
        rowCount: box.r1 - box.r0 + 1,
        columnCount: box.c1 - box.c0 + 1,
        values: rows.map((r) => r.map((x) => x.value)),
        numberFormat: rows.map((r) => r.map((x) => x.format)),
        text: rows.map((r) => r.map((x) => displayText(x.value, x.format))),
        clear: () => { ops.push({ kind: 'clear', sheet: sheetName, box }); },
        getSurroundingRegion: () => rangeMock(sheetName, workbook.region(sheetName, { r0: box.r0, c0: box.c0, r1: box.r0, c1: box.c0 })),
        getTables: () => collection(workbook.tables.filter((t) => t.sheet === sheetName && overlaps(t.box, box)).map(tableMock)),
        getMergedAreasOrNullObject: () => {
          const areas = track(new OfficeMockObject({ address: merged.map((b) => formatAddress(sheetName, b)).join(',') }));
          areas.isNullObject = merged.length === 0;
          return areas;
        },
        getUsedRangeOrNullObject: () => {
          const used = [];
          for (let r = box.r0; r <= box.r1 && !huge; r++) for (let c = box.c0; c <= box.c1; c++) if (!workbook.isEmpty(sheetName, r, c)) used.push({ r, c });
          if (!used.length) return nullObject({ address: '' });
          const u = rangeMock(sheetName, { r0: Math.min(...used.map((x) => x.r)), c0: Math.min(...used.map((x) => x.c)), r1: Math.max(...used.map((x) => x.r)), c1: Math.max(...used.map((x) => x.c)) });
          u.isNullObject = false;
          return u;
        },
        // The visible cells, as Excel's RangeAreas: one area per run of visible rows.
        getSpecialCellsOrNullObject: (type) => {
          if (type !== 'Visible') throw new Error(`the double models only "Visible" special cells, not ${type}`);
          const areas = [];
          for (let r = box.r0; r <= box.r1; r++) {
            if (workbook.isHidden(sheetName, r)) continue;
            const last = areas[areas.length - 1];
            if (last && last.r1 === r - 1) last.r1 = r;
            else areas.push({ r0: r, c0: box.c0, r1: r, c1: box.c1 });
          }
          if (!areas.length) return nullObject({ address: '', areaCount: 0 });
          const ra = track(new OfficeMockObject({ address: areas.map((a) => formatAddress(sheetName, a)).join(','), areaCount: areas.length }));
          ra.isNullObject = false;
          return ra;
        },
      }));
      m.__writable = true;
      m.__box = box;
      m.__sheet = sheetName;
      m.worksheet = worksheetMock(sheetName);
      m.format = { fill: new Proxy(fill, { set(t, p, v) { if (p === 'color') ops.push({ kind: 'fill', sheet: sheetName, box, color: v }); t[p] = v; return true; } }) };
      return m;
    }

    function tableMock(t) {
      const body = { ...t.box, r0: t.box.r0 + 1, r1: t.box.r1 - (t.totals ? 1 : 0) };
      const m = track(new OfficeMockObject({
        name: t.name,
        showTotals: Boolean(t.totals),
        autoFilter: { isDataFiltered: [...workbook.sheets.get(t.sheet).filtered].some((r) => r > t.box.r0 && r <= t.box.r1) },
        getRange: () => rangeMock(t.sheet, t.box),
        getDataBodyRange: () => rangeMock(t.sheet, body),
        delete: () => { ops.push({ kind: 'deleteTable', table: t }); },
        columns: {
          add: (index, values, name) => { ops.push({ kind: 'addColumn', table: t, name }); },
          // A column's filter: values (applyValuesFilter), blanks (applyCustomFilter('=')), or none.
          getItem: (name) => ({
            filter: {
              applyValuesFilter: (values) => { ops.push({ kind: 'filter', table: t, column: name, values: values.map(String) }); },
              applyCustomFilter: (criterion) => {
                if (criterion !== '=') throw new Error(`the double models only the blanks filter ('='), not ${criterion}`);
                ops.push({ kind: 'filter', table: t, column: name, values: [''] });
              },
              clear: () => { ops.push({ kind: 'filter', table: t, column: name, values: null }); },
            },
          }),
        },
      }));
      m.worksheet = { name: t.sheet };
      m.__writable = true;
      m.__table = t;
      return m;
    }

    const workbookMock = new OfficeMockObject({
      getSelectedRange: () => {
        if (!workbook.selection) throw new Error('No selection.');
        return rangeMock(workbook.selection.sheet, workbook.selection.box);
      },
      worksheets: {
        getItem: (name) => worksheetMock(name),
        getItemOrNullObject: (name) => (workbook.findSheet(name) ? worksheetMock(name) : nullObject({ name })),
        add: (name) => {
          ops.push({ kind: 'addSheet', name });
          workbook.addSheet(name); // at once, so the batch can address it (Office.js does the same by path)
          return worksheetMock(name);
        },
      },
      tables: {
        getItemOrNullObject: (name) => {
          const t = workbook.findTable(name);
          if (t) { const m = tableMock(t); m.isNullObject = false; return m; }
          return nullObject({ name });
        },
      },
    });
    for (const name of ['worksheets', 'tables']) workbookMock[name].isNullObject = false;
    // load('items/name') on the workbook's collections: every sheet, every table.
    workbookMock.worksheets.load = (props) => {
      const items = [...workbook.sheets.keys()].map(worksheetMock);
      collection(items).load(props);
      workbookMock.worksheets.items = items;
      return workbookMock.worksheets;
    };
    workbookMock.tables.load = (props) => {
      const items = workbook.tables.map(tableMock);
      collection(items).load(props);
      workbookMock.tables.items = items;
      return workbookMock.tables;
    };

    function bytes(v) {
      return v === undefined ? 0 : JSON.stringify(v).length;
    }

    function check(op) {
      const target = op.target?.__box ? op.target.__sheet : (op.sheet?.name ?? op.sheet ?? op.table?.sheet);
      const sheet = typeof target === 'string' ? workbook.sheets.get(target) : null;
      if (op.kind === 'set' && op.target.__sheet && !sheet) throw officeError('ItemNotFound', 'the worksheet was deleted.');
      if (sheet?.protected && op.kind !== 'activate') throw officeError('AccessDenied', `the sheet "${sheet.name}" is protected.`);
      if (op.kind === 'set' && op.target.__box) {
        const box = op.target.__box;
        const rowsN = box.r1 - box.r0 + 1;
        const colsN = box.c1 - box.c0 + 1;
        if (!Array.isArray(op.value) || op.value.length !== rowsN || op.value.some((r) => r.length !== colsN)) {
          throw officeError('InvalidArgument', `${op.prop} is ${op.value.length}x${op.value[0]?.length} but the range ${formatAddress(op.target.__sheet, box)} is ${rowsN}x${colsN}.`);
        }
      }
    }

    function apply(op) {
      switch (op.kind) {
        case 'set': {
          const t = op.target;
          if (t.__table && op.prop === 'name') {
            if (workbook.tables.some((x) => x !== t.__table && sameName(x.name, op.value))) throw officeError('InvalidArgument', `a table "${op.value}" already exists.`);
            t.__table.name = op.value;
            return;
          }
          if (!t.__box) return;
          const box = t.__box;
          op.value.forEach((row, r) => row.forEach((v, c) => {
            workbook.setCell(t.__sheet, box.r0 + r, box.c0 + c, op.prop === 'values' ? { value: v } : { format: v });
          }));
          return;
        }
        case 'fill':
        case 'clearFill':
          for (let r = op.box.r0; r <= op.box.r1; r++) for (let c = op.box.c0; c <= op.box.c1; c++) workbook.setCell(op.sheet, r, c, { fill: op.kind === 'fill' ? op.color : null });
          return;
        case 'clear': {
          const sheet = workbook.sheets.get(op.sheet);
          for (const k of [...sheet.cells.keys()]) {
            const [r, c] = k.split(',').map(Number);
            if (r >= op.box.r0 && r <= op.box.r1 && c >= op.box.c0 && c <= op.box.c1) sheet.cells.delete(k);
          }
          return;
        }
        case 'addTable':
          if (workbook.tables.some((x) => x.sheet === op.table.sheet && overlaps(x.box, op.table.box))) throw officeError('InvalidArgument', 'tables cannot overlap.');
          workbook.tables.push(op.table);
          return;
        case 'filter': {
          // The table's body rows that some column's filter leaves out are filtered (hidden).
          const t = op.table;
          const header = Array.from({ length: t.box.c1 - t.box.c0 + 1 }, (_, c) => String(workbook.cell(t.sheet, t.box.r0, t.box.c0 + c).value));
          const at = header.findIndex((h) => sameName(h, op.column));
          if (at < 0) throw officeError('ItemNotFound', `the table "${t.name}" has no column "${op.column}".`);
          t.filters ??= new Map();
          if (op.values) t.filters.set(at, op.values);
          else t.filters.delete(at);
          const sheet = workbook.sheets.get(t.sheet);
          for (let r = t.box.r0 + 1; r <= t.box.r1; r++) {
            const out = [...t.filters].some(([c, values]) => !values.includes(String(workbook.cell(t.sheet, r, t.box.c0 + c).value ?? '')));
            if (out) sheet.filtered.add(r);
            else sheet.filtered.delete(r);
          }
          return;
        }
        case 'deleteTable':
          workbook.tables = workbook.tables.filter((x) => x !== op.table);
          return;
        case 'addColumn': {
          // Excel inserts the column: cells right of the table, in the table's rows, move right.
          const t = op.table;
          const sheet = workbook.sheets.get(t.sheet);
          const moved = [...sheet.cells.entries()].filter(([k]) => {
            const [r, c] = k.split(',').map(Number);
            return r >= t.box.r0 && r <= t.box.r1 && c > t.box.c1;
          });
          for (const [k] of moved) sheet.cells.delete(k);
          for (const [k, v] of moved) {
            const [r, c] = k.split(',').map(Number);
            sheet.cells.set(`${r},${c + 1}`, v);
          }
          for (const box of sheet.names.values()) if (box.r0 >= t.box.r0 && box.r0 <= t.box.r1 && box.c0 > t.box.c1) { box.c0 += 1; box.c1 += 1; }
          t.box.c1 += 1;
          workbook.setCell(t.sheet, t.box.r0, t.box.c1, { value: op.name });
          return;
        }
        case 'addProperty':
          op.sheet.properties.set(op.key, op.value);
          return;
        case 'addName':
          if (op.sheet.names.has(op.name)) throw officeError('ItemAlreadyExists', `the name "${op.name}" exists.`);
          op.sheet.names.set(op.name, { ...op.box });
          return;
        case 'activate':
          workbook.active = op.sheet;
          return;
        case 'addSheet':
          return;
        default:
          throw new Error(`unknown op ${op.kind}`);
      }
    }

    async function sync() {
      workbook.syncs += 1;
      workbook.beforeSync?.(workbook.syncs);
      const request = ops.reduce((n, op) => n + (op.kind === 'set' ? bytes(op.value) : 64), 0);
      const response = loaded.reduce((n, { mock, props }) => {
        const names = typeof props === 'string' ? props.split(',') : [];
        return n + names.reduce((m, p) => m + bytes(mock[p.trim()] === undefined ? undefined : mock._properties?.get(p.trim())?._valueBeforeLoaded), 0);
      }, 0);
      workbook.largestSyncBytes = Math.max(workbook.largestSyncBytes, request, response);
      const pending = ops;
      ops = [];
      loaded = [];
      if (request > workbook.payloadLimit || response > workbook.payloadLimit) {
        throw officeError('RequestPayloadSizeLimitExceeded', 'The request payload size has exceeded the limit. See https://learn.microsoft.com/office/dev/add-ins/concepts/resource-limits-and-performance-optimization#excel-add-ins.');
      }
      // Office checks the whole batch before it changes anything in it.
      for (const op of pending) check(op);
      for (const op of pending) apply(op);
      for (const m of created) await m.sync(); // every object of this Excel.run, as loads may come later
      await workbookMock.sync();
      // office-addin-mock settles nested properties in later microtasks: let them all run.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }

    const context = { workbook: workbookMock, sync };
    const Excel = {
      /** Excel.run(batch) or Excel.run(options, batch), as Office.js. */
      async run(optionsOrBatch, batch) {
        const callback = typeof optionsOrBatch === 'function' ? optionsOrBatch : batch;
        workbook.runs.push(typeof optionsOrBatch === 'function' ? {} : optionsOrBatch);
        ops = [];
        created = [];
        loaded = [];
        const result = await callback(context);
        if (ops.length) await sync();
        return result;
      },
    };
    const settings = new Map();
    const Office = {
      HostType: { Excel: 'Excel' },
      onReady: async () => ({ host: 'Excel', platform: 'OfficeOnline' }),
      context: {
        document: {
          settings: {
            get: (k) => settings.get(k) ?? null,
            set: (k, v) => settings.set(k, v),
            remove: (k) => settings.delete(k),
            saveAsync: (cb) => cb?.({ status: 'succeeded' }),
            all: settings,
          },
        },
      },
    };
    const storage = new Map();
    const OfficeRuntime = {
      storage: {
        getItem: async (k) => storage.get(k) ?? null,
        setItem: async (k, v) => { storage.set(k, String(v)); },
        removeItem: async (k) => { storage.delete(k); },
        all: storage,
      },
    };
    return { Excel, Office, OfficeRuntime };
  }

  return { Workbook, createExcelDouble, parseAddress, letters, displayText };
});
