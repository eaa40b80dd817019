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
 * @property {BlastRadius | null} [blast] What the plan would do to the brand (issue 25); absent
 *   from a core built before it, so read defensively.
 * @property {ProblemGroup[]} [problemGroups] Every problem, grouped by what it says.
 * @property {NewAttribute[]} [newAttributes] Provisioning: attribute columns no one in the brand
 *   has yet; one not allowed stops Apply.
 */

/**
 * Problems that say the same thing of different rows.
 * @typedef {object} ProblemGroup
 * @property {string} message What they say, without the row (values that differ as "…").
 * @property {string} column
 * @property {'error' | 'warning'} severity
 * @property {number[]} rows The rows they name (none for the sheet as a whole).
 * @property {string} first The first of them as it reads alone.
 */

/**
 * An attribute column no one in the brand has yet.
 * @typedef {object} NewAttribute
 * @property {string} column The sheet's column.
 * @property {string} name The attribute as it would be created.
 * @property {boolean} allowed Ticked (the plan's options allow creating it).
 */

/**
 * An account a plan touches, as the blast radius names it.
 * @typedef {object} TouchedAccount
 * @property {number} row
 * @property {string} [userId]
 * @property {string} [username]
 * @property {string} [name]
 * @property {string} [why] Why it is privileged ("Brand Administrator", "the credential's own account").
 * @property {string} [change]
 */

/**
 * A plan's blast radius, as the core computes it for every plan (`plan.blast`): what will
 * change, who loses access, the privileged accounts touched, the rows the policy refuses, and
 * whether the mass-change brake or the suspicious-file warning applies.
 * @typedef {object} BlastRadius
 * @property {number} rows Rows in the sheet.
 * @property {number} changes Rows that will send something.
 * @property {[string, number][]} counts `[label, rows]` per change.
 * @property {number} losesAccess Accounts that lose access (disabled, or expiring within a day).
 * @property {string[]} losesAccessSample Up to 10, "Jane Doe <jane@x.org> (jdoe@x.org)".
 * @property {number | null} activeAccounts The brand's active accounts, when read.
 * @property {number | null} losesAccessShare `losesAccess / activeAccounts`, 0..1.
 * @property {TouchedAccount[]} privileged Brand Administrators and the credential's own account touched.
 * @property {(TouchedAccount & { from?: string, to?: string })[]} adminTypeChanges User type to or from UT_BRANDADMIN.
 * @property {TouchedAccount[]} needsAdminAllowance Sent only when the approval allows admin changes.
 * @property {(TouchedAccount & { reason?: string })[]} refused Refused by the policy (never sent); the
 *   refusal in `why` (or `reason`).
 * @property {number} notFound
 * @property {number} problemRows
 * @property {number} unmatchedShare `(notFound + problemRows) / rows`.
 * @property {boolean} suspicious More than half the rows match nobody or have problems.
 * @property {string | null} warning What to say first when `suspicious`.
 * @property {{ needsConfirmation: boolean, accounts: number, share: number, message: string | null }} brake
 */

/**
 * What the administrator approved in the confirmation, passed to `apply`: whether other Brand
 * Administrators may be changed, and the number of accounts that lose access they typed (under
 * the mass-change brake; else null).
 * @typedef {object} Approval
 * @property {boolean} allowAdminChanges
 * @property {number | null} confirmedCount
 */

/**
 * A progress event of a run, a listing or a pull (fields a step does not have are absent).
 * @typedef {object} Progress
 * @property {string} phase
 * @property {number} total
 * @property {number} remaining
 * @property {number} done
 * @property {number} [unchanged]
 * @property {number} failed
 * @property {number} skipped
 * @property {number} requestsSent
 * @property {number} [retries] Requests sent again (no answer, 5xx, 429) so far in this phase.
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
 * @property {'done' | 'unchanged' | 'failed' | 'skipped' | 'refused'} status
 * @property {string[]} values In `outcomeColumns()` order.
 */

/**
 * A planned run as the flow uses it (run.js): in this thread, or in the page's worker behind a
 * Comlink proxy (whose methods all return promises; the flow awaits every one).
 * @typedef {object} FlowRun
 * @property {() => Plan | Promise<Plan>} plan
 * @property {(onProgress: OnProgress, approval: Approval) => Promise<unknown>} apply Sends the plan as
 *   approved; the core refuses ("Needs confirmation…"), sending nothing, what the approval does not cover.
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
