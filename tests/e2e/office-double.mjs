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


/**
 * Opens the task pane (`taskpane.html#view` on `server`, `width` px wide) in a fresh context
 * with Office.js replaced by this double over the workbook `setup` (sheets, tables, selection),
 * and `theme` as Office.context.officeTheme when given; collects page errors in `page.problems`.
 */
export async function openPane(browser, server, setup, { view = 'lifecycle', width = 320, theme = null } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  const script = officeDouble() + (theme ? `\nOffice.context.officeTheme = ${JSON.stringify(theme)};` : '');
  await context.route(OFFICE_JS, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: script }));
  await page.addInitScript((s) => { self.__WORKBOOK_SETUP__ = s; }, setup);
  await page.goto(`${server.url}/taskpane.html#${view}`);
  await page.waitForSelector('body[data-ready=true]');
  return page;
}
