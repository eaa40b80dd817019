// The Excel task pane: the app with the Excel host (the selected table in, sheets and outcome
// columns out). Office.js comes from Microsoft's CDN (see taskpane.html). Every ribbon button
// opens this one page, at the fragment of its view (manifest.xml: taskpane.html#users,
// #lifecycle, #provision), so a button switches the view without reloading the pane (views.js).
import { startApp } from './app.js';
import { createExcelHost } from './host/excel.js';
import { followOfficeTheme } from './theme.js';
import { $, show, showProgress } from './ui.js';

if (typeof Office === 'undefined') {
  show($('error'), 'Office.js did not load: open this pane from Excel (Home > Qualtrics), with a network connection to Microsoft\'s Office CDN.');
} else {
  Office.onReady().then(() => {
    followOfficeTheme();
    return startApp((core) => createExcelHost({ safeText: core.safeCell, progress: showProgress }));
  });
}
