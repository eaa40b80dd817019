// The Excel task pane: the app with the Excel host (the selected table in, sheets and outcome
// columns out). Office.js comes from Microsoft's CDN (see taskpane.html).
import { startApp } from './app.js';
import { createExcelHost } from './host/excel.js';
import { showProgress } from './ui.js';

if (typeof Office === 'undefined') {
  const error = document.getElementById('error');
  error.textContent = 'Office.js did not load: open this pane from Excel (Home > Qualtrics), with a network connection to Microsoft\'s Office CDN.';
  error.hidden = false;
} else {
  Office.onReady().then(() => startApp((core) => createExcelHost({ safeText: core.safeCell, progress: showProgress })));
}
