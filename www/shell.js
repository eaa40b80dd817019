// Renders the header and sections (sections.js) into the page or the task pane, as its
// <body data-shell> names it. Loaded before the page's or the pane's own module, which
// therefore finds every element in place (module scripts run in document order). Inserted
// rather than replacing the body: whatever a script put there first (Office.js) stays.
import { shellHtml } from './sections.js';

document.body.insertAdjacentHTML('afterbegin', shellHtml(document.body.dataset.shell === 'pane' ? 'pane' : 'page'));
