// The lifecycle view, the same in the page and in the Excel task pane: read the user's table
// through the host, show the plan, apply it with a progress bar, write each row's outcome
// beside it, and offer the undo and audit sheets. Every decision and message comes from the
// WASM core; the host decides where tables are read from and written to.
import { $, show, messageOf } from './ui.js';

const JOURNAL_PREFIX = 'qualtrics-roster:journal:';

/** FNV-1a of the input's cells: which saved journal belongs to this table. */
function tableId(input) {
  const text = JSON.stringify([input.columns, input.rows]);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

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

export function createLifecycleView({ host, getClient, lock }) {
  const state = { run: null, plan: null, input: null, applying: false, applied: false };
  const el = {
    defaultAction: $('lc-default'), plan: $('lc-plan'), apply: $('lc-apply'), cancel: $('lc-cancel'),
    summary: $('lc-summary'), note: $('lc-note'), error: $('lc-error'), problems: $('lc-problems'),
    downloads: $('lc-downloads'),
  };

  function refreshButtons() {
    el.plan.disabled = lock.busy || !getClient();
    el.apply.disabled = lock.busy || !state.plan?.changes || state.applied;
    const n = state.plan?.changes ?? 0;
    el.apply.textContent = n ? `Apply ${n} change${n === 1 ? '' : 's'}` : 'Apply';
    el.cancel.hidden = !state.applying;
    el.downloads.hidden = !state.applied;
  }

  function listProblems(rows) {
    if (!el.problems) return;
    el.problems.replaceChildren(...rows.slice(0, 50).map((r) => {
      const li = document.createElement('li');
      li.textContent = r.message;
      return li;
    }));
    if (rows.length > 50) {
      const li = document.createElement('li');
      li.textContent = `…and ${rows.length - 50} more (see the Plan sheet).`;
      el.problems.append(li);
    }
  }

  async function plan() {
    state.run?.free();
    Object.assign(state, { run: null, plan: null, applied: false });
    show(el.note, '');
    el.summary.textContent = '';
    listProblems([]);
    state.input = await host.readTable();
    state.id = tableId(state.input);
    const journal = loadJournal(state.id);
    host.progress('lc-', { text: 'Reading the brand\'s users…' });
    try {
      state.run = await getClient().planLifecycle(
        { columns: state.input.columns, rows: state.input.rows, rowNumbers: state.input.rowNumbers },
        { defaultAction: el.defaultAction.value, journal },
        (p) => host.progress('lc-', { text: `Reading the brand's users: ${p.usersSoFar}…` }),
      );
    } finally {
      host.progress('lc-', { done: true });
    }
    const planned = state.run.plan();
    if (planned.fileError) throw new Error(planned.fileError);
    state.plan = planned;
    await host.writeSheet('Plan', planned.table, {
      activate: false,
      failedRows: new Set(planned.rows.filter((r) => r.action === 'invalid' || r.action === 'not found').map((r) => r.row)),
    });
    const counts = planned.counts.map(([label, n]) => `${n} ${label}`).join(' · ');
    el.summary.textContent = `${state.input.rows.length} rows from ${state.input.source}: ${counts}.`;
    listProblems(planned.rows.filter((r) => r.action === 'invalid' || r.action === 'not found'));
    if (journal.length) {
      show(el.note, `An earlier run of this sheet was interrupted: the ${journal.length} rows it finished are planned as unchanged. Apply to finish the rest.`);
    }
  }

  async function apply() {
    const journal = loadJournal(state.id);
    state.applying = true;
    refreshButtons();
    host.progress('lc-', { value: 0, max: state.plan.changes, text: 'Sending…' });
    try {
      await state.run.apply((p) => {
        const finished = p.total - p.remaining;
        host.progress('lc-', {
          value: finished,
          max: p.total,
          text: `${finished} of ${p.total}: ${p.done} done, ${p.failed} failed, ${p.skipped} skipped · ${p.ratePerSecond.toFixed(1)} requests/s`,
        });
        if (p.journal.length) {
          journal.push(...p.journal);
          saveJournal(state.id, journal);
        }
        if (p.stopped) show(el.note, p.stopped);
      });
    } finally {
      state.applying = false;
      state.applied = true;
      host.progress('lc-', { done: true });
    }
    await writeOutcomes();
  }

  async function writeOutcomes() {
    const outcomes = state.run.outcomes();
    const byRow = new Map(outcomes.map((o) => [o.row, [o.status, o.message, o.userId, o.appliedAt]]));
    const failed = new Set(outcomes.filter((o) => o.status === 'failed').map((o) => o.row));
    const n = (s) => outcomes.filter((o) => o.status === s).length;
    el.summary.textContent = `Outcome: ${n('done')} done · ${n('unchanged')} unchanged · ${n('failed')} failed · ${n('skipped')} skipped.`;
    const table = state.run.outcomeTable();
    const result = await host.writeColumns(state.input, state.run.outcomeColumns(), byRow, { failed, table });
    if (result.where) el.summary.textContent += ` Written beside your rows in "${result.where}".`;
    if (result.notWritten.length) {
      // Nothing is lost: every outcome also goes to an Outcomes sheet.
      await host.writeSheet('Outcomes', table);
      show(el.note, `Rows ${result.notWritten.join(', ')} were edited or removed after the plan, so their outcomes were not written beside them; every row's outcome is in the Outcomes sheet.`);
    }
  }

  function cancel() {
    state.run?.cancel();
    host.progress('lc-', { text: 'Cancelling: waiting for the answers already on their way…' });
  }

  async function writeBefore() {
    await host.writeSheet('Before (undo)', state.run.beforeTable());
  }

  async function writeAudit() {
    if (host.saveAudit) host.saveAudit(state.run.auditJsonl());
    else await host.writeSheet('Audit', state.run.auditTable());
  }

  async function downloadOutcomes() {
    host.downloadSheet('Outcomes', 'outcomes.csv');
  }

  return { plan, apply, cancel, writeBefore, writeAudit, downloadOutcomes, refreshButtons, el, messageOf };
}
