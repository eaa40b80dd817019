// A sheet flow, the same in the page and the Excel task pane, for every kind of run
// (lifecycle, provisioning): read the user's table through the host, plan (nothing sent),
// write the Plan sheet, apply with a progress bar, write each row's outcome beside it, and
// offer the undo and audit sheets. Every decision and message comes from the WASM core.
// Elements are found by `prefix` (`lc-` for lifecycle, `pv-` for provisioning, `mb-` for
// membership changes).
import { $, find, show, download, renderBarChart, messageOf, errorCode } from './ui.js';
import { gridOf, tone, statusWord } from './grid.js';
import { confirmApply } from './confirm.js';
import { formatNumber, formatTime } from './format.js';
import { MAX_KEPT_ROWS as KEPT_ROWS } from './runs-store.js';

/** @typedef {import('./host/host.js').Host} Host */
/** @typedef {import('./host/host.js').TableInput} TableInput */
/** @typedef {import('./pkg/qualtrics_roster.js').SheetKind} Kind */
/** @typedef {import('./pkg/qualtrics_roster.js').PlanView} Plan */
/** @typedef {import('./pkg/qualtrics_roster.js').HeldListing} HeldListing */
/** @typedef {import('./run.js').FlowRun} FlowRun */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./pkg/qualtrics_roster_console.js').RosterClient} RosterClient The console module's client (connected or not). */
/** @typedef {import('./ui.js').Lock} Lock */
/** @typedef {import('./pkg/qualtrics_roster.js').ColumnFit} ColumnFit */
/** @typedef {import('./pkg/qualtrics_roster.js').SheetRequest} SheetRequest */

/**
 * What a flow tells the Runs view (runs.js) of each Apply: `start` once the administrator
 * confirmed, before anything is sent (resolves to the run's id, or null when it cannot be kept);
 * `finish` with its outcome once it ended. Neither ever throws into the flow.
 * @typedef {object} RunRecorder
 * @property {(run: RunStart) => Promise<string | null>} start
 * @property {(id: string, end: RunEnd) => Promise<void>} finish
 * @property {(id: string) => Promise<void>} drop The run sent nothing (the core refused it).
 */
/**
 * @typedef {object} RunStart
 * @property {Kind} kind
 * @property {string} source
 * @property {number} rowCount
 * @property {number} changes
 * @property {string} journalId
 * @property {number} width
 * @property {Table | null} table
 * @property {Record<string, unknown>} options
 * @property {{ what: 'retry' | 'undo' | 'resume', of: string } | null} origin
 */
/**
 * @typedef {object} RunEnd
 * @property {{ done: number, unchanged: number, failed: number, refused: number, skipped: number }} counts
 * @property {boolean} cancelled
 * @property {number[]} failedRows
 * @property {Table | null} table
 * @property {Table | null} before
 */

const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const JOURNAL_PREFIX = 'qualtrics-roster:journal:';
const MAPPING_PREFIX = 'qualtrics-roster:mapping:';
/** Rows the mapping step previews. */
const PREVIEW_ROWS = 5;

/**
 * The key a mapping is remembered under: a `kind` sheet with exactly these headers, in this
 * order (FNV-1a, 64 bits, over the kind and each header, length-prefixed).
 */
export function headerKey(/** @type {string} */ kind, /** @type {string[]} */ columns) {
  let h = 0xcbf29ce484222325n;
  const mask = (1n << 64n) - 1n;
  for (const text of [kind, ...columns]) {
    for (const b of new TextEncoder().encode(`${text.length}:${text}`)) {
      h = ((h ^ BigInt(b)) * 0x100000001b3n) & mask;
    }
  }
  return MAPPING_PREFIX + h.toString(16).padStart(16, '0');
}

/**
 * The journal kept for a sheet, as saved (the core checks each entry when planning with it).
 * @returns {import('./pkg/qualtrics_roster.js').JournalEntry[]}
 */
function loadJournal(/** @type {string} */ id) {
  try {
    return JSON.parse(localStorage.getItem(JOURNAL_PREFIX + id) ?? '[]');
  } catch {
    return [];
  }
}

function saveJournal(/** @type {string} */ id, /** @type {unknown[]} */ entries) {
  try {
    localStorage.setItem(JOURNAL_PREFIX + id, JSON.stringify(entries));
  } catch {
    // Storage full or off: the run goes on; a resume then relies on the live state alone.
  }
}

/** @type {Record<string, string>} */
const PHASES = { changes: 'Sending', accounts: 'Accounts', 'checking accounts': 'Accounts (checking lost answers)', 'accounts (retry)': 'Accounts (retry)', directory: 'Directory', attributes: 'Attributes', groups: 'Groups', roles: 'Roles (attributes)' };

/**
 * How long an apply goes without a row ending well, while its requests are being retried (no
 * answer, 5xx, 429), before the connection to Qualtrics (or to this server) is taken as lost:
 * the run then stops sending, and the rows not sent end "not sent", with one message and a
 * Retry, instead of each row failing on its own after its retries (about 8 to 15 s later).
 */
export const LOST_AFTER_MS = 6000;
/** Retries since the last row that ended well, at least, before the connection counts as lost. */
const LOST_RETRIES = 4;
/** What the core says of a row it did not send because the run was cancelled. */
const CANCELLED = 'skipped: cancelled before it was sent';

/**
 * Qualtrics' rate limit for user updates, about 3,000 requests a minute: the pace an apply is
 * estimated at before it starts, and while it has not measured its own yet.
 */
export const QUALTRICS_RATE_PER_SECOND = 50;

/** A duration in words: "40 s", "3 min", "1 h 5 min". */
export function duration(/** @type {number} */ seconds) {
  if (!Number.isFinite(seconds) || seconds < 1.5) return '1 s';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const min = Math.round(seconds / 60);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

/**
 * One flow's view: `kind` sheets, elements named `${prefix}…`, planned through the host with
 * `options()` (the kind's options as the view's fields say). `choice()` says in words a choice
 * the administrator made for this plan (the lifecycle's action for rows without one), shown in
 * the plan's summary and in the confirmation; `onTable(input)` is told each table read, before
 * it is planned; `brand()` names the brand connected to, for the confirmation.
 * `columnFit` and `checkMapping` are the core's (issue 29.7): when the core does not recognise a
 * table's headers, Plan first shows the mapping step (each field -> a column, with a preview),
 * remembered on this device for that set of headers (the host's storage).
 * @param {{ host: Host, getClient: () => RosterClient | null, lock: Lock, prefix: string, kind: Kind,
 *   journalKey: (kind: string, table: Table) => string, options: () => Record<string, unknown>,
 *   columnFit: (kind: Kind, columns: string[], rows: string[][], options: Partial<SheetRequest> | null) => ColumnFit,
 *   checkMapping: (kind: Kind, columns: string[], mapping: Record<string, string>, options: Partial<SheetRequest> | null) => string | undefined,
 *   choice?: () => string | null, onTable?: (input: TableInput) => void, brand?: () => string | null,
 *   recorder?: RunRecorder }} parts
 */
export function createFlowView({ host, getClient, lock, prefix, kind, journalKey, options, columnFit, checkMapping, choice, onTable, brand, recorder }) {
  /**
   * `given`: a table the app handed to this flow (the Users grid's selected rows), planned in
   * place of the file or pasted rows until another file or paste is chosen (`forgetTable`).
   * `given.journalId` plans it with that journal (Resume: the interrupted run's), `given.origin`
   * says which run it retries, undoes or resumes, `given.listing` gives the users listing it was
   * made from, asked at each Plan (the core plans from it instead of reading the brand while
   * it is recent: the Users bar's bulk actions); `recordId` is the Runs view's record of the
   * Apply running or last run, `cancelled` whether Cancel stopped it.
   * @type {{ run: FlowRun | null, plan: Plan | null, input: TableInput | null, id: string, applying: boolean, applied: boolean, lostAt: Date | null,
   *   given: { table: Table, source: string, description: string, sheetName?: string, journalId?: string, origin?: RunStart['origin'], listing?: () => HeldListing | null } | null,
   *   recordId: string | null, cancelled: boolean }}
   */
  const state = { run: null, plan: null, input: null, id: '', applying: false, applied: false, lostAt: null, given: null, recordId: null, cancelled: false };
  /**
   * New attributes the administrator ticked for the table `id` (a plan creates none unless
   * ticked; another table starts with none ticked).
   * @type {{ id: string, names: Set<string> }}
   */
  const allowedNew = { id: '', names: new Set() };
  /**
   * The mapping step: `pending` is the table read and waiting for its columns to be mapped;
   * `confirmed` the mapping confirmed for a set of headers (by `headerKey`) in this view, used
   * again by Plan and Retry for the same headers until another file or paste is chosen.
   * @type {{ pending: { input: TableInput, fit: ColumnFit, key: string } | null, confirmed: { key: string, map: Record<string, string> } | null }}
   */
  const mapping = { pending: null, confirmed: null };
  const el = (/** @type {string} */ name) => $(`${prefix}${name}`);
  const button = (/** @type {string} */ name) => $(`${prefix}${name}`, HTMLButtonElement);
  const error = el('error');
  /** The run planned, for the actions that need one (their buttons show only after a plan). */
  const planned = () => {
    if (!state.run || !state.input) throw new Error('Plan first.');
    return { run: state.run, input: state.input };
  };

  function refreshButtons() {
    button('plan').disabled = lock.busy || !getClient();
    if (mapping.pending) refreshMapping();
    // An attribute that would be created without a tick stops Apply (the core refuses it too).
    const unticked = (state.plan?.newAttributes ?? []).some((a) => !a.allowed);
    button('apply').disabled = lock.busy || !state.plan?.changes || state.applied || unticked;
    const n = state.plan?.changes ?? 0;
    button('apply').textContent = n ? `Apply ${n} change${n === 1 ? '' : 's'}` : 'Apply';
    el('cancel').hidden = !state.applying;
    el('downloads').hidden = !state.applied;
    // The bar stays in view only while it has something to do (Apply a plan, Cancel a run).
    el('apply-bar').classList.toggle('idle', !state.applying && (!state.plan?.changes || state.applied));
  }

  /** The Apply bar's line: what Apply would do, or what became of it. */
  const applyStatus = (/** @type {string} */ text) => { el('apply-status').textContent = text; };



  /**
   * Forgets the plan: the file, the pasted rows, an option or the connection changed, so the
   * plan shown is no longer what Apply would send. Apply is disabled and the plan table
   * cleared. (A running apply goes on: it sends exactly the plan it started with.)
   */
  function invalidate() {
    if (state.applying) return;
    state.run?.free();
    Object.assign(state, { run: null, plan: null, applied: false, lostAt: null });
    show(el('note'), '');
    el('lost').hidden = true;
    el('summary').textContent = '';
    applyStatus('');
    el('problems').replaceChildren();
    newAttributes([]);
    el('glance').replaceChildren();
    stackBar(null);
    el('chart').replaceChildren();
    // The page shows the plan in a table; the pane writes a Plan sheet.
    const table = find(`${prefix}table`, HTMLTableElement);
    if (table) gridOf(table).clear();
    refreshButtons();
  }

  /**
   * The plan at a glance: a chip per kind of change with its count, the problems, and the time
   * Apply should take at Qualtrics' rate limit.
   */
  function glance(/** @type {Plan} */ plan) {
    const problems = plan.problemCount ?? plan.problems.length;
    /** @type {[string, string, string][]} */
    const chips = plan.counts.map(([label, n]) => [tone(label), label, formatNumber(n)]);
    if (problems) chips.push(['bad', problems === 1 ? 'problem' : 'problems', formatNumber(problems)]);
    if (plan.changes) chips.push(['time', 'to apply', `about ${duration(plan.changes / QUALTRICS_RATE_PER_SECOND)}`]);
    el('glance').replaceChildren(...chips.map(([t, label, n]) => {
      const li = document.createElement('li');
      li.className = `chip tone-${t}`;
      const b = document.createElement('b');
      b.textContent = n;
      li.append(b, ` ${label}`);
      return li;
    }));
    stackBar(plan);
  }

  /**
   * One bar of what the plan will do, each change a part as wide as its share of the rows (the
   * chips give the numbers): what a person sees at once, before reading the table.
   */
  function stackBar(/** @type {Plan | null} */ plan) {
    let bar = find(`${prefix}stack`);
    if (!bar) {
      bar = Object.assign(document.createElement('div'), { id: `${prefix}stack`, className: 'stack-bar' });
      bar.dataset.testid = `${prefix}stack`;
      bar.setAttribute('role', 'img');
      el('glance').before(bar);
    }
    const parts = (plan?.counts ?? []).filter(([, n]) => n > 0);
    bar.hidden = !parts.length;
    bar.setAttribute('aria-label', `What the plan will do: ${parts.map(([label, n]) => `${formatNumber(n)} ${label}`).join(', ')}`);
    bar.replaceChildren(...parts.map(([label, n]) => {
      const part = Object.assign(document.createElement('span'), { className: `tone-${tone(label)}`, title: `${formatNumber(n)} ${label}` });
      part.style.flexGrow = String(n);
      return part;
    }));
  }

  /**
   * A tick per attribute column no one in the brand has yet: applying creates the attribute on
   * every account of the sheet, so it is created only when ticked (a misspelt column is not).
   * Ticking or unticking plans again. Shown only in views that have the box (provisioning).
   */
  function newAttributes(/** @type {import('./pkg/qualtrics_roster.js').NewAttribute[]} */ found) {
    const box = find(`${prefix}new-attributes`, HTMLFieldSetElement);
    if (!box) return;
    box.hidden = !found.length;
    const legend = document.createElement('legend');
    legend.textContent = 'New attributes: no one in the brand has these yet';
    box.replaceChildren(legend, ...found.map((a) => {
      const label = document.createElement('label');
      label.className = 'check';
      const tick = document.createElement('input');
      tick.type = 'checkbox';
      tick.checked = a.allowed;
      tick.addEventListener('change', () => {
        if (tick.checked) allowedNew.names.add(a.name);
        else allowedNew.names.delete(a.name);
        button('plan').click();
      });
      label.append(tick, ` Create the attribute "${a.name}" (column "${a.column}") on the accounts of this sheet`);
      return label;
    }));
    if (found.some((a) => !a.allowed)) {
      const p = document.createElement('p');
      p.className = 'error';
      p.textContent = 'Apply stays off until each new attribute is ticked, or its column renamed to an attribute the brand has.';
      box.append(p);
    }
  }

  /**
   * Lists the problems grouped by what they say (the core groups them: 50,000 rows with one
   * mistake are one line with their count), after the file's notes. A group of one row goes to
   * that row; a bigger one shows just its rows (the page filters its plan table; Excel selects
   * the first). At most 50 groups are listed; the plan table's "Problems only" (or the Plan
   * sheet) has every row.
   */
  function listProblemGroups(/** @type {string[]} */ notes, /** @type {import('./pkg/qualtrics_roster.js').ProblemGroup[]} */ groups) {
    const list = el('problems');
    const items = notes.map((m) => {
      const li = document.createElement('li');
      li.textContent = m;
      return li;
    });
    for (const g of groups.slice(0, 50)) {
      const li = document.createElement('li');
      const n = g.rows.length;
      if (n === 0) {
        li.textContent = g.first;
      } else {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'link';
        const rows = n === 1 ? '' : ` (${formatNumber(n)} rows)`;
        b.textContent = n === 1 ? g.first : `${g.message}${rows}`;
        b.title = n === 1 ? `Go to row ${g.rows[0]}` : `Show these ${formatNumber(n)} rows`;
        b.addEventListener('click', () => {
          if (!state.input) return;
          const shown = n === 1
            ? host.showRow(prefix, state.input, g.rows[0])
            : host.showRows(prefix, state.input, g.rows, `${formatNumber(n)} rows: ${g.message}`);
          shown.catch((err) => show(error, messageOf(err)));
        });
        li.append(b);
      }
      items.push(li);
    }
    if (groups.length > 50) {
      const li = document.createElement('li');
      const where = find(`${prefix}table`, HTMLTableElement) ? 'the plan table\'s "Problems only" shows every row' : 'the Plan sheet lists every row';
      li.textContent = `…and ${formatNumber(groups.length - 50)} more kinds of problem (${where}).`;
      items.push(li);
    }
    list.replaceChildren(...items);
  }


  /** The mapping chosen in the step's selects: field -> column ('' for none). */
  function chosenMap() {
    /** @type {Record<string, string>} */
    const map = {};
    for (const select of el('mapping-fields').querySelectorAll('select')) {
      map[/** @type {string} */ (select.dataset.field)] = select.value;
    }
    return map;
  }

  /**
   * Why the chosen mapping cannot be planned, or '': a required field unmapped (or neither of a
   * pair), or what the core refuses (two fields on one column, another column still read as a
   * mapped field).
   */
  function mappingReason(/** @type {ColumnFit} */ fit, /** @type {string[]} */ columns, /** @type {Record<string, string>} */ map) {
    const missing = fit.fields.filter((f) => f.need === 'required' && !map[f.field] && !(f.alternative && map[f.alternative]));
    if (missing.length) {
      const pair = missing[0].alternative && missing.some((f) => f.field === missing[0].alternative);
      const what = pair ? `${missing[0].field} or ${missing[0].alternative}` : missing.map((f) => f.field).join(', ');
      return `Plan stays off until a column is mapped to ${what} (required).`;
    }
    return checkMapping(kind, columns, map, options()) ?? '';
  }

  /** Redraws the preview (the first rows under the mapped names) and the reason Plan is off. */
  function refreshMapping() {
    const pending = mapping.pending;
    if (!pending) return;
    const { input, fit } = pending;
    const map = chosenMap();
    const used = fit.fields.filter((f) => map[f.field]);
    const head = (input.preview ?? input.rows ?? []).slice(0, PREVIEW_ROWS);
    const at = used.map((f) => input.columns.indexOf(map[f.field]));
    const table = $(`${prefix}mapping-preview`, HTMLTableElement);
    const tr = document.createElement('tr');
    tr.append(...used.map((f) => Object.assign(document.createElement('th'), { scope: 'col', textContent: f.field })));
    table.tHead?.replaceChildren(tr);
    table.tBodies[0].replaceChildren(...head.map((row) => {
      const r = document.createElement('tr');
      r.append(...at.map((i) => Object.assign(document.createElement('td'), { textContent: row[i] ?? '' })));
      return r;
    }));
    const mappedColumns = new Set(Object.values(map));
    const left = input.columns.filter((c) => c.trim() && !mappedColumns.has(c));
    const others = fit.others === 'attributes' ? 'read as attributes' : 'ignored';
    el('mapping-hint').textContent = `The columns of ${input.source} were not all recognised: choose the column that holds each field. Planned with them renamed to the fields (the plan and its messages name the fields). Remembered on this device for files with these headers.${left.length ? ` Columns not mapped (${others}): ${left.join(', ')}.` : ''}`;
    const reason = mappingReason(fit, input.columns, map);
    el('mapping-reason').textContent = reason;
    button('map-plan').disabled = lock.busy || !!reason || !getClient();
  }

  /** Shows the mapping step for a table read, pre-filled with the mapping remembered for its headers, else what the core recognised. */
  async function offerMapping(/** @type {TableInput} */ input, /** @type {ColumnFit} */ fit, /** @type {string} */ key) {
    /** @type {Record<string, string>} */
    let remembered = {};
    try {
      remembered = JSON.parse((await host.tokenStore.get(key)) ?? '{}') ?? {};
    } catch {
      remembered = {};
    }
    const has = (/** @type {unknown} */ c) => typeof c === 'string' && input.columns.includes(c);
    mapping.pending = { input, fit, key };
    el('mapping-fields').replaceChildren(...fit.fields.flatMap((f, i) => {
      const id = `${prefix}map-${i}`;
      const label = Object.assign(document.createElement('label'), { htmlFor: id });
      const need = f.need === 'required' ? (f.alternative ? `required, or ${f.alternative}` : 'required') : f.need === 'expected' ? 'each row needs one' : 'optional';
      label.append(f.field, Object.assign(document.createElement('span'), { className: 'muted', textContent: ` (${need}: ${f.hint})` }));
      const select = Object.assign(document.createElement('select'), { id });
      select.dataset.field = f.field;
      select.append(new Option('Not in this file', ''), ...input.columns.filter((c) => c.trim()).map((c) => new Option(c, c)));
      const saved = remembered[f.field];
      // Remembered for these headers: as saved; else what the core recognised.
      select.value = Object.keys(remembered).length ? (has(saved) ? saved : '') : (f.column ?? '');
      select.addEventListener('change', refreshMapping);
      return [label, select];
    }));
    el('mapping').hidden = false;
    refreshMapping();
    el('mapping').querySelector('select')?.focus();
  }

  /** Plan with these columns: remembers the mapping for these headers, then plans the table with it. */
  async function confirmMapping() {
    const pending = mapping.pending;
    if (!pending) throw new Error('Press Plan first: there is no table waiting for its columns.');
    const map = chosenMap();
    const reason = mappingReason(pending.fit, pending.input.columns, map);
    if (reason) throw new Error(reason);
    try {
      await host.tokenStore.set(pending.key, JSON.stringify(map));
    } catch {
      // Storage full or off: the plan goes on; the next file asks again.
    }
    mapping.confirmed = { key: pending.key, map };
    mapping.pending = null;
    el('mapping').hidden = true;
    invalidate();
    await planInput(pending.input, map);
  }

  /** Another file or paste was chosen: its columns are mapped again (pre-filled if remembered). */
  function forgetMapping() {
    mapping.confirmed = null;
    mapping.pending = null;
    el('mapping').hidden = true;
  }

  async function plan() {
    // A plan that fails (an unreadable file) leaves no older plan on screen either.
    invalidate();
    mapping.pending = null;
    el('mapping').hidden = true;
    const given = state.given;
    const input = given
      ? { ...(await host.takeTable(prefix, kind, given.table, given.source, given.sheetName)), description: given.description, notes: [] }
      : await host.readTable(prefix, kind);
    /** @type {Record<string, string>} */
    let map = {};
    if (!given) {
      // Headers the core does not recognise: the administrator maps them first.
      const fit = columnFit(kind, input.columns, (input.preview ?? input.rows ?? []).slice(0, PREVIEW_ROWS), options());
      if (fit.needsMapping) {
        const key = headerKey(kind, input.columns);
        if (mapping.confirmed?.key !== key) {
          await offerMapping(input, fit, key);
          return;
        }
        map = mapping.confirmed.map;
      }
    }
    await planInput(input, map, given);
  }

  /**
   * Plans a table read (`map`: the columns mapped to fields, empty when the headers were
   * recognised; `given`: the table handed to the flow, such as a run to resume, if any).
   * @param {TableInput} input
   * @param {Record<string, string>} map
   * @param {typeof state.given} [given]
   */
  async function planInput(input, map, given = null) {
    onTable?.(input);
    state.input = input;
    // The core's key for this table's journal (the worker computed it for a file it holds).
    // Resume plans with the interrupted run's journal, whatever key its rows have now.
    state.id = given?.journalId ?? input.id ?? journalKey(kind, { columns: input.columns, rows: input.rows ?? [], rowNumbers: input.rowNumbers });
    const journal = loadJournal(state.id);
    if (allowedNew.id !== state.id) Object.assign(allowedNew, { id: state.id, names: new Set() });
    const roles = kind === 'membership' ? await host.readRoles() : null;
    if (!getClient()) throw new Error('Connect first.');
    host.progress(prefix, { text: 'Reading the brand\'s users…' });
    let run;
    try {
      const columnMap = Object.fromEntries(Object.entries(map).filter(([, c]) => c));
      const kindOptions = kind === 'provision' ? { ...options(), newAttributes: [...allowedNew.names] } : options();
      // A table made from the users listing the app holds: the core may plan from it (issue 29.3).
      const listing = given?.listing?.() ?? null;
      run = await host.plan(kind, input, { options: { ...kindOptions, columnMap, ...(listing ? { listing } : {}) }, journal, roles },
        (p) => host.progress(prefix, { text: `Reading the brand (${p.phase}): ${p.itemsRead ?? p.total - p.remaining} read, ${p.requestsSent} requests…` }));
    } finally {
      host.progress(prefix, { done: true });
    }
    state.run = run;
    const plan = await run.plan();
    if (plan.fileError) throw new Error(plan.fileError);
    state.plan = plan;
    await host.writeSheet('Plan', plan.table, { activate: false, failedRows: new Set(plan.problemRows), prefix });
    const counts = plan.counts.map(([label, n]) => `${n} ${label}`).join(' · ');
    const rowCount = input.rowCount ?? input.rows?.length ?? 0;
    const how = input.description ? ` (${input.description})` : '';
    const chosen = choice?.();
    // Planned from the app's recent listing rather than read now: when it was listed, and how long ago.
    const listed = plan.asListed ? ` Brand as listed at ${formatTime(plan.asListed.at, { seconds: true })}, ${duration(plan.asListed.ageMs / 1000)} ago.` : '';
    el('summary').textContent = `${rowCount} row${rowCount === 1 ? '' : 's'} from ${input.source}${how}: ${counts}.${chosen ? ` ${chosen}` : ''}${listed}`;
    applyStatus(plan.changes ? 'Planned: nothing sent yet. Apply asks you to confirm first.' : 'Nothing to apply.');
    glance(plan);
    const notes = input.notes ?? [];
    listProblemGroups(notes, plan.problemGroups);
    newAttributes(plan.newAttributes);
    if (journal.length) {
      show(el('note'), `An earlier run of this sheet was interrupted: the ${journal.length} rows it finished are planned as unchanged. Apply to finish the rest.`);
    }
  }

  async function apply() {
    const { run, input } = planned();
    const plan = state.plan;
    if (!plan) throw new Error('Plan first.');
    // The table as it is now; the pane refuses, with nothing sent, when it changed since Plan.
    state.input = await host.verifyTable(input);
    // Asked once, every time: what will change, who loses access, who is privileged. Nothing
    // is sent unless the administrator confirms.
    const approval = await confirmApply({ plan, source: input.source, brand: brand?.() ?? null, choice: choice?.() ?? null });
    if (!approval) {
      applyStatus('Not applied: you cancelled, nothing was sent.');
      return;
    }
    applyStatus('');
    const journal = loadJournal(state.id);
    // The Runs view keeps the run from here: a reload while sending leaves it "interrupted".
    state.cancelled = false;
    state.recordId = recorder
      ? await recorder.start({
        kind,
        source: input.source,
        rowCount: input.rowCount ?? input.rows?.length ?? 0,
        changes: plan.changes,
        journalId: state.id,
        width: input.columns.length,
        table: await Promise.resolve(run.keptTable(KEPT_ROWS)).catch(() => null),
        options: options(),
        origin: state.given?.origin ?? null,
      })
      : null;
    state.applying = true;
    refreshButtons();
    el('chart').replaceChildren();
    const changes = state.plan?.changes ?? 0;
    host.progress(prefix, { value: 0, max: changes, text: `Sending… about ${duration(changes / QUALTRICS_RATE_PER_SECOND)} at Qualtrics' rate limit` });
    let refused = false;
    state.lostAt = null;
    // Whether Qualtrics still answers: the last time a row ended well (done or unchanged, or a
    // new phase began) and the retries counted then. Rows that keep being retried with none
    // ending well for LOST_AFTER_MS mean the connection is gone: stop sending (the core ends
    // the rows not sent "skipped", which the page shows as "not sent").
    const watch = { at: Date.now(), good: -1, phase: '', retries: 0, retriesAtGood: 0 };
    const lose = () => {
      if (state.lostAt || !state.applying) return;
      state.lostAt = new Date();
      // In the page's worker the call is a promise: a failure of it changes nothing here.
      Promise.resolve(run.cancel()).catch(() => {});
      host.progress(prefix, { text: `Lost the connection to Qualtrics at ${formatTime(state.lostAt)}: stopping, waiting for the answers still on their way…` });
    };
    const watchdog = setInterval(() => {
      if (Date.now() - watch.at >= LOST_AFTER_MS && watch.retries - watch.retriesAtGood >= LOST_RETRIES) lose();
    }, 500);
    try {
      await run.apply(host.callback((p) => {
        const good = p.done + (p.unchanged ?? 0);
        const retries = p.retries ?? 0;
        if (good !== watch.good || p.phase !== watch.phase || retries < watch.retries) {
          Object.assign(watch, { at: Date.now(), good, phase: p.phase, retriesAtGood: retries });
        }
        watch.retries = retries;
        const finished = p.total - p.remaining;
        // The time left at the pace measured so far, else at Qualtrics' limit (~3,000 a minute).
        const rate = p.ratePerSecond > 0 ? p.ratePerSecond : QUALTRICS_RATE_PER_SECOND;
        const left = p.remaining > 0 ? ` · about ${duration(p.remaining / rate)} left` : '';
        const f = formatNumber;
        // Once the connection is lost the progress row says so, and what still arrives is kept.
        if (!state.lostAt) {
          host.progress(prefix, {
            value: finished,
            max: p.total,
            text: `${PHASES[p.phase] ?? p.phase}: ${f(finished)} of ${f(p.total)}, ${f(p.done)} done, ${f(p.failed)} failed, ${f(p.skipped)} not sent · ${p.ratePerSecond.toFixed(1)} requests/s${left}`,
          });
        }
        if (p.journal.length) {
          journal.push(...p.journal);
          saveJournal(state.id, journal);
        }
        if (p.stopped) show(el('note'), p.stopped);
      }), approval);
    } catch (err) {
      // The core's policy refused before sending anything (the brake's confirmation did not
      // match, say): the plan stays, to be confirmed again.
      refused = errorCode(err) === 'needs-confirmation';
      if (refused) applyStatus('Not applied: nothing was sent.');
      if (refused && state.recordId) await recorder?.drop(state.recordId);
      throw err;
    } finally {
      clearInterval(watchdog);
      state.applying = false;
      state.applied = !refused;
      host.progress(prefix, { done: true });
    }
    await writeOutcomes();
  }

  /**
   * After an apply that lost the connection: one message saying when, and how many rows were
   * not sent, with Retry (plan again: what the run finished is in its journal, so only the rest
   * is planned, from what Qualtrics has now).
   */
  function showLost(/** @type {number} */ notSent, /** @type {number} */ unsure) {
    const at = state.lostAt;
    if (!at) return;
    const rows = (/** @type {number} */ k) => `${formatNumber(k)} row${k === 1 ? '' : 's'}`;
    const maybe = unsure ? ` ${rows(unsure)} had no answer and may or may not have been applied.` : '';
    el('lost-text').textContent = `Lost the connection to Qualtrics at ${formatTime(at)}; ${rows(notSent)} not sent.${maybe} Retry plans them again from what Qualtrics has now.`;
    el('lost').hidden = false;
  }

  /** Retry after a lost connection: plans the same table again (its journal skips what was done). */
  async function retry() {
    el('lost').hidden = true;
    await plan();
  }

  async function writeOutcomes() {
    const { run, input } = planned();
    const rows = await run.outcomeRows();
    const columns = await run.outcomeColumns();
    const table = await run.outcomeTable();
    const lostAt = state.lostAt;
    if (lostAt) {
      // The core says "cancelled": it was the lost connection that stopped the run.
      const why = `not sent: the connection to Qualtrics was lost at ${formatTime(lostAt)}`;
      const reword = (/** @type {string[]} */ values) => values.map((v) => (v === CANCELLED ? why : v));
      for (const o of rows) o.values = reword(o.values);
      table.rows = table.rows.map(reword);
    }
    // Kept first: the run is on record even if the outcomes cannot be written.
    await recordEnd(rows);
    const byRow = new Map(rows.map((o) => [o.row, o.values]));
    const failed = new Set(rows.filter((o) => o.status === 'failed').map((o) => o.row));
    const n = (/** @type {string} */ s) => rows.filter((o) => o.status === s).length;
    const result = await host.writeColumns(input, columns, byRow, { failed, table, plan: state.plan?.table ?? null, prefix });
    // The summary comes last: when it shows, the outcomes are in place.
    const where = result.movedTo
      ? ` Written to the "${result.movedTo}" sheet, not beside your rows: ${result.reason ?? 'they could not be written there'}.`
      : result.where ? ` Written beside your rows in "${result.where}".` : '';
    // "skipped" is the core's word for a row nothing was sent for: shown as "not sent".
    renderBarChart(el('chart'), ['done', 'unchanged', 'failed', 'refused', 'skipped'].map((s) => ({ name: statusWord(s), kind: s, members: n(s) })), 'Outcomes per row');
    const refusedText = n('refused') ? ` · ${n('refused')} refused by policy` : '';
    el('summary').textContent = `Outcome: ${n('done')} done · ${n('unchanged')} unchanged · ${n('failed')} failed${refusedText} · ${n('skipped')} not sent.${where}`;
    if (lostAt) {
      const message = columns.indexOf('Message');
      const unsure = rows.filter((o) => o.status === 'failed' && /may or may not have been applied/.test(o.values[message] ?? '')).length;
      showLost(n('skipped'), unsure);
    }
    if (result.notWritten.length) {
      // Nothing is lost: every outcome also goes to an Outcomes sheet.
      await host.writeSheet('Outcomes', table, { prefix });
      show(el('note'), `Rows ${result.notWritten.join(', ')} were edited or removed after the plan, so their outcomes were not written beside them; every row's outcome is in the Outcomes sheet.`);
    }
  }

  /** Tells the Runs view how the run ended: its counts, the rows to retry, its undo sheet. */
  async function recordEnd(/** @type {import('./pkg/qualtrics_roster.js').OutcomeCells[]} */ rows) {
    const id = state.recordId;
    const run = state.run;
    if (!recorder || !id || !run) return;
    const n = (/** @type {string} */ s) => rows.filter((o) => o.status === s).length;
    await recorder.finish(id, {
      counts: { done: n('done'), unchanged: n('unchanged'), failed: n('failed'), refused: n('refused'), skipped: n('skipped') },
      cancelled: state.cancelled,
      failedRows: rows.filter((o) => o.status === 'failed' || o.status === 'skipped').map((o) => o.row),
      table: await Promise.resolve(run.keptTable(KEPT_ROWS)).catch(() => null),
      before: kind === 'lifecycle' ? await Promise.resolve(run.beforeTable()).catch(() => null) : null,
    });
  }

  function cancel() {
    state.cancelled = true;
    state.run?.cancel();
    host.progress(prefix, { text: 'Cancelling: waiting for the answers already on their way…' });
  }

  /**
   * Plans `table` (made by the app: the Users grid's selected rows as a lifecycle sheet) through
   * the same run, plan view and confirmation as a file; `source` and `description` say where
   * it came from in the summary ("6 rows from the Users grid (selected)"). Plan and Retry plan
   * it again until `forgetTable`.
   * `how`: the sheet the pane writes it to (`sheetName`), the journal to plan it with
   * (`journalId`: Resume), the run it retries, undoes or resumes (`origin`) and the users
   * listing the table was made from (`listing`: only that of the current connection, or null).
   * @param {Table} table
   * @param {string} source
   * @param {string} description
   * @param {{ sheetName?: string, journalId?: string, origin?: RunStart['origin'], listing?: () => HeldListing | null }} [how]
   */
  async function planTable(table, source, description, how = {}) {
    if (state.applying) throw new Error('An Apply is still sending in this view: wait for it to finish (or cancel it) first.');
    state.given = { table, source, description, ...how };
    await plan();
  }

  /** Another file or paste was chosen: Plan reads it, not the table handed over. */
  function forgetTable() { state.given = null; }

  const actions = {
    plan,
    confirmMapping,
    planTable,
    apply,
    cancel,
    retry,
    async writeBefore() { await host.writeSheet('Before (undo)', await planned().run.beforeTable()); },
    async writeAudit() { await host.saveAudit(planned().run); },
    /** Every row's outcome beside the input, as CSV (whole, even when the page shows a preview). */
    async downloadOutcomes() { download('outcomes.csv', await planned().run.tableCsv('outcomes')); },
    /** The outcomes and the plan as one Excel workbook. */
    async downloadWorkbook() { download('outcomes.xlsx', await planned().run.workbook(), XLSX_TYPE); },
  };
  /** True while Apply is sending (leaving the page then asks first: app.js). */
  const applying = () => state.applying;
  return { ...actions, invalidate, forgetTable, forgetMapping, refreshButtons, applying, error };
}
