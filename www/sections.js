// The markup of the page (index.html) and the Excel task pane (taskpane.html), written once.
// shell.js renders it into the document before the app starts. What the two show differently is
// the data in VARIANTS: the page reads a chosen file or pasted rows and shows its results as
// tables with downloads; the pane reads the selected table and writes its results to sheets.
// No DOM here, so Node can import it (tests check the ids the app and the tests use).

/** @typedef {'page' | 'pane'} Variant */
/** @typedef {'users' | 'lifecycle' | 'provision' | 'membership' | 'runs' | 'automations'} ViewName */

/**
 * The views, in tab order: each is a `<section id="view-…" role="tabpanel">` opened by its tab
 * (`#tab-…`) and by the URL's fragment (`#users`, `#lifecycle`…), so a refresh or a link (and in
 * Excel a ribbon button: manifest.xml) returns to it. Automations shows only where the server
 * has hooks (app.js asks it).
 * @type {ViewName[]}
 */
export const VIEWS = ['users', 'lifecycle', 'provision', 'membership', 'runs', 'automations'];

/**
 * What one variant shows. `files`: the flows read a chosen file or pasted rows, and show their
 * results in tables with downloads (the page); without it they read the workbook (the pane).
 * @typedef {object} VariantText
 * @property {string} title The header's name.
 * @property {boolean} files
 * @property {'top' | 'connect'} messages Where `#error` (and `#notice`) sit: above every section
 *   (the pane, so a missing Office.js shows first), or under the Connect card (the page). Both
 *   are outside the views, so a message shows whichever view is open.
 * @property {Record<ViewName, string>} tabs The tab bar's labels (the pane's match its ribbon buttons).
 * @property {string} sandboxNote
 * @property {string} tokenPlaceholder
 * @property {string} tokenHint
 * @property {string} rememberLabel The "Remember on this device" box: for how long and where.
 * @property {string} usersHint
 * @property {string} lifecycleTitle
 * @property {string} lifecycleHint
 * @property {string} provisionTitle
 * @property {string} provisionHint
 * @property {string} membershipHint
 * @property {string} sandboxRoles
 * @property {string} changesHint
 * @property {string} before The lifecycle's undo download.
 * @property {string} audit Every flow's audit download.
 */

const FILE_TYPES = '.csv,.tsv,.txt,.xlsx,text/csv,text/plain,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** @type {Record<Variant, VariantText>} */
export const VARIANTS = {
  page: {
    title: 'qualtrics-roster',
    files: true,
    messages: 'connect',
    tabs: { users: 'Users', lifecycle: 'Disable · enable · expire', provision: 'Create users', membership: 'Groups and roles', runs: 'Runs', automations: 'Automations' },
    sandboxNote: '(practice data, nothing real)',
    tokenPlaceholder: 'Account Settings › Qualtrics IDs',
    tokenHint: 'Both are under <em>Account Settings › Qualtrics IDs</em>. The token goes only to your datacenter through this server\'s relay. Unticked, it is kept in this tab\'s memory only and is gone when the tab closes or reloads. Ticked, it is stored in this browser\'s local storage, <strong>not encrypted</strong>, for 8 hours and then deleted; unticking deletes it at once. Tick it only on your own device.',
    rememberLabel: 'Remember on this device for 8 hours (this browser\'s local storage), then forget it',
    usersHint: '',
    lifecycleTitle: 'Disable, re-enable or set expiry in bulk',
    lifecycleHint: 'A CSV with a <b>User ID</b> (UR_…) or <b>Username</b> column; optionally <b>Action</b> (disable, enable, expire) and <b>Expiration date</b> (YYYY-MM-DD, or &lt;clear&gt;). Nothing is sent until you press Apply.',
    provisionTitle: 'Create users with their attributes',
    provisionHint: 'One row per person: <b>Username</b>, <b>First name</b>, <b>Last name</b>, <b>Email</b>, <b>User type</b> and <b>Password</b> to create an account (optional: Language, Time zone, Division, Expiration date, Unique identifier). Every other column is an attribute (<code>::</code> between several values); a blank cell keeps the current value, <code>&lt;clear&gt;</code> removes it.',
    membershipHint: 'Who is in which group, and in which CX dashboard role by its Automatic Role Assignment rule. Roles have no read API: give their rules as a <b>Roles</b> sheet (<b>Role</b>, <b>Attribute</b>, <b>Operator</b> Equals or In, <b>Value</b>), one row per rule.',
    sandboxRoles: 'Use the sandbox\'s roles',
    changesHint: 'A sheet of <b>User</b> (username, e-mail or UR_ id), <b>Group or role</b> and <b>Member</b> (yes or no). Groups change directly; roles change through the attributes their rule reads. The plan says why, before anything is sent.',
    before: 'Before (undo) CSV',
    audit: 'Audit log',
  },
  pane: {
    title: 'Qualtrics Roster',
    files: false,
    messages: 'top',
    tabs: { users: 'Users', lifecycle: 'Lifecycle', provision: 'Provision', membership: 'Groups', runs: 'Runs', automations: 'Automations' },
    sandboxNote: '(practice)',
    tokenPlaceholder: '',
    tokenHint: 'From Account Settings › Qualtrics IDs. The token is never written into the workbook. Unticked, it is kept in this pane\'s memory only. Ticked, it is stored in Office\'s storage for this add-in on this device, <strong>not encrypted</strong>, for 8 hours and then deleted; unticking deletes it at once.',
    rememberLabel: 'Remember on this device for 8 hours (Office\'s storage for this add-in), then forget it',
    usersHint: 'Every user of the brand, into a "Users" sheet (refreshed each time).',
    lifecycleTitle: 'Disable, re-enable, set expiry',
    lifecycleHint: 'Select a cell in your table: a <b>User ID</b> or <b>Username</b> column, optionally <b>Action</b> and <b>Expiration date</b>. Plan writes a "Plan" sheet; nothing is sent until Apply.',
    provisionTitle: 'Create users',
    provisionHint: 'Select a cell in your table: Username, First name, Last name, Email, User type, Password; every other column is an attribute (<code>::</code> between values). Blank keeps, <code>&lt;clear&gt;</code> removes.',
    membershipHint: 'Roles are read from their rules on a sheet named <b>Roles</b> (Role, Attribute, Operator Equals or In, Value). Pull writes the <b>Membership</b> and <b>Membership matrix</b> sheets.',
    sandboxRoles: 'Sandbox\'s roles',
    changesHint: 'Select a cell in a table of <b>User</b>, <b>Group or role</b>, <b>Member</b> (yes/no).',
    before: 'Before (undo) sheet',
    audit: 'Audit sheet',
  },
};

/** A view's tabpanel attributes: hidden until app.js opens it from the URL's fragment. */
const panel = (/** @type {ViewName} */ name) => ` data-view="${name}" tabindex="-1" hidden`;

/** `html` when `on`, else nothing. */
const when = (/** @type {unknown} */ on, /** @type {string} */ html) => (on ? html : '');

const hint = (/** @type {string} */ text) => when(text, `<p class="hint">${text}</p>`);

/** A flow's file chooser and paste box (the page only). */
function source(/** @type {string} */ p, { label = 'CSV or Excel file', accept = FILE_TYPES, pasteLabel = '…or paste the rows, header first', rows = 4, placeholder = '' } = {}) {
  return `
        <label for="${p}file">${label}</label>
        <input id="${p}file" type="file" accept="${accept}">
        <label for="${p}paste">${pasteLabel}</label>
        <textarea id="${p}paste" rows="${rows}" spellcheck="false" placeholder="${placeholder}"></textarea>`;
}

const progress = (/** @type {string} */ p) => `
      <div id="${p}progress-row" class="progress-row" hidden>
        <progress id="${p}progress"></progress>
        <span id="${p}progress-text" role="status" aria-live="polite"></span>
      </div>`;

/** A flow's Plan button, and `extra` after it (Apply is at the end of the plan: applyBar). */
const flowActions = (/** @type {string} */ p, extra = '') => `
      <div class="actions">
        <button id="${p}plan" type="button" disabled>Plan</button>${extra}
      </div>`;

/**
 * A flow's Apply and Cancel, after the plan (its table in the page) in a bar that sticks to the
 * bottom of the window while the plan is in view: Apply is never above a plan scrolled out of
 * sight. Its status line says what Apply would do, and that nothing was sent when the
 * confirmation was cancelled.
 */
const applyBar = (/** @type {string} */ p) => `
      <div id="${p}apply-bar" class="actions apply-bar" data-testid="${p}apply-bar">
        <button id="${p}apply" type="button" class="primary" disabled>Apply</button>
        <button id="${p}cancel" type="button" hidden>Cancel</button>
        <span id="${p}apply-status" class="muted" role="status"></span>
      </div>`;

/**
 * The pane's "include hidden rows" box: rows hidden by a filter or by hand (and a totals row)
 * are left out of a plan unless it is ticked. The page reads files, which hide nothing.
 */
const hiddenRows = (/** @type {string} */ p, /** @type {VariantText} */ v) => when(!v.files, `
        <label class="check"><input id="${p}include-hidden" type="checkbox"> Include rows hidden by a filter</label>`);

/**
 * The mapping step (issue 29.7), shown by flow.js when the core does not recognise a sheet's
 * headers: a select per field the kind reads, listing the sheet's columns, a preview of the
 * first rows under the mapped names, and Plan with these columns (off, with the reason, while
 * the mapping cannot be planned).
 */
const mappingStep = (/** @type {string} */ p) => `
      <fieldset id="${p}mapping" class="mapping" data-testid="${p}mapping" hidden>
        <legend>Which column holds each field?</legend>
        <p id="${p}mapping-hint" class="hint"></p>
        <div id="${p}mapping-fields" class="fields"></div>
        <div class="table-wrap mapping-preview" tabindex="0" role="region" aria-label="Preview of the first rows under the mapped names">
          <table id="${p}mapping-preview" aria-label="Preview of the first rows under the mapped names" data-testid="${p}mapping-preview"><thead></thead><tbody></tbody></table>
        </div>
        <p id="${p}mapping-reason" class="error" role="status" aria-live="polite"></p>
        <div class="actions">
          <button id="${p}map-plan" type="button" class="primary" aria-describedby="${p}mapping-reason">Plan with these columns</button>
        </div>
      </fieldset>`;

/**
 * What a flow says: its note, error, summary, the plan at a glance (a bar of counts per change
 * and problems), the problem list (each item jumps to its row) and, after Apply, a chart of
 * the outcomes.
 */
const flowStatus = (/** @type {string} */ p) => `
      <div id="${p}lost" class="message-bar error" role="alert" data-testid="${p}lost" hidden>
        <span id="${p}lost-text"></span>
        <button id="${p}retry" type="button">Retry</button>
      </div>
      <p id="${p}note" class="notice" role="status" hidden></p>
      <p id="${p}error" class="error" role="alert" hidden></p>${mappingStep(p)}
      <p id="${p}summary" class="muted" data-testid="${p}summary"></p>
      <ul id="${p}glance" class="glance" aria-label="The plan at a glance" data-testid="${p}glance"></ul>
      <ul id="${p}problems" class="problems" aria-label="Problems"></ul>${when(p === 'pv-', `
      <fieldset id="${p}new-attributes" class="new-attributes" data-testid="${p}new-attributes" hidden></fieldset>`)}
      <div id="${p}chart" class="chart" data-testid="${p}chart"></div>`;

/** `[id, label]` buttons in a hidden row of downloads. */
const downloads = (/** @type {string} */ id, /** @type {[string, string | false][]} */ buttons) => `
      <div id="${id}" class="actions" hidden>${buttons.filter(([, label]) => label).map(([b, label]) => `
        <button id="${b}" type="button">${label}</button>`).join('')}
      </div>`;

/** The downloads after a run: outcome files in the page, the undo (lifecycle) and the audit. */
function runDownloads(/** @type {string} */ p, /** @type {VariantText} */ v, { before = false } = {}) {
  return downloads(`${p}downloads`, [
    [`${p}download-outcomes`, v.files && 'Outcome CSV'],
    [`${p}download-xlsx`, v.files && 'Outcome and plan (.xlsx)'],
    [`${p}download-before`, before && v.before],
    [`${p}download-audit`, v.audit],
  ]);
}

/**
 * A table the page fills (host/browser.js through grid.js, which adds its search, sort and
 * filters): `label` names it for screen readers and its scrolling region.
 */
const table = (/** @type {string} */ id, /** @type {string} */ label, testid = false) => `
      <div class="table-wrap" id="${id}-wrap" tabindex="0" role="region" aria-label="${label}" hidden>
        <table id="${id}" aria-label="${label}"${testid ? ` data-testid="${id}"` : ''}><thead></thead><tbody></tbody></table>
      </div>`;

const messages = `
    <p id="notice" class="notice" role="status" hidden></p>
    <p id="error" class="error" role="alert" hidden></p>`;

function connect(/** @type {VariantText} */ v) {
  return `
    <section id="view-connect" class="card" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect</h2>
      <form id="connect-form" novalidate>
        <fieldset class="modes">
          <legend class="sr-only">Brand</legend>
          <label><input type="radio" name="mode" value="sandbox" checked> Sandbox brand <span class="muted">${v.sandboxNote}</span></label>
          <label><input type="radio" name="mode" value="qualtrics"> My Qualtrics brand</label>
        </fieldset>
        <div id="qualtrics-fields" class="fields" hidden>
          <label for="datacenter">Datacenter ID</label>
          <input id="datacenter" name="datacenter" autocomplete="off" spellcheck="false" placeholder="blank: found from your token (e.g. iad1, fra1)">
          <label for="token">API token</label>
          <input id="token" name="token" type="password" autocomplete="off" spellcheck="false"${when(v.tokenPlaceholder, ` placeholder="${v.tokenPlaceholder}"`)}>
          <label class="check"><input id="remember" type="checkbox"> ${v.rememberLabel}</label>
          <p class="hint">${v.tokenHint}</p>
        </div>
        <div class="actions">
          <button id="connect" type="submit" class="primary">Connect</button>
          <button id="connect-cancel" type="button" hidden>Keep the current connection</button>
        </div>
      </form>
    </section>`;
}

/**
 * What the Users grid does with the rows selected in it (the page; app.js shows it while rows
 * are selected, between the grid's toolbar and the table): Disable, Enable and Set expiry make
 * a lifecycle sheet of them, planned in the lifecycle view with its plan and confirmation;
 * Add to group and Remove from group a membership change sheet, planned in Groups and roles (the
 * groups offered are those of the last membership pull: Read the groups pulls it);
 * Download as edit sheet writes them with an Action column to fill in. The pane (no grid: its
 * users are the Users sheet) shows the same actions on the rows selected in that sheet.
 */
const bulkBar = (/** @type {boolean} */ files) => `
      <div id="users-bulk" class="actions bulk-bar" role="group" aria-label="${files ? 'Act on the selected users' : 'Act on the rows selected in the Users sheet'}" data-testid="users-bulk"${files ? ' hidden' : ''}>${when(!files, `
        <p class="hint">Select users' rows in the <b>Users</b> sheet (hidden and filtered-out rows are left out), then:</p>`)}
        <button id="bulk-disable" type="button">Disable</button>
        <button id="bulk-enable" type="button">Enable</button>
        <span class="bulk-expiry">
          <label for="bulk-expiry">Expiry date</label>
          <input id="bulk-expiry" type="date">
          <button id="bulk-expire" type="button">Set expiry</button>
        </span>
        <span class="bulk-expiry bulk-group">
          <label for="bulk-group">Group</label>
          <select id="bulk-group"><option value="">Choose a group…</option></select>
          <button id="bulk-read-groups" type="button" class="link">Read the groups</button>
          <button id="bulk-add-group" type="button">Add to group</button>
          <button id="bulk-remove-group" type="button">Remove from group</button>
        </span>${when(!files, `
        <button id="bulk-details" type="button">Details of the selected user</button>`)}${when(files, `
        <button id="bulk-download" type="button">Download as edit sheet</button>
        <button id="bulk-clear" type="button" class="link">Clear the selection</button>`)}
        <p class="hint">Disable, Enable and Set expiry plan the selected users in <b>${files ? 'Disable · enable · expire' : 'Lifecycle'}</b>; Add to group and Remove from group plan them in <b>${files ? 'Groups and roles' : 'Groups'}</b>. Nothing is sent until you Apply and confirm there.</p>
      </div>`;

function users(/** @type {VariantText} */ v) {
  return `
    <section id="view-users" class="card view" role="tabpanel" aria-labelledby="users-title"${panel('users')}>
      <h2 id="users-title">Users</h2>
      ${hint(v.usersHint)}
      <div class="actions">
        <button id="list-users" type="button" disabled>List users</button>${when(v.files, `
        <button id="download-csv" type="button" disabled>Download CSV</button>
        <button id="download-xlsx" type="button" disabled>Download .xlsx</button>`)}
      </div>${progress('')}
      <p id="summary" class="muted"></p>
      <div id="users-picture" class="brand-picture" role="region" aria-label="The brand at a glance" data-testid="users-picture" hidden></div>${when(v.files, bulkBar(true) + table('users-table', 'Users', true))}${when(!v.files, bulkBar(false))}
      <details id="names" class="names">
        <summary>Names for user types and divisions</summary>
        <p class="hint">Qualtrics lists no names for user types: give each the name your brand knows it by, once. Division names are read from Qualtrics when users are listed (a division it will not name can be named here). Names are remembered on this device${v.files ? ' (this browser)' : ' (Office\'s storage)'} and shown beside the ids in every table.</p>
        <p id="names-empty" class="hint">List users first: their user types and divisions are offered here.</p>
        <div id="names-list" class="names-list"></div>
      </details>
    </section>`;
}

function lifecycle(/** @type {VariantText} */ v) {
  return `
    <section id="view-lifecycle" class="card view" role="tabpanel" aria-labelledby="lc-title"${panel('lifecycle')}>
      <h2 id="lc-title">${v.lifecycleTitle}</h2>
      ${hint(v.lifecycleHint)}
      <div class="fields wide">${when(v.files, source('lc-', { placeholder: 'User ID,Action&#10;UR_…,disable' }))}
        <label for="lc-default">Rows without an Action</label>
        <select id="lc-default" aria-describedby="lc-default-hint">
          <option value="" selected>Choose…</option>
          <option value="disable">disable them</option>
          <option value="enable">re-enable them</option>
          <option value="invalid">mark them invalid (send nothing for them)</option>
        </select>
        <p id="lc-default-hint" class="hint">Chosen for each ${v.files ? 'file' : 'sheet'}: until you choose, rows without an Action are refused.</p>${hiddenRows('lc-', v)}
      </div>${flowActions('lc-')}${progress('lc-')}${flowStatus('lc-')}${runDownloads('lc-', v, { before: true })}${when(v.files, table('lc-table', 'Lifecycle plan and outcomes'))}${applyBar('lc-')}
    </section>`;
}

function provision(/** @type {VariantText} */ v) {
  return `
    <section id="view-provision" class="card view" role="tabpanel" aria-labelledby="pv-title"${panel('provision')}>
      <h2 id="pv-title">${v.provisionTitle}</h2>
      ${hint(v.provisionHint)}${when(v.files, `
      <div class="fields wide">${source('pv-', { placeholder: 'Username,First name,Last name,Email,User type,Password,Role' })}
      </div>`)}
      <div class="fields wide">
        <label for="pv-route">How to create accounts</label>
        <select id="pv-route">
          <option value="account">Qualtrics account, then its attributes (uniqueIdentifier found for you)</option>
          <option value="directory">CX directory import with the sheet's own Unique identifier</option>
        </select>
        <label for="pv-types">User type names (optional, one per line: Name = UT_…)</label>
        <textarea id="pv-types" rows="2" spellcheck="false" placeholder="Researcher = UT_…"></textarea>${hiddenRows('pv-', v)}
      </div>${flowActions('pv-', `
        <button id="pv-template" type="button">Template</button>`)}${progress('pv-')}${flowStatus('pv-')}${runDownloads('pv-', v)}${when(v.files, table('pv-table', 'Provisioning plan and outcomes'))}${applyBar('pv-')}
    </section>`;
}

/**
 * The Groups and roles view's sub-views (issue 29.8), in tab order: each a tabpanel
 * `#mp-sub-…` opened by its tab `#mtab-…` and by the URL (`#membership/rules`).
 * @type {SubViewName[]}
 */
export const MEMBERSHIP_SUBVIEWS = ['where', 'rules', 'changes'];
/** @typedef {'where' | 'rules' | 'changes'} SubViewName */

/** A Groups and roles sub-view's labels. */
const SUBVIEW_LABELS = { where: 'Who is where', rules: 'Rules', changes: 'Changes' };

/**
 * Groups and roles: the pull (filter, Pull) above three sub-views. **Who is where**: the
 * matrix, each cell a toggle that adds a row to the change sheet (groups.js), the pull's tables
 * and downloads. **Rules**: the Roles sheet and whom each rule gives its role. **Changes**: the
 * change sheet (with the people picker), planned through the membership flow (its plan,
 * confirmation and Apply), and a sheet of one's own planned the same way.
 */
function membership(/** @type {VariantText} */ v) {
  const tabs = MEMBERSHIP_SUBVIEWS.map((name, i) => `
        <button id="mtab-${name}" type="button" role="tab" aria-controls="mp-sub-${name}" aria-selected="${i === 0}" tabindex="${i === 0 ? 0 : -1}">${SUBVIEW_LABELS[name]}${name === 'changes' ? ' <span id="cs-count" class="count-badge" data-testid="cs-count"></span>' : ''}</button>`).join('');
  const sub = (/** @type {SubViewName} */ name, /** @type {string} */ body) => `
      <div id="mp-sub-${name}" class="subview" role="tabpanel" aria-labelledby="mtab-${name}" tabindex="-1"${name === 'where' ? '' : ' hidden'}>${body}
      </div>`;
  return `
    <section id="view-membership" class="card view" role="tabpanel" aria-labelledby="mp-title"${panel('membership')}>
      <h2 id="mp-title">Groups and roles</h2>
      <div class="fields pull-row">
        <label for="mp-filter">Only the team where (optional)</label>
        <input id="mp-filter" autocomplete="off" spellcheck="false" placeholder="e.g. Hotel = Seattle">
      </div>
      <div class="actions">
        <button id="mp-pull" type="button" disabled>Pull membership</button>
      </div>${progress('mp-')}
      <p id="mp-error" class="error" role="alert" hidden></p>
      <p id="mp-summary" class="muted" data-testid="mp-summary"></p>
      <div class="subtabs" role="tablist" aria-label="Groups and roles">${tabs}
      </div>${sub('where', `
        <p class="hint">Press a cell to ask for that change: it goes to <b>Changes</b>, with the roles the rules would give or take, and nothing is sent until you plan, Apply and confirm there. Arrow keys move between cells; Space or Enter toggles.</p>
        <div id="mx-empty" class="hint">Pull membership first: who is in which group and role shows here.</div>
        <div id="mx" class="matrix-editor" hidden>
          <div class="grid-tools">
            <label class="tool"><span>Find people</span><input id="mx-search" type="search" autocomplete="off" spellcheck="false" placeholder="name, username…"></label>
            <span id="mx-count" class="muted count" role="status"></span>
          </div>
          <p id="mx-note" class="mx-note" role="status" aria-live="polite" data-testid="mx-note"></p>
          <div class="table-wrap matrix-wrap" tabindex="-1" role="region" aria-label="Who is in which group and role">
            <table id="mx-table" class="matrix" aria-label="Who is in which group and role (press a cell to change it)" data-testid="mx-table"><thead></thead><tbody></tbody></table>
          </div>
        </div>
${when(v.files, downloads('mp-downloads', [
    ['mp-download-long', 'Membership CSV'],
    ['mp-download-matrix', 'Matrix CSV'],
    ['mp-download-xlsx', 'Membership, matrix and roles (.xlsx)'],
  ]))}
        <details class="pulled-tables">
          <summary>Members per group and role${v.files ? ', and the pulled tables' : ''}</summary>
          <div id="mp-chart" class="chart" data-testid="mp-chart"></div>${when(v.files, table('mp-long-table', 'Membership', true) + table('mp-matrix-table', 'Membership matrix', true))}
        </details>`)}${sub('rules', `
        ${hint(v.membershipHint)}
        <div class="fields wide">${when(v.files, source('rl-', { label: 'Roles sheet (CSV)', accept: '.csv,text/csv,text/plain', pasteLabel: '…or paste it, header first', rows: 3, placeholder: 'Role,Attribute,Operator,Value&#10;Seattle Team,Hotel,In,Seattle' }))}
        </div>
        <div class="actions">
          <button id="rl-sandbox" type="button">${v.sandboxRoles}</button>
          <button id="rl-template" type="button">Roles template</button>
        </div>
        <ul id="mp-notes" class="notes"></ul>
        <p id="rl-empty" class="hint">Pull membership to see whom each rule gives its role.</p>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Role rules and their members">
          <table id="rl-table" aria-label="Role rules and their members" data-testid="rl-table"><thead></thead><tbody></tbody></table>
        </div>`)}${sub('changes', `
        <h3 id="cs-title">The change sheet</h3>
        <p class="hint">Built from the cells you press in <b>Who is where</b> and the people you add here. <b>By the rules</b> says which roles each person would gain or lose.</p>
        <fieldset id="pk" class="picker" data-testid="pk">
          <legend>Add people to a group</legend>
          <div class="fields">
            <label for="pk-group">Group</label>
            <select id="pk-group"></select>
            <label for="pk-search">Find people by name, e-mail or username</label>
            <input id="pk-search" type="search" autocomplete="off" spellcheck="false" aria-controls="pk-results">
          </div>
          <ul id="pk-results" class="picker-results" aria-label="People found" data-testid="pk-results"></ul>
          <div class="actions">
            <button id="pk-add" type="button" disabled>Add the chosen people</button>
            <span id="pk-status" class="muted" role="status"></span>
          </div>
        </fieldset>
        <p id="cs-empty" class="hint">No changes yet.</p>
        <div class="table-wrap" tabindex="0" role="region" aria-labelledby="cs-title">
          <table id="cs-table" aria-labelledby="cs-title" data-testid="cs-table"><thead></thead><tbody></tbody></table>
        </div>
        <div class="actions">
          <button id="cs-plan" type="button" class="primary" disabled>Plan the change sheet</button>
          <button id="cs-download" type="button" disabled>${v.files ? 'Download the change sheet' : 'Write it to a sheet'}</button>
          <button id="cs-clear" type="button" class="link" disabled>Clear it</button>
        </div>
        <h3>Or plan a sheet of your own</h3>
        ${hint(v.changesHint)}${when(v.files, `
        <div class="fields wide">${source('mb-', { placeholder: 'User,Group or role,Member&#10;ada@example.org,Front Desk,yes' })}
        </div>`)}${when(!v.files, `
        <div class="fields wide">${hiddenRows('mb-', v)}
        </div>`)}${flowActions('mb-', `
        <button id="mb-template" type="button">Template</button>`)}${progress('mb-')}${flowStatus('mb-')}${runDownloads('mb-', v)}${when(v.files, table('mb-table', 'Membership changes plan and outcomes', true))}${applyBar('mb-')}`)}
    </section>`;
}

/**
 * Every run of this device (runs.js): kept in this browser's IndexedDB, with Results, Retry
 * failed rows, Undo this run and Resume; then the server's hook runs, read-only.
 */
function runs(/** @type {VariantText} */ v) {
  const where = v.files ? 'this browser' : 'this add-in\'s browser storage on this device';
  return `
    <section id="view-runs" class="card view" role="tabpanel" aria-labelledby="rn-title"${panel('runs')}>
      <h2 id="rn-title">Runs</h2>
      <p class="hint">Each Apply made here, newest first: the last 50, kept in ${where} (IndexedDB), never in a workbook and never with the token. A run's rows and results are kept up to 20,000 rows. Retry, Undo and Resume only plan: nothing is sent until you Apply and confirm.</p>
      <p id="rn-note" class="notice" role="status" hidden></p>
      <p id="rn-error" class="error" role="alert" hidden></p>
      <p id="rn-count" class="muted" role="status"></p>
      <ul id="rn-list" class="runs" aria-label="Runs of this device" data-testid="rn-list"></ul>
      <h3 id="rn-hooks-title">Server hook runs</h3>
      <p id="rn-hooks-note" class="hint"></p>
      <ul id="rn-hooks" class="runs" aria-labelledby="rn-hooks-title" data-testid="rn-hooks"></ul>
    </section>`;
}

function automations() {
  return `
    <section id="view-automations" class="card view" role="tabpanel" aria-labelledby="au-title"${panel('automations')}>
      <h2 id="au-title">Automations</h2>
      <p class="hint">Events the server received from your CRM or HR system's hooks, newest first. A failed event with a next attempt will be retried on its own; one without is parked until you press Retry.</p>
      <div class="actions">
        <button id="au-refresh" type="button">Refresh</button>
      </div>
      <p id="au-error" class="error" role="alert" hidden></p>
      <div class="grid-tools">
        <label class="tool"><span>Search</span><input id="au-search" type="search" autocomplete="off" spellcheck="false" placeholder="user, hook, reason…"></label>
        <label class="tool"><span>Status</span><select id="au-status"><option value="">All</option></select></label>
        <span id="au-count" class="muted count" role="status"></span>
      </div>
      <div class="table-wrap" tabindex="0" role="region" aria-label="Automation events">
        <table id="au-table" aria-label="Automation events" data-testid="au-table"><thead></thead><tbody></tbody></table>
      </div>
    </section>`;
}

/**
 * The confirmation every Apply asks for (confirm.js fills it from the plan's blast radius): a
 * modal alert dialog naming what will change, who loses access, the privileged accounts touched
 * and the rows the policy refuses; under the mass-change brake a box for the number of accounts
 * that lose access, and a tick box for changing other Brand Administrators.
 */
const confirmDialog = `
  <dialog id="confirm" class="confirm" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title" aria-describedby="confirm-desc">
    <h2 id="confirm-title">Apply these changes?</h2>
    <div id="confirm-desc">
      <p id="confirm-warning" class="error" hidden></p>
      <p id="confirm-what"></p>
      <p id="confirm-choice" hidden></p>
      <p id="confirm-loses" hidden></p>
    </div>
    <ul id="confirm-sample" class="confirm-list" aria-label="Some of the accounts that lose access" hidden></ul>
    <div id="confirm-privileged" hidden>
      <h3 id="confirm-privileged-title">Privileged accounts touched</h3>
      <ul class="confirm-list" aria-labelledby="confirm-privileged-title"></ul>
    </div>
    <div id="confirm-refused" hidden>
      <h3 id="confirm-refused-title">Refused by policy: not sent</h3>
      <ul class="confirm-list" aria-labelledby="confirm-refused-title"></ul>
    </div>
    <div id="confirm-admins-row" hidden>
      <label class="check"><input id="confirm-admins" type="checkbox"> <span id="confirm-admins-text"></span></label>
      <p class="hint">Unticked, these rows are refused and nothing is sent for them.</p>
    </div>
    <div id="confirm-brake" class="fields" hidden>
      <p id="confirm-brake-message" class="notice"></p>
      <label id="confirm-count-label" for="confirm-count"></label>
      <input id="confirm-count" type="text" inputmode="numeric" autocomplete="off" spellcheck="false">
    </div>
    <div class="actions">
      <button id="confirm-cancel" type="button">Cancel</button>
      <button id="confirm-ok" type="button" class="primary">Apply</button>
    </div>
  </dialog>`;

/**
 * One user's details (details.js, opened from a row of the Users grid): the user's fields, the
 * groups they are in and their roles by rule (from the membership pull, or a button that pulls),
 * and the runs of this device that touched them. A modal dialog that fits 1366x768 and 360 px.
 */
const detailsDialog = `
  <dialog id="user-details" class="confirm details" aria-labelledby="user-details-title" data-testid="user-details">
    <h2 id="user-details-title">User</h2>
    <dl id="user-details-fields" class="details-fields"></dl>
    <h3 id="user-details-groups-title" tabindex="-1">Groups</h3>
    <div id="user-details-groups"></div>
    <h3 id="user-details-roles-title">Roles by rule</h3>
    <div id="user-details-roles"></div>
    <p id="user-details-pull-row" hidden><button id="user-details-pull" type="button">Read groups and roles</button></p>
    <p id="user-details-error" class="error" role="alert" hidden></p>
    <h3 id="user-details-runs-title">Recent runs that touched them (this device)</h3>
    <ul id="user-details-runs" class="confirm-list" aria-labelledby="user-details-runs-title"></ul>
    <div class="actions">
      <button id="user-details-close" type="button" class="primary">Close</button>
    </div>
  </dialog>`;

/** The header, the tab bar, the Connect card and every view, as the variant shows them. */
export function shellHtml(/** @type {Variant} */ variant) {
  const v = VARIANTS[variant];
  return `
  <header class="bar">
    <h1>${v.title}</h1>
    <div id="connection" class="connection" role="group" aria-label="Connection" data-testid="connection">
      <span id="who" class="muted" data-testid="who" role="status">Not connected</span>
      <span id="connection-actions" class="connection-actions" hidden>
        <button id="switch-brand" type="button" aria-controls="view-connect" aria-expanded="false">Switch brand</button>
        <button id="disconnect" type="button">Disconnect</button>
      </span>
    </div>
  </header>
  <main>${when(v.messages === 'top', messages)}${connect(v)}${when(v.messages === 'connect', messages)}
    <nav class="tabs" role="tablist" aria-label="Tasks">${VIEWS.map((name) => `
      <button id="tab-${name}" type="button" role="tab" aria-controls="view-${name}" aria-selected="false" tabindex="-1"${name === 'automations' ? ' hidden' : ''}>${v.tabs[name]}</button>`).join('')}
    </nav>
    <nav class="tabs-menu" aria-label="Tasks (menu)">
      <button id="tabs-menu-button" type="button" aria-haspopup="menu" aria-expanded="false" aria-controls="tabs-menu"><span class="sr-only">Task: </span><span id="tabs-menu-current">${v.tabs.users}</span> <span aria-hidden="true">▾</span></button>
      <div id="tabs-menu" class="menu" role="menu" aria-label="Tasks" hidden>${VIEWS.map((name) => `
        <button id="menu-${name}" type="button" role="menuitemradio" aria-checked="false" tabindex="-1" data-view="${name}"${name === 'automations' ? ' hidden' : ''}>${v.tabs[name]}</button>`).join('')}
      </div>
    </nav>${[users, lifecycle, provision, membership, runs, automations].map((section) => section(v)).join('')}
  </main>${confirmDialog}${detailsDialog}
`;
}
