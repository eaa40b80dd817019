// The lifecycle view: load a sheet of users, see the plan, apply it with a progress bar,
// see each row's outcome, and download outcomes, the undo file and the audit log.
// The plan, the executor and every message come from the WASM core.
import { $, show, renderTable, download } from './ui.js';
import * as host from './host/browser.js';

const JOURNAL_PREFIX = 'qualtrics-roster:journal:';

/** FNV-1a of the input text: which saved journal belongs to this sheet. */
function sheetId(text) {
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
    // Storage full or disabled: the run goes on; resuming will rely on the live state only.
  }
}

export function createLifecycleView({ getClient, lock }) {
  const state = { run: null, plan: null, input: null, applying: false };
  const el = {
    file: $('lc-file'), paste: $('lc-paste'), defaultAction: $('lc-default'),
    plan: $('lc-plan'), apply: $('lc-apply'), cancel: $('lc-cancel'),
    summary: $('lc-summary'), note: $('lc-note'), error: $('lc-error'),
    progressRow: $('lc-progress-row'), progress: $('lc-progress'), progressText: $('lc-progress-text'),
    downloads: $('lc-downloads'), table: $('lc-table'),
  };

  function refreshButtons() {
    const connected = !!getClient();
    el.plan.disabled = lock.busy || !connected;
    el.apply.disabled = lock.busy || !state.run || !state.plan?.changes || state.applied;
    el.apply.textContent = state.plan?.changes ? `Apply ${state.plan.changes} change${state.plan.changes === 1 ? '' : 's'}` : 'Apply';
    el.cancel.hidden = !state.applying;
    el.downloads.hidden = !state.applied;
  }

  function renderPlan() {
    const plan = state.plan;
    if (plan.fileError) {
      renderTable(el.table, null);
      throw new Error(plan.fileError);
    }
    const counts = plan.counts.map(([label, n]) => `${n} ${label}`).join(' · ');
    el.summary.textContent = `${state.input.rows.length} rows from ${state.input.source}: ${counts}.`;
    renderTable(el.table, plan.table, {
      rowKey: (i) => plan.rows[i].row,
      rowClass: (i) => (['invalid', 'not found'].includes(plan.table.rows[i][3]) ? 'row-failed' : ''),
    });
  }

  function renderOutcomes() {
    const outcomes = state.run.outcomes();
    const byRow = new Map(outcomes.map((o) => [o.row, o]));
    const table = {
      columns: [...state.plan.table.columns, 'Status', 'Result', 'Applied at'],
      rows: state.plan.table.rows.map((r, i) => {
        const o = byRow.get(state.plan.rows[i].row);
        return [...r, o?.status ?? '', o?.message ?? '', o?.appliedAt ?? ''];
      }),
    };
    renderTable(el.table, table, {
      rowKey: (i) => state.plan.rows[i].row,
      rowClass: (i) => (byRow.get(state.plan.rows[i].row)?.status === 'failed' ? 'row-failed' : ''),
    });
    const n = (s) => outcomes.filter((o) => o.status === s).length;
    el.summary.textContent = `Outcome: ${n('done')} done · ${n('unchanged')} unchanged · ${n('failed')} failed · ${n('skipped')} skipped.`;
  }

  async function plan() {
    state.run?.free();
    Object.assign(state, { run: null, plan: null, applied: false });
    show(el.note, '');
    renderTable(el.table, null);
    el.summary.textContent = '';
    state.input = await host.readTable({ fileInput: el.file, pasteArea: el.paste });
    state.id = sheetId(state.input.text);
    const journal = loadJournal(state.id);
    el.progressRow.hidden = false;
    el.progress.removeAttribute('value');
    el.progressText.textContent = 'Reading the brand\'s users…';
    try {
      state.run = await getClient().planLifecycle(
        { columns: state.input.columns, rows: state.input.rows, rowNumbers: state.input.rowNumbers },
        { defaultAction: el.defaultAction.value, journal },
        (p) => { el.progressText.textContent = `Reading the brand's users: ${p.usersSoFar}…`; },
      );
    } finally {
      el.progressRow.hidden = true;
    }
    state.plan = state.run.plan();
    if (journal.length) {
      show(el.note, `An earlier run of this sheet was interrupted: the ${journal.length} rows it finished are planned as unchanged. Apply to finish the rest.`);
    }
    renderPlan();
  }

  async function apply() {
    const journal = loadJournal(state.id);
    state.applying = true;
    refreshButtons();
    el.progressRow.hidden = false;
    el.progress.max = state.plan.changes;
    el.progress.value = 0;
    try {
      await state.run.apply((p) => {
        const finished = p.total - p.remaining;
        el.progress.value = finished;
        el.progressText.textContent = `${finished} of ${p.total}: ${p.done} done, ${p.failed} failed, ${p.skipped} skipped · ${p.ratePerSecond.toFixed(1)} requests/s`;
        if (p.journal.length) {
          journal.push(...p.journal);
          saveJournal(state.id, journal);
        }
        if (p.stopped) show(el.note, p.stopped);
      });
    } finally {
      state.applying = false;
      state.applied = true;
      el.progressRow.hidden = true;
      renderOutcomes();
    }
  }

  function cancel() {
    state.run?.cancel();
    el.progressText.textContent = 'Cancelling: waiting for the answers already on their way…';
  }

  function downloadOutcomes() {
    host.writeSheet('outcomes', state.run.outcomeTable());
  }
  function downloadBefore() {
    host.writeSheet('before-undo', state.run.beforeTable());
  }
  function downloadAudit() {
    download('audit.jsonl', state.run.auditJsonl(), 'application/x-ndjson');
  }

  return { plan, apply, cancel, downloadOutcomes, downloadBefore, downloadAudit, refreshButtons, el };
}
