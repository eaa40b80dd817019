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
/** @typedef {import('./run.js').FlowRun} FlowRun */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./pkg/qualtrics_roster_console.js').RosterClient} RosterClient The console module's client (connected or not). */
/** @typedef {import('./ui.js').Lock} Lock */

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
 * @param {{ host: Host, getClient: () => RosterClient | null, lock: Lock, prefix: string, kind: Kind,
 *   journalKey: (kind: string, table: Table) => string, options: () => Record<string, unknown>,
 *   choice?: () => string | null, onTable?: (input: TableInput) => void, brand?: () => string | null,
 *   recorder?: RunRecorder }} parts
 */
export function createFlowView({ host, getClient, lock, prefix, kind, journalKey, options, choice, onTable, brand, recorder }) {
  /**
   * `given`: a table the app handed to this flow (the Users grid's selected rows), planned in
   * place of the file or pasted rows until another file or paste is chosen (`forgetTable`).
   * `given.journalId` plans it with that journal (Resume: the interrupted run's), `given.origin`
   * says which run it retries, undoes or resumes; `recordId` is the Runs view's record of the
   * Apply running or last run, `cancelled` whether Cancel stopped it.
   * @type {{ run: FlowRun | null, plan: Plan | null, input: TableInput | null, id: string, applying: boolean, applied: boolean, lostAt: Date | null,
   *   given: { table: Table, source: string, description: string, sheetName?: string, journalId?: string, origin?: RunStart['origin'] } | null,
   *   recordId: string | null, cancelled: boolean }}
   */
  const state = { run: null, plan: null, input: null, id: '', applying: false, applied: false, lostAt: null, given: null, recordId: null, cancelled: false };
  /**
   * New attributes the administrator ticked for the table `id` (a plan creates none unless
   * ticked; another table starts with none ticked).
   * @type {{ id: string, names: Set<string> }}
   */
  const allowedNew = { id: '', names: new Set() };
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

  async function plan() {
    // A plan that fails (an unreadable file) leaves no older plan on screen either.
    invalidate();
    const given = state.given;
    const input = given
      ? { ...(await host.takeTable(prefix, kind, given.table, given.source, given.sheetName)), description: given.description, notes: [] }
      : await host.readTable(prefix, kind);
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
      run = await host.plan(kind, input, { options: kind === 'provision' ? { ...options(), newAttributes: [...allowedNew.names] } : options(), journal, roles },
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
    el('summary').textContent = `${rowCount} row${rowCount === 1 ? '' : 's'} from ${input.source}${how}: ${counts}.${chosen ? ` ${chosen}` : ''}`;
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
    const result = await host.writeColumns(input, columns, byRow, { failed, table, prefix });
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
   * (`journalId`: Resume) and the run it retries, undoes or resumes (`origin`).
   * @param {Table} table
   * @param {string} source
   * @param {string} description
   * @param {{ sheetName?: string, journalId?: string, origin?: RunStart['origin'] }} [how]
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
  return { ...actions, invalidate, forgetTable, refreshButtons, applying, error };
}
