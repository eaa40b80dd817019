// Planning a sheet run and the run as the flow uses it, the same in the page's worker and in the
// Excel task pane's own thread: one place that picks the core's planner by kind, and one shape
// of run (FlowRun) whichever thread holds it. The full core module is loaded here on first use
// (`sheetsCore`): the page and the pane start with the console module (connect, list users).

/** @typedef {import('./pkg/qualtrics_roster.js').SheetKind} Kind */
/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./pkg/qualtrics_roster.js').PlanView} Plan */
/** @typedef {import('./pkg/qualtrics_roster.js').RosterClient} RosterClient */
/** @typedef {import('./worker.js').ConnectionSpec} ConnectionSpec */
/** @typedef {import('./pkg/qualtrics_roster.js').Sheet} Sheet */
/** @typedef {import('./pkg/qualtrics_roster.js').SheetRun} SheetRun */

/** @typedef {(progress: RunProgress) => void} OnProgress */
/** @typedef {import('./pkg/qualtrics_roster.js').RunProgress} RunProgress */
/** @typedef {import('./pkg/qualtrics_roster.js').OutcomeCells} OutcomeCells */
/** @typedef {import('./pkg/qualtrics_roster.js').ApprovalRequest} ApprovalRequest */

/**
 * A planned run as the flow uses it: in this thread, or in the page's worker behind a Comlink
 * proxy (whose methods all return promises; the flow awaits every one).
 * @typedef {object} FlowRun
 * @property {() => Plan | Promise<Plan>} plan
 * @property {(onProgress: OnProgress, approval: ApprovalRequest) => Promise<unknown>} apply Sends the
 *   plan as approved; the core refuses (a RosterError, code "needs-confirmation"), sending nothing,
 *   what the approval does not cover.
 * @property {() => void} cancel
 * @property {() => string[] | Promise<string[]>} outcomeColumns
 * @property {() => OutcomeCells[] | Promise<OutcomeCells[]>} outcomeRows
 * @property {() => Table | Promise<Table>} outcomeTable
 * @property {() => Table | Promise<Table>} beforeTable
 * @property {(maxRows: number) => Table | null | Promise<Table | null>} keptTable The whole input with
 *   its outcome columns beside it (password cells blank), for the Runs view to keep; null when it
 *   has more than `maxRows` rows.
 * @property {() => Table | Promise<Table>} auditTable
 * @property {() => string | Promise<string>} auditJsonl
 * @property {(which: 'outcomes' | 'plan') => string | Promise<string>} tableCsv A whole table as CSV.
 * @property {() => Promise<Uint8Array>} workbook The outcomes and the plan as .xlsx bytes.
 * @property {() => void} free
 */

/**
 * What a plan is made with, besides the table.
 * @typedef {object} PlanRequest
 * @property {Partial<import('./pkg/qualtrics_roster.js').SheetRequest>} options The kind's options.
 * @property {import('./pkg/qualtrics_roster.js').JournalEntry[]} journal Rows an interrupted run finished.
 * @property {Table | null} roles The Roles sheet (membership).
 */

/** @type {Promise<typeof import('./pkg/qualtrics_roster_xlsx.js')> | null} */
let xlsx = null;

/** @type {Promise<typeof import('./pkg/qualtrics_roster.js')> | null} */
let full = null;

/**
 * The full core module (reading files, planning and applying sheets, pulling membership),
 * loaded and started on first use; the console module the page and pane start with has none of
 * it. Every thread that plans calls this (the page's worker, the pane).
 */
export function sheetsCore() {
  full ??= import('./pkg/qualtrics_roster.js').then(async (mod) => {
    await mod.default();
    return mod;
  });
  return full;
}

/** @type {{ spec: ConnectionSpec | null, client: RosterClient | null }} */
let kept = { spec: null, client: null };

/**
 * A client of the full core module on the connection `spec` (the one the console's client
 * connected with, after any datacenter move), made once per connection in this thread. The
 * token stays in this module's memory, as in the console's.
 * @param {ConnectionSpec} spec
 * @returns {Promise<RosterClient>}
 */
export async function sheetsClient(spec) {
  const { RosterClient } = await sheetsCore();
  if (kept.spec === spec && kept.client) return kept.client;
  kept.client?.free();
  const client = spec.relay ? RosterClient.viaRelay(spec.url, spec.datacenter ?? '', spec.token) : RosterClient.direct(spec.url, spec.token);
  kept = { spec, client };
  return client;
}

/** Forgets this thread's full-module client, and the token it holds. */
export function forgetSheetsClient() {
  kept.client?.free();
  kept = { spec: null, client: null };
}

/** The workbook module (.xlsx read and write), loaded on first use. */
export function workbooks() {
  xlsx ??= import('./pkg/qualtrics_roster_xlsx.js').then(async (mod) => {
    await mod.default();
    return mod;
  });
  return xlsx;
}

/**
 * Plans `table` (a `{columns, rows, rowNumbers}` table, or a `Sheet` the core holds) as a `kind`
 * sheet: reads the brand through `client`, and resolves to the planned run.
 * @param {RosterClient} client
 * @param {Kind} kind
 * @param {Table | Sheet} table
 * @param {PlanRequest} request
 * @param {OnProgress} onProgress
 * @returns {Promise<SheetRun>}
 */
export async function planSheet(client, kind, table, { options, journal, roles }, onProgress) {
  return client.planSheet(kind, table, { ...options, journal }, roles ?? null, onProgress);
}

/**
 * The run as the flow uses it. `previewRows` cuts the plan and outcome tables shown (the page);
 * `tableCsv` and `workbook` always give whole tables. `transfer` marks bytes to move rather than
 * copy across a worker boundary.
 * @param {SheetRun} run
 * @param {{ previewRows?: number, transfer?: (bytes: Uint8Array) => Uint8Array }} [how]
 * @returns {FlowRun}
 */
export function flowRun(run, { previewRows, transfer = (bytes) => bytes } = {}) {
  /** @type {Record<'outcomes' | 'plan', () => Table>} */
  const whole = { outcomes: () => run.outcomeTable(), plan: () => run.plan().table };
  return {
    plan: () => run.plan(previewRows),
    // No `current` input to check against: the flow applies the plan it just made. `approval`
    // is what the administrator confirmed (a plain object, so it crosses the worker boundary as
    // a copy): the core sends nothing its policy needs and the approval does not give.
    apply: (onProgress, approval) => run.apply((/** @type {import('./pkg/qualtrics_roster.js').RunProgress} */ p) => { onProgress(p); }, null, {
      allowAdminChanges: approval?.allowAdminChanges === true,
      confirmedCount: typeof approval?.confirmedCount === 'number' ? approval.confirmedCount : null,
    }),
    cancel: () => run.cancel(),
    outcomeColumns: () => run.outcomeColumns(),
    outcomeRows: () => run.outcomeRows(),
    outcomeTable: () => run.outcomeTable(previewRows),
    beforeTable: () => run.beforeTable(),
    keptTable(maxRows) {
      const table = run.outcomeTable();
      return table.rows.length > maxRows ? null : table;
    },
    auditTable: () => run.auditTable(),
    auditJsonl: () => run.auditJsonl(),
    tableCsv: async (which) => (await sheetsCore()).tableToCsv(whole[which]()),
    async workbook() {
      const { writeWorkbook } = await workbooks();
      return transfer(writeWorkbook([{ name: 'Outcomes', table: whole.outcomes() }, { name: 'Plan', table: whole.plan() }], Date.now()));
    },
    free: () => run.free(),
  };
}

/**
 * Plans in this thread (the pane, whose table is in its memory): `planSheet` as a FlowRun.
 * @param {RosterClient} client
 * @param {Kind} kind
 * @param {Table} table
 * @param {PlanRequest} request
 * @param {OnProgress} onProgress
 * @returns {Promise<FlowRun>}
 */
export async function planRun(client, kind, table, request, onProgress) {
  return flowRun(await planSheet(client, kind, { columns: table.columns, rows: table.rows, rowNumbers: table.rowNumbers }, request, onProgress));
}
