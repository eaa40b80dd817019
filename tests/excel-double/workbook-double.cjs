// An Excel workbook held in memory, exposed through office-addin-mock objects so code under
// test must load properties and sync before reading them, as with Office.js. Writes are
// applied when the context syncs; a sync whose request or response exceeds Office's 5 MB limit
// fails as Office's does. Loads in Node (CommonJS) and in a page (sets window.WorkbookDouble).
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
    return `${sheet}!${a === b ? a : `${a}:${b}`}`;
  }
  const overlaps = (a, b) => a.r0 <= b.r1 && b.r0 <= a.r1 && a.c0 <= b.c1 && b.c0 <= a.c1;

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
    }
    addSheet(name, rows = [], { protectedSheet = false, merged = [] } = {}) {
      const sheet = { name, cells: new Map(), protected: protectedSheet, merged: merged.map(parseAddress) };
      rows.forEach((row, r) => row.forEach((v, c) => { if (v !== '' && v !== null && v !== undefined) sheet.cells.set(`${r},${c}`, { value: v, format: 'General', fill: null }); }));
      this.sheets.set(name, sheet);
      if (!this.active) this.active = name;
      return sheet;
    }
    addTable(sheetName, address, name) {
      this.tables.push({ sheet: sheetName, name, box: parseAddress(address) });
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
      const sheet = this.sheets.get(sheetName);
      let rows = 0;
      let cols = 0;
      for (const k of sheet.cells.keys()) {
        const [r, c] = k.split(',').map(Number);
        rows = Math.max(rows, r + 1);
        cols = Math.max(cols, c + 1);
      }
      return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => this.cell(sheetName, r, c).value));
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

    function worksheetMock(name) {
      const sheet = workbook.sheets.get(name);
      if (!sheet) throw new Error(`ItemNotFound: the worksheet "${name}" does not exist.`);
      const m = track(new OfficeMockObject({
        name,
        protection: { protected: sheet.protected },
        getRangeByIndexes: (r, c, rows, cols) => rangeMock(name, { r0: r, c0: c, r1: r + rows - 1, c1: c + cols - 1 }),
        getRange: (address) => rangeMock(name, address ? parseAddress(address) : { r0: 0, c0: 0, r1: 1048575, c1: 16383 }),
        activate: () => { ops.push({ kind: 'activate', sheet: name }); },
        getUsedRangeOrNullObject: () => {
          const values = workbook.values(name);
          if (!values.length) {
            const nul = track(new OfficeMockObject({ rowCount: 0 }));
            nul.isNullObject = true;
            return nul;
          }
          const r = rangeMock(name, { r0: 0, c0: 0, r1: values.length - 1, c1: values[0].length - 1 });
          r.isNullObject = false;
          return r;
        },
        tables: {
          add: (address, hasHeaders) => {
            const t = { sheet: name, name: `Table${workbook.tables.length + 1}`, box: parseAddress(address), hasHeaders };
            ops.push({ kind: 'addTable', table: t });
            return tableMock(t);
          },
          getItem: (tname) => {
            const t = workbook.tables.find((x) => x.name === tname && x.sheet === name);
            if (!t) throw new Error(`ItemNotFound: the table "${tname}" does not exist.`);
            return tableMock(t);
          },
        },
      }));
      m.__writable = true;
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
        clear: () => { ops.push({ kind: 'clear', sheet: sheetName, box }); },
        getSurroundingRegion: () => rangeMock(sheetName, workbook.region(sheetName, { r0: box.r0, c0: box.c0, r1: box.r0, c1: box.c0 })),
        getTables: () => {
          const items = workbook.tables.filter((t) => t.sheet === sheetName && overlaps(t.box, box)).map(tableMock);
          // load('items/name'): load the named properties of every item, as Office.js does.
          const coll = track(new OfficeMockObject({
            load: (props) => {
              const sub = String(props ?? '').split(',').filter((p) => p.startsWith('items/')).map((p) => p.slice(6));
              if (sub.length) items.forEach((item) => item.load(sub.join(',')));
              return coll;
            },
          }));
          coll.items = items;
          return coll;
        },
        getMergedAreasOrNullObject: () => {
          const areas = track(new OfficeMockObject({ address: merged.map((b) => formatAddress(sheetName, b)).join(',') }));
          areas.isNullObject = merged.length === 0;
          return areas;
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
      const m = track(new OfficeMockObject({
        name: t.name,
        getRange: () => rangeMock(t.sheet, t.box),
        delete: () => { ops.push({ kind: 'deleteTable', table: t }); },
        columns: { add: (index, values, name) => { ops.push({ kind: 'addColumn', table: t, name }); } },
      }));
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
        getItemOrNullObject: (name) => {
          if (workbook.sheets.has(name)) return worksheetMock(name);
          const nul = track(new OfficeMockObject({ name }));
          nul.isNullObject = true;
          return nul;
        },
        add: (name) => { workbook.addSheet(name); return worksheetMock(name); },
      },
      tables: {
        getItemOrNullObject: (name) => {
          const t = workbook.tables.find((x) => x.name === name);
          if (t) { const m = tableMock(t); m.isNullObject = false; return m; }
          const nul = track(new OfficeMockObject({ name }));
          nul.isNullObject = true;
          return nul;
        },
      },
    });
    for (const name of ['worksheets', 'tables']) workbookMock[name].isNullObject = false;

    function bytes(v) {
      return v === undefined ? 0 : JSON.stringify(v).length;
    }

    function apply(op) {
      switch (op.kind) {
        case 'set': {
          const t = op.target;
          if (t.__table && op.prop === 'name') { op.target.__table.name = op.value; return; }
          if (!t.__box) return;
          const box = t.__box;
          const rowsN = box.r1 - box.r0 + 1;
          const colsN = box.c1 - box.c0 + 1;
          if (!Array.isArray(op.value) || op.value.length !== rowsN || op.value.some((r) => r.length !== colsN)) {
            throw new Error(`InvalidArgument: ${op.prop} is ${op.value.length}x${op.value[0]?.length} but the range ${formatAddress(t.__sheet, box)} is ${rowsN}x${colsN}.`);
          }
          if (workbook.sheets.get(t.__sheet).protected) throw new Error('AccessDenied: the sheet is protected.');
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
          if (workbook.tables.some((x) => x.sheet === op.table.sheet && overlaps(x.box, op.table.box))) throw new Error('InvalidArgument: tables cannot overlap.');
          workbook.tables.push(op.table);
          return;
        case 'deleteTable':
          workbook.tables = workbook.tables.filter((x) => x !== op.table);
          return;
        case 'addColumn': {
          const t = op.table;
          t.box.c1 += 1;
          workbook.setCell(t.sheet, t.box.r0, t.box.c1, { value: op.name });
          return;
        }
        case 'activate':
          workbook.active = op.sheet;
          return;
        default:
          throw new Error(`unknown op ${op.kind}`);
      }
    }

    async function sync() {
      workbook.syncs += 1;
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
        throw new Error('RichApi.Error: The request payload size has exceeded the limit. See https://learn.microsoft.com/office/dev/add-ins/concepts/resource-limits-and-performance-optimization#excel-add-ins.');
      }
      for (const op of pending) apply(op);
      for (const m of created) await m.sync(); // every object of this Excel.run, as loads may come later
      await workbookMock.sync();
      // office-addin-mock settles nested properties in later microtasks: let them all run.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }

    const context = { workbook: workbookMock, sync };
    const Excel = {
      async run(callback) {
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

  return { Workbook, createExcelDouble, parseAddress, letters };
});
