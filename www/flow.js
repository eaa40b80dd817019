// A sheet flow, the same in the page and the Excel task pane, for every kind of run
// (lifecycle, provisioning): read the user's table through the host, plan (nothing sent),
// write the Plan sheet, apply with a progress bar, write each row's outcome beside it, and
// offer the undo and audit sheets. Every decision and message comes from the WASM core.
// Elements are found by `prefix` (`lc-` for lifecycle, `pv-` for provisioning).
import { $, show } from './ui.js';

const JOURNAL_PREFIX = 'qualtrics-roster:journal:';

function loadJournal(id) {
  try {
    return JSON.parse(localStorage.getItem(JOURNAL_PREFIX + id) ?? '[]');
  } catch {
    return [];
  }
}

function saveJournal(id, entries) {
  try {
    localStorage.setItem(JOURNAL_PREFIX + id, JSON.stringify(entries));
  } catch {
    // Storage full or off: the run goes on; a resume then relies on the live state alone.
  }
}

const PHASES = { changes: 'Sending', accounts: 'Accounts', 'checking accounts': 'Accounts (checking lost answers)', 'accounts (retry)': 'Accounts (retry)', directory: 'Directory', attributes: 'Attributes', groups: 'Groups', roles: 'Roles (attributes)' };

/**
 * `planRun(client, table, journal, onProgress)` plans and resolves to a run object with
 * plan(), apply(onProgress), cancel(), outcomeColumns(), outcomeRows(), outcomeTable(),
 * auditJsonl(), auditTable() and, for lifecycle runs, beforeTable().
 */
export function createFlowView({ host, getClient, lock, prefix, kind, journalKey, planRun }) {
  const state = { run: null, plan: null, input: null, applying: false, applied: false };
  const el = (name) => $(`${prefix}${name}`);
  const error = el('error');

  function refreshButtons() {
    el('plan').disabled = lock.busy || !getClient();
    el('apply').disabled = lock.busy || !state.plan?.changes || state.applied;
    const n = state.plan?.changes ?? 0;
    el('apply').textContent = n ? `Apply ${n} change${n === 1 ? '' : 's'}` : 'Apply';
    el('cancel').hidden = !state.applying;
    el('downloads').hidden = !state.applied;
  }

  /** Lists the first 50 messages; `total` counts them all when only some were sent. */
  function listProblems(messages, total = messages.length) {
    const list = el('problems');
    if (!list) return;
    list.replaceChildren(...messages.slice(0, 50).map((m) => {
      const li = document.createElement('li');
      li.textContent = m;
      return li;
    }));
    const shown = Math.min(messages.length, 50);
    if (total > shown) {
      const li = document.createElement('li');
      li.textContent = `…and ${total - shown} more (see the Plan sheet).`;
      list.append(li);
    }
  }

  /**
   * Forgets the plan: the file, the pasted rows, an option or the connection changed, so the
   * plan shown is no longer what Apply would send. Apply is disabled and the plan table
   * cleared. (A running apply goes on: it sends exactly the plan it started with.)
   */
  function invalidate() {
    if (state.applying) return;
    state.run?.free();
    Object.assign(state, { run: null, plan: null, applied: false });
    show(el('note'), '');
    el('summary').textContent = '';
    listProblems([]);
    const table = el('table');
    table?.querySelector('thead')?.replaceChildren();
    table?.querySelector('tbody')?.replaceChildren();
    refreshButtons();
  }

  async function plan() {
    // A plan that fails (an unreadable file) leaves no older plan on screen either.
    invalidate();
    state.input = await host.readTable(prefix, kind);
    // The core's key for this table's journal (the worker computed it for a file it holds).
    state.id = state.input.id ?? journalKey(kind, { columns: state.input.columns, rows: state.input.rows, rowNumbers: state.input.rowNumbers });
    const journal = loadJournal(state.id);
    host.progress(prefix, { text: 'Reading the brand\'s users…' });
    try {
      state.run = await planRun(
        getClient(),
        state.input,
        journal,
        (p) => host.progress(prefix, { text: `Reading the brand (${p.phase}): ${p.itemsRead ?? p.total - p.remaining} read, ${p.requestsSent} requests…` }),
      );
    } finally {
      host.progress(prefix, { done: true });
    }
    const planned = await state.run.plan();
    if (planned.fileError) throw new Error(planned.fileError);
    state.plan = planned;
    await host.writeSheet('Plan', planned.table, { activate: false, failedRows: new Set(planned.problemRows), prefix });
    const counts = planned.counts.map(([label, n]) => `${n} ${label}`).join(' · ');
    const rowCount = state.input.rowCount ?? state.input.rows.length;
    const how = state.input.description ? ` (${state.input.description})` : '';
    el('summary').textContent = `${rowCount} row${rowCount === 1 ? '' : 's'} from ${state.input.source}${how}: ${counts}.`;
    const notes = state.input.notes ?? [];
    listProblems([...notes, ...planned.problems], notes.length + (planned.problemCount ?? planned.problems.length));
    if (journal.length) {
      show(el('note'), `An earlier run of this sheet was interrupted: the ${journal.length} rows it finished are planned as unchanged. Apply to finish the rest.`);
    }
  }

  async function apply() {
    const journal = loadJournal(state.id);
    state.applying = true;
    refreshButtons();
    host.progress(prefix, { value: 0, max: state.plan.changes, text: 'Sending…' });
    try {
      await state.run.apply((host.callback ?? ((f) => f))((p) => {
        const finished = p.total - p.remaining;
        host.progress(prefix, {
          value: finished,
          max: p.total,
          text: `${PHASES[p.phase] ?? p.phase}: ${finished} of ${p.total}, ${p.done} done, ${p.failed} failed, ${p.skipped} skipped · ${p.ratePerSecond.toFixed(1)} requests/s`,
        });
        if (p.journal.length) {
          journal.push(...p.journal);
          saveJournal(state.id, journal);
        }
        if (p.stopped) show(el('note'), p.stopped);
      }));
    } finally {
      state.applying = false;
      state.applied = true;
      host.progress(prefix, { done: true });
    }
    await writeOutcomes();
  }

  async function writeOutcomes() {
    const rows = await state.run.outcomeRows();
    const byRow = new Map(rows.map((o) => [o.row, o.values]));
    const failed = new Set(rows.filter((o) => o.status === 'failed').map((o) => o.row));
    const n = (s) => rows.filter((o) => o.status === s).length;
    const table = await state.run.outcomeTable();
    const result = await host.writeColumns(state.input, await state.run.outcomeColumns(), byRow, { failed, table, prefix });
    // The summary comes last: when it shows, the outcomes are in place.
    el('summary').textContent = `Outcome: ${n('done')} done · ${n('unchanged')} unchanged · ${n('failed')} failed · ${n('skipped')} skipped.`
      + (result.where ? ` Written beside your rows in "${result.where}".` : '');
    if (result.notWritten.length) {
      // Nothing is lost: every outcome also goes to an Outcomes sheet.
      await host.writeSheet('Outcomes', table, { prefix });
      show(el('note'), `Rows ${result.notWritten.join(', ')} were edited or removed after the plan, so their outcomes were not written beside them; every row's outcome is in the Outcomes sheet.`);
    }
  }

  function cancel() {
    state.run?.cancel();
    host.progress(prefix, { text: 'Cancelling: waiting for the answers already on their way…' });
  }

  const actions = {
    plan,
    apply,
    cancel,
    async writeBefore() { await host.writeSheet('Before (undo)', await state.run.beforeTable()); },
    async writeAudit() {
      if (host.saveAudit) host.saveAudit(await state.run.auditJsonl());
      else await host.writeSheet('Audit', await state.run.auditTable());
    },
    /** Every row's outcome beside the input, as CSV (whole, even when the page shows a preview). */
    async downloadOutcomes() {
      if (state.input.ref) host.download('outcomes.csv', await state.run.tableCsv('outcomes'));
      else host.downloadSheet(`${prefix}Outcomes`, 'outcomes.csv');
    },
    /** The outcomes and the plan as one Excel workbook (browser-only mode). */
    async downloadWorkbook() {
      host.download('outcomes.xlsx', await state.run.workbook(), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    },
  };
  return { ...actions, invalidate, refreshButtons, error };
}
