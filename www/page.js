// The web page: the app with the browser host (CSV or workbook in, tables and downloads out),
// files read, planned and applied in the sheet worker.
import { startApp } from './app.js';
import { createBrowserHost } from './host/browser.js';
import { createSheetWorker } from './sheet-worker.js';

startApp(() => createBrowserHost({ worker: createSheetWorker() }));
