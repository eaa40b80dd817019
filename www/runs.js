// The Runs view (issue 29.5): every Apply of this device, in the page and in the Excel pane,
// kept in this origin's IndexedDB (runs-store.js), and the server's hook runs (read-only).
// Each run says its kind, when, by whom, its counts and a status that tells done from partly
// failed, cancelled and interrupted; offers its per-row results, "Retry failed rows" (a sheet of
// just the rows that failed or were not sent), "Undo this run" (lifecycle: its before-state as a
// sheet) and, for a run a reload or a closed window interrupted, "Resume" (its rows planned again
// with its journal, so the rows it finished are not sent again). Each of those only plans, in the
// kind's own view, through the same plan, blast radius, policy and confirmation as a file:
// nothing is sent until the administrator applies and confirms there.
//
// A run is "sending" in the store while it applies, and its window holds a Web Lock named after
// it: a record still sending that no window holds a lock for was interrupted (the lock goes with
// the window). Excel on the web reloads idle add-ins silently; the pane then shows the run
// interrupted and offers Resume.
import { $, show, messageOf, guarded } from './ui.js';
import { formatNumber, formatTime } from './format.js';
import { tone } from './grid.js';
import { listRuns, putRun, updateRun, removeRun, MAX_RUNS, MAX_KEPT_ROWS } from './runs-store.js';

/** @typedef {import('./runs-store.js').RunRecord} RunRecord */
/** @typedef {import('./runs-store.js').RunStatus} RunStatus */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./flow.js').RunRecorder} RunRecorder */
/** @typedef {ReturnType<typeof import('./flow.js').createFlowView>} Flow */
/** @typedef {import('./automations.js').HookEvent} HookEvent */
/** @typedef {'lifecycle' | 'provision' | 'membership'} Kind */

/** Where a table planned from a run came from, as its plan's summary says. */
export const RUNS_SOURCE = 'the Runs view';
const LOCK_PREFIX = 'qualtrics-roster:run:';

/** Each kind's name (as the Runs view and a user's details name its runs) and view. */
/** @type {Record<Kind, { name: string, view: 'lifecycle' | 'provision' | 'membership' }>} */
export const RUN_KINDS = {
  lifecycle: { name: 'Disable · enable · expire', view: 'lifecycle' },
  provision: { name: 'Create users', view: 'provision' },
  membership: { name: 'Groups and roles', view: 'membership' },
};

/** Why a kind has no Undo here. */
/** @type {Partial<Record<Kind, string>>} */
const NO_UNDO = {
  provision: 'An account cannot be un-created here (Qualtrics deletes no accounts through this app): disable the accounts in Disable · enable · expire instead.',
  membership: 'No before-state is kept for group and role changes: plan the reverse (Member yes and no swapped) in Groups and roles.',
};

/**
 * Why a kind's rows cannot be planned again from what is kept: provisioning rows need their
 * passwords, which are never kept (the kept table has them blank).
 * @type {Partial<Record<Kind, string>>}
 */
const NOT_KEPT = {
  provision: 'passwords are never kept on this device: plan the same sheet again (its journal skips the rows already done)',
};

/** A status's badge tone. */
/** @type {Record<RunStatus, string>} */
const STATUS_TONE = { sending: 'update', done: 'add', 'partly failed': 'bad', cancelled: 'none', interrupted: 'expiry' };

const plural = (/** @type {number} */ n, /** @type {string} */ word) => `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;

/** The input columns of a kept table (the outcomes come after them), with the rows `keep` says. */
function inputSheet(/** @type {RunRecord} */ record, /** @type {(rowNumber: number) => boolean} */ keep) {
  const table = record.table;
  if (!table) return null;
  const numbers = table.rowNumbers ?? [];
  const columns = table.columns.slice(0, record.width);
  /** @type {string[][]} */
  let rows = [];
  table.rows.forEach((row, i) => { if (keep(numbers[i] ?? i + 2)) rows.push(row.slice(0, record.width)); });
  // A lifecycle sheet planned with "Rows without an Action: …" says so in each row, so what
  // is planned again does not hang on the choice shown now.
  if (record.kind === 'lifecycle' && record.defaultAction) {
    let action = columns.findIndex((c) => c.trim().toLowerCase() === 'action');
    if (action < 0) {
      columns.push('Action');
      action = columns.length - 1;
      rows = rows.map((r) => [...r, '']);
    }
    rows = rows.map((r) => (r[action]?.trim() ? r : Object.assign([...r], { [action]: record.defaultAction })));
  }
  return { columns, rows };
}

/**
 * The view. `flows` plan what Retry, Undo and Resume make; `whoAmI()` names the connection
 * (null before connecting); `hooks` reads the server's hook events (null when it has none).
 * @param {{ where: 'page' | 'pane', lock: import('./ui.js').Lock, flows: Record<Kind, Flow>,
 *   open: (view: Kind) => void, connected: () => boolean, whoAmI: () => { by: string, brand: string | null } | null,
 *   hooks: { available: () => Promise<boolean>, events: () => Promise<HookEvent[]> } }} parts
 */
export function createRunsView({ where, lock, flows, open, connected, whoAmI, hooks }) {
  const list = $('rn-list');
  const error = $('rn-error');
  /** Releases of the Web Locks this window holds, by run id. */
  /** @type {Map<string, () => void>} */
  const held = new Map();
  /** @type {RunRecord[]} */
  let runs = [];
  /** Runs found interrupted by the last read (they were sending when their window went). */
  /** @type {RunRecord[]} */
  let justInterrupted = [];

  /** Holds the run's lock until `release` (resolves once granted; at once without Web Locks). */
  function hold(/** @type {string} */ id) {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) return Promise.resolve();
    return new Promise((granted) => {
      locks.request(LOCK_PREFIX + id, () => new Promise((release) => {
        held.set(id, () => release(undefined));
        granted(undefined);
      })).catch(() => granted(undefined));
    });
  }

  function release(/** @type {string} */ id) {
    held.get(id)?.();
    held.delete(id);
  }

  /** The runs some window is sending now (this one's, and those whose lock another holds). */
  async function live() {
    const names = new Set(held.keys());
    try {
      const state = await navigator.locks?.query();
      for (const l of state?.held ?? []) if (l.name?.startsWith(LOCK_PREFIX)) names.add(l.name.slice(LOCK_PREFIX.length));
    } catch {
      // No Web Locks: only this window's runs count as sending.
    }
    return names;
  }

  /** @type {RunRecorder} */
  const recorder = {
    async start(r) {
      try {
        const id = globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
        await hold(id);
        const who = whoAmI();
        /** @type {RunRecord} */
        const record = {
          id,
          kind: r.kind,
          where,
          startedAt: Date.now(),
          endedAt: null,
          by: who?.by ?? '',
          brand: who?.brand ?? null,
          source: r.source,
          rowCount: r.rowCount,
          changes: r.changes,
          status: 'sending',
          counts: null,
          journalId: r.journalId,
          width: r.width,
          table: r.table,
          failedRows: [],
          before: null,
          defaultAction: typeof r.options.defaultAction === 'string' ? r.options.defaultAction : '',
          origin: r.origin,
          resumedBy: null,
        };
        await putRun(record);
        if (r.origin?.what === 'resume') await updateRun(r.origin.of, { resumedBy: id });
        await refresh();
        return id;
      } catch (err) {
        show(error, `This run is not kept in Runs: ${messageOf(err)}`);
        return null;
      }
    },
    async finish(id, end) {
      try {
        const c = end.counts;
        /** @type {RunStatus} */
        const status = end.cancelled ? 'cancelled' : c.failed + c.skipped > 0 ? 'partly failed' : 'done';
        await updateRun(id, {
          status,
          endedAt: Date.now(),
          counts: c,
          failedRows: end.failedRows,
          // A run too big to keep whole keeps its counts (its table was dropped at the start too).
          table: end.table,
          before: end.before,
        });
      } catch (err) {
        show(error, `This run's end was not kept in Runs: ${messageOf(err)}`);
      } finally {
        release(id);
      }
      await refresh();
    },
    async drop(id) {
      release(id);
      await removeRun(id).catch(() => {});
      await refresh();
    },
  };

  /** Reads the runs again; a run still sending that no window sends is interrupted from now. */
  async function refresh() {
    try {
      const all = await listRuns();
      const sending = await live();
      justInterrupted = [];
      for (const r of all) {
        if (r.status === 'sending' && !sending.has(r.id)) {
          r.status = 'interrupted';
          await updateRun(r.id, { status: 'interrupted' });
          justInterrupted.push(r);
        }
      }
      runs = all;
    } catch (err) {
      show(error, messageOf(err));
    }
    draw();
  }

  const word = (/** @type {RunRecord} */ r) => `${RUN_KINDS[r.kind]?.name ?? r.kind} run of ${formatTime(r.startedAt, { date: true })}`;

  /** Plans `table` in the kind's view, as the Users grid's actions do. */
  async function planIn(/** @type {RunRecord} */ r, /** @type {{ columns: string[], rows: string[][] } | null} */ table, /** @type {string} */ description, /** @type {{ sheetName: string, journalId?: string, origin: { what: 'retry' | 'undo' | 'resume', of: string } }} */ how) {
    if (!connected()) throw new Error('Connect first (to the brand this run changed): the rows are planned against what Qualtrics has now.');
    if (!table || !table.rows.length) throw new Error('This run kept no rows to plan.');
    const kind = /** @type {Kind} */ (how.origin.what === 'undo' ? 'lifecycle' : r.kind);
    const flow = flows[kind];
    open(RUN_KINDS[kind].view);
    show(flow.error, '');
    try {
      await flow.planTable(table, RUNS_SOURCE, description, how);
    } catch (err) {
      show(flow.error, messageOf(err));
    }
  }

  const actions = {
    async results(/** @type {RunRecord} */ r, /** @type {import('./host/host.js').Host} */ host) {
      if (!r.table) throw new Error(`This run had more than ${formatNumber(MAX_KEPT_ROWS)} rows: only its counts are kept.`);
      await host.writeSheet('Run results', r.table);
    },
    retry: (/** @type {RunRecord} */ r) => {
      const failed = new Set(r.failedRows);
      return planIn(r, inputSheet(r, (n) => failed.has(n)), `${plural(failed.size, 'failed or not-sent row')} of the ${word(r)}`, { sheetName: 'Retry', origin: { what: 'retry', of: r.id } });
    },
    undo: (/** @type {RunRecord} */ r) => planIn(r, r.before, `undo of the ${word(r)}: each account as it was before`, { sheetName: 'Undo', origin: { what: 'undo', of: r.id } }),
    resume: (/** @type {RunRecord} */ r) => planIn(r, inputSheet(r, () => true), `resuming the interrupted ${word(r)}: the rows it finished are unchanged`, { sheetName: 'Resume', journalId: r.journalId, origin: { what: 'resume', of: r.id } }),
  };

  /** @type {import('./host/host.js').Host | null} */
  let host = null;

  function draw() {
    $('rn-count').textContent = runs.length
      ? `${plural(runs.length, 'run')} on this device (the last ${MAX_RUNS} are kept).`
      : 'No runs on this device yet: each Apply is listed here.';
    list.replaceChildren(...runs.map(item));
  }

  /** One run: what, when, who, its counts and status, and what can be done with it. */
  function item(/** @type {RunRecord} */ r) {
    const li = document.createElement('li');
    li.className = 'run';
    li.dataset.run = r.id;
    li.dataset.status = r.status;
    li.dataset.kind = r.kind;
    const head = document.createElement('p');
    head.className = 'run-head';
    const badge = Object.assign(document.createElement('span'), { className: `badge tone-${STATUS_TONE[r.status] ?? 'none'}`, textContent: r.status === 'sending' ? 'sending (another window)' : r.status });
    const title = Object.assign(document.createElement('b'), { textContent: RUN_KINDS[r.kind]?.name ?? r.kind });
    const origin = r.origin ? ` · ${r.origin.what} of an earlier run` : '';
    head.append(badge, ' ', title, ` · ${formatTime(r.startedAt, { date: true })}${r.by ? ` · by ${r.by}` : ''}${r.brand ? ` · brand ${r.brand}` : ''} · ${r.where === 'pane' ? 'Excel' : 'page'}${origin}`);
    const what = document.createElement('p');
    what.className = 'muted run-counts';
    const c = r.counts;
    const counts = c
      ? [`${formatNumber(c.done)} done`, `${formatNumber(c.unchanged)} unchanged`, `${formatNumber(c.failed)} failed`, ...(c.refused ? [`${formatNumber(c.refused)} refused by policy`] : []), `${formatNumber(c.skipped)} not sent`].join(' · ')
      : r.status === 'sending' ? `sending ${plural(r.changes, 'change')}` : `${plural(r.changes, 'change')} planned; stopped before its outcomes were known`;
    what.textContent = `${plural(r.rowCount, 'row')} from ${r.source}: ${counts}.`;
    li.append(head, what);
    if (r.status === 'sending') return li;

    const bar = document.createElement('div');
    bar.className = 'actions';
    const notes = document.createElement('ul');
    notes.className = 'notes run-why';
    /** A button for `act`, or disabled with why (read with it by screen readers). */
    const button = (/** @type {string} */ label, /** @type {keyof typeof actions} */ act, /** @type {string} */ why = '') => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.act = act;
      if (why) {
        b.disabled = true;
        const note = Object.assign(document.createElement('li'), { id: `rn-why-${act}-${r.id}`, textContent: `${label}: ${why}` });
        notes.append(note);
        b.setAttribute('aria-describedby', note.id);
      } else {
        b.addEventListener('click', guarded(lock, error, async () => {
          if (act === 'results') {
            if (host) await actions.results(r, host);
          } else {
            await actions[act](r);
          }
        }));
      }
      bar.append(b);
      return b;
    };
    if (r.status === 'interrupted') {
      const why = r.resumedBy ? `resumed already (${runs.find((x) => x.id === r.resumedBy) ? 'see the newer run' : 'that run is no longer kept'})`
        : NOT_KEPT[r.kind] ?? (!r.table ? `its rows were not kept (more than ${formatNumber(MAX_KEPT_ROWS)}): plan the same sheet again; its journal skips the rows it finished` : '');
      const b = button('Resume', 'resume', why);
      if (!why) b.className = 'primary';
    }
    button('Results', 'results', r.table ? '' : `more than ${formatNumber(MAX_KEPT_ROWS)} rows: only the counts are kept`);
    if (r.status !== 'interrupted') {
      const failed = r.failedRows.length;
      button('Retry failed rows', 'retry', !failed ? 'no row failed or was left unsent' : NOT_KEPT[r.kind] ?? (!r.table ? 'its rows were not kept' : ''));
    }
    const undoWhy = NO_UNDO[r.kind]
      ?? (r.status === 'interrupted' ? 'resume it first: its before-state is known once it ends' : !r.before?.rows.length ? 'this run changed no account, so there is nothing to undo' : '');
    button('Undo this run', 'undo', undoWhy);
    li.append(bar);
    if (notes.childElementCount) li.append(notes);
    return li;
  }

  /** The server's hook runs, read-only, when it has hooks and the connection may see them. */
  async function drawHooks() {
    const note = $('rn-hooks-note');
    const items = $('rn-hooks');
    items.replaceChildren();
    if (!(await hooks.available().catch(() => false))) {
      note.textContent = 'This server runs no hooks: only the runs of this device are listed.';
      return;
    }
    if (!connected()) {
      note.textContent = 'Connect to see the runs of this server\'s hooks.';
      return;
    }
    try {
      const events = await hooks.events();
      note.textContent = events.length ? `The last ${plural(events.length, 'event')} the server's hooks received (read-only: steer them in Automations).` : 'The server\'s hooks have received no event yet.';
      items.replaceChildren(...events.map((e) => {
        const li = document.createElement('li');
        li.className = 'run';
        li.dataset.event = e.id;
        const head = document.createElement('p');
        head.className = 'run-head';
        head.append(
          Object.assign(document.createElement('span'), { className: `badge tone-${tone(e.status)}`, textContent: e.status }), ' ',
          Object.assign(document.createElement('span'), { className: 'badge tone-none', textContent: 'hook' }), ' ',
          Object.assign(document.createElement('b'), { textContent: e.hook }),
          ` · ${formatTime(e.receivedAt, { date: true })}${e.senderId ? ` · by ${e.senderId}` : ''}`,
        );
        const what = Object.assign(document.createElement('p'), { className: 'muted run-counts', textContent: `${e.action ?? 'change'} ${e.user ?? ''}${e.outcome?.message || e.reason ? `: ${e.reason ?? e.outcome?.message}` : ''}` });
        li.append(head, what);
        return li;
      }));
    } catch (err) {
      note.textContent = `The server's hook runs could not be read: ${messageOf(err)}`;
    }
  }

  return {
    recorder,
    /** Reads the runs (and the hook runs) again: on opening the view. */
    async refresh() {
      await refresh();
      await drawHooks();
    },
    /** The host, once the core has loaded (Results writes through it). */
    setHost(/** @type {import('./host/host.js').Host} */ h) { host = h; },
    /**
     * Reads the runs as the app starts. True when a run of this host was found interrupted (its
     * window reloaded or closed while sending; Excel on the web reloads idle add-ins): the app
     * then opens Runs, where it is shown with Resume.
     */
    async start() {
      await refresh();
      const interrupted = justInterrupted.filter((r) => r.table && r.where === where);
      if (!interrupted.length) return false;
      show($('rn-note'), `The ${word(interrupted[0])} was interrupted while sending (the ${where === 'pane' ? 'add-in was reloaded' : 'page was closed or reloaded'}). Connect, then press Resume: the rows it finished are not sent again.`);
      return true;
    },
  };
}
