// The shapes the JavaScript relies on from the WASM core, as JSDoc types for `tsc --checkJs`.
// The generated declarations (pkg/qualtrics_roster.d.ts) type most of these as `any`; the
// names here say what the page, the pane and the worker read from them. Types only: nothing
// imports this file at run time.

/** @typedef {'lifecycle' | 'provision' | 'membership'} Kind A kind of sheet run. */

/**
 * A table as the core reads and writes it: a header and rows of text.
 * @typedef {object} Table
 * @property {string[]} columns
 * @property {string[][]} rows
 * @property {number[]} [rowNumbers] Each row's number in its sheet or file.
 * @property {number} [totalRows] How many rows the whole table has, when `rows` is a preview.
 */

/**
 * A file or pasted text read by the core: `readCsv`, `readFile`, `readWorkbook`.
 * @typedef {Table & { description?: string, notes?: string[], sheets?: string[], sheet?: string | null }} ReadTable
 */

/**
 * A plan, as `SheetRun.plan()` gives it.
 * @typedef {object} Plan
 * @property {[string, number][]} counts `[label, rows]` per kind of change.
 * @property {string | null} [fileError] The sheet cannot be planned at all.
 * @property {number} changes Changes Apply would send.
 * @property {Table} table The Plan sheet.
 * @property {string[]} problems
 * @property {number[]} problemRows
 * @property {number} [problemCount] How many problems in all, when `problems` is a preview.
 */

/**
 * A progress event of a run, a listing or a pull (fields a step does not have are absent).
 * @typedef {object} Progress
 * @property {string} phase
 * @property {number} total
 * @property {number} remaining
 * @property {number} done
 * @property {number} failed
 * @property {number} skipped
 * @property {number} requestsSent
 * @property {number} ratePerSecond
 * @property {number} [itemsRead]
 * @property {number} [pagesRead]
 * @property {boolean} [finished]
 * @property {unknown[]} journal Rows finished since the last event (kept to resume).
 * @property {string | null} [stopped] Why the run stopped early.
 */

/** @typedef {(progress: Progress) => void} OnProgress */

/**
 * One row's outcome.
 * @typedef {object} OutcomeRow
 * @property {number} row The row's number in its sheet.
 * @property {'done' | 'unchanged' | 'failed' | 'skipped'} status
 * @property {string[]} values In `outcomeColumns()` order.
 */

/**
 * A planned run as the flow uses it (run.js): in this thread, or in the page's worker behind a
 * Comlink proxy (whose methods all return promises; the flow awaits every one).
 * @typedef {object} FlowRun
 * @property {() => Plan | Promise<Plan>} plan
 * @property {(onProgress: OnProgress) => Promise<unknown>} apply
 * @property {() => void} cancel
 * @property {() => string[] | Promise<string[]>} outcomeColumns
 * @property {() => OutcomeRow[] | Promise<OutcomeRow[]>} outcomeRows
 * @property {() => Table | Promise<Table>} outcomeTable
 * @property {() => Table | Promise<Table>} beforeTable
 * @property {() => Table | Promise<Table>} auditTable
 * @property {() => string | Promise<string>} auditJsonl
 * @property {(which: 'outcomes' | 'plan') => string | Promise<string>} tableCsv A whole table as CSV.
 * @property {() => Promise<Uint8Array>} workbook The outcomes and the plan as .xlsx bytes.
 * @property {() => void} free
 */

/**
 * What a plan is made with, besides the table.
 * @typedef {object} PlanRequest
 * @property {Record<string, unknown>} options The kind's options (`defaultAction`, `route`, `filter`…).
 * @property {unknown[]} journal Rows an interrupted run finished.
 * @property {Table | null} roles The Roles sheet (membership).
 */

/**
 * Where and how to connect: `{url, token}` (the sandbox) or `{relay: true, url, datacenter, token}`.
 * @typedef {object} ConnectionSpec
 * @property {boolean} [relay]
 * @property {string} url
 * @property {string} [datacenter]
 * @property {string} token
 * @property {boolean} [bearer] An OAuth access token (sent as `Authorization: Bearer`), not an API token.
 */

export {};
