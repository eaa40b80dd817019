// The web page: the app with the browser host (CSV in, tables and downloads out).
import { startApp } from './app.js';
import { createBrowserHost } from './host/browser.js';

startApp(() => createBrowserHost());
