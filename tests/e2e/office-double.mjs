// Office.js for tests: office-addin-mock's CommonJS files and the workbook double
// (tests/excel-double/workbook-double.cjs) as one classic script, served in place of
// Microsoft's CDN copy. The page sets self.__WORKBOOK_SETUP__ first to describe the workbook.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './harness.mjs';

export const OFFICE_JS = 'https://appsforoffice.microsoft.com/lib/1/hosted/office.js';

/** office-addin-mock's CommonJS files and the workbook double, as one classic script. */
export function officeDouble() {
  const lib = (f) => readFileSync(path.join(ROOT, 'node_modules/office-addin-mock/lib', f), 'utf8');
  const wrap = (src) => `function (module, exports, require) {\n${src}\n}`;
  return `(function () {
  const defs = {
    'office-addin-manifest': function (module, exports) { exports.OfficeApp = { Excel: 'Excel', OneNote: 'OneNote', Outlook: 'Outlook', PowerPoint: 'PowerPoint', Project: 'Project', Word: 'Word' }; },
    './possibleErrors': ${wrap(lib('possibleErrors.js'))},
    './host': ${wrap(lib('host.js'))},
    './officeMockObject': ${wrap(lib('officeMockObject.js'))},
  };
  const cache = {};
  function require(name) {
    if (!cache[name]) { const module = { exports: {} }; cache[name] = module; defs[name](module, module.exports, require); }
    return cache[name].exports;
  }
  const { OfficeMockObject } = require('./officeMockObject');
  ${readFileSync(path.join(ROOT, 'tests/excel-double/workbook-double.cjs'), 'utf8')}
  const wb = new self.WorkbookDouble.Workbook();
  const setup = self.__WORKBOOK_SETUP__ || { sheets: [{ name: 'Sheet1', rows: [] }] };
  for (const s of setup.sheets) wb.addSheet(s.name, s.rows, s.options || {});
  for (const t of setup.tables || []) wb.addTable(t.sheet, t.address, t.name);
  if (setup.select) wb.select(setup.select.sheet, setup.select.address);
  Object.assign(self, self.WorkbookDouble.createExcelDouble(OfficeMockObject, wb));
  self.__workbook = wb;
})();`;
}

