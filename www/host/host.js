// The Host: what the app (app.js) and the sheet flows (flow.js) ask of where they run. The page
// (host/browser.js) and the Excel task pane (host/excel.js) each implement every member; a
// member that means little to one of them does that host's natural thing, so the app never asks
// which host it has. Types only: nothing imports this file at run time.

/** @typedef {import('../pkg/qualtrics_roster.js').SheetKind} Kind */
/** @typedef {import('../pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('../run.js').FlowRun} FlowRun */
/** @typedef {import('../run.js').PlanRequest} PlanRequest */
/** @typedef {import('../run.js').OnProgress} OnProgress */
/** @typedef {import('../worker.js').ConnectionSpec} ConnectionSpec */

/**
 * A long step's progress, shown in the view's progress row (ui.js showProgress): `value` and
 * `max` for a bar, neither for an indeterminate one; `done` hides the row.
 * @typedef {object} ProgressState
 * @property {number} [value]
 * @property {number} [max]
 * @property {string} [text]
 * @property {boolean} [done]
 */

/**
 * The table a flow plans, as a host read it. The page's worker keeps the rows and gives `ref`
 * and `id`; the pane gives `rows` and `rowNumbers` (and its own fields: where the rows are).
 * @typedef {object} TableInput
 * @property {string[]} columns
 * @property {string} source Where the rows came from, for the summary ("staff.csv", "Sheet1!A1:C42").
 * @property {string[][]} [rows]
 * @property {number[]} [rowNumbers]
 * @property {number} [rowCount] How many rows, when `rows` is not here.
 * @property {number} [ref] The page's worker holds the rows under this number.
 * @property {string} [id] The core's journal key of the table, when the host computed it.
 * @property {string} [description] How the file was read ("semicolon-separated…").
 * @property {string[]} [notes] What to know about the file (title rows skipped…).
 * @property {string[][]} [preview] The first rows, when `rows` is not here (the mapping step's preview).
 */

/**
 * Options of `writeSheet`. `activate: false` leaves the user where they are (Excel);
 * `failedRows` marks rows by their number and `prefix` names the flow (the page shows its Plan
 * and Outcomes in that flow's table).
 * @typedef {object} WriteSheetOptions
 * @property {boolean} [activate]
 * @property {Set<number>} [failedRows]
 * @property {string} [prefix]
 */

/**
 * Options of `writeColumns`: the failed rows' numbers, the core's input-plus-outcomes table, the
 * plan shown and the flow's prefix.
 * @typedef {object} WriteColumnsOptions
 * @property {Set<number>} failed
 * @property {Table} table
 * @property {Table | null} [plan] The plan table the page showed (the page shows the outcomes
 *   beside its change column; Excel writes them beside the input rows).
 * @property {string} prefix
 */

/**
 * Where `writeColumns` put the outcomes.
 * @typedef {object} WrittenColumns
 * @property {string | null} where The sheet that holds them (null: the page's table).
 * @property {number[]} notWritten Rows not found again (edited or removed since Plan).
 * @property {string} [movedTo] The new sheet they went to, when not beside the rows.
 * @property {string} [reason] Why they did not go beside the rows.
 */

/**
 * Remembered connection storage (never the workbook).
 * @typedef {object} TokenStore
 * @property {(key: string) => Promise<string | null>} get
 * @property {(key: string, value: string) => Promise<void>} set
 * @property {(key: string) => Promise<void>} remove
 */

/**
 * Every member is required. Methods (not function properties) so a host may take its own
 * richer TableInput (the pane's knows the sheet and area it read).
 *
 * - `kind`: which host, for logs and tests (the app does not branch on it).
 * - `progress(prefix, state)`: shows a long step's progress in the view `prefix` ('' for Users).
 * - `tokenStore`: the remembered connection.
 * - `connect(spec)`: told each new connection (after any datacenter move): `plan` plans on it
 *   (the page's worker, when it starts; Excel: the pane's full-module client, on first plan).
 * - `disconnect()`: told the connection is closed: the page's worker forgets its client and the
 *   token in it (Excel: nothing).
 * - `readTable(prefix, kind)`: the table the flow `prefix` plans as a `kind` sheet; rejects with
 *   a message saying what to choose or select.
 * - `takeTable(prefix, kind, table, source, sheetName)`: a table the app made (the Users grid's
 *   selected rows as a lifecycle sheet, a run's failed rows or undo sheet from the Runs view) as
 *   the flow `prefix` plans it, as if it had been read from a file; `source` says where it came
 *   from in the plan's summary ("the Users grid (selected)"). The pane writes it to a sheet of
 *   its own named `sheetName` (Retry, Undo, Resume) and plans that sheet, so its outcomes go
 *   beside those rows; the page keeps it in its worker.
 * - `verifyTable(input)`: before Apply sends anything, the table `readTable` gave as it is now;
 *   rejects, naming the rows, when it changed since Plan (the page: its worker holds the rows
 *   read, which cannot change, so `input` itself).
 * - `plan(kind, input, request, onProgress)`: plans a table `readTable` gave, where its rows are
 *   (the page's worker; the pane's own thread, `planRun` in run.js), with a client of the full
 *   core module on the connection `connect` was told.
 * - `callback(fn)`: a progress callback as a run's `apply` can call it (the page: a Comlink
 *   proxy into the worker; Excel: `fn` itself).
 * - `readSelectedUsers()` (Excel only): the users on the rows selected in the Users sheet, hidden
 *   and filtered-out rows left out (the pane's bulk actions).
 * - `readRoles()`: the Roles sheet, or null (groups only).
 * - `setRoles(table)`: puts a Roles sheet where `readRoles` reads it.
 * - `writeSheet(name, table, options)`: a named sheet (Users, Plan, Membership, Before (undo),
 *   a template…); resolves to the sheet written, or `sheet: null` when the page showed it in a
 *   table or downloaded it as `<name>.csv`.
 * - `writeColumns(input, columns, byRow, options)`: each row's outcome beside the input;
 *   resolves to where (a sheet name, or null: the page shows them in the flow's table), the row
 *   numbers that could not be written, and `movedTo` and `reason` when they went to a new sheet
 *   instead of beside the rows.
 * - `showRow(prefix, input, row)`: shows the user row `row` (its number in the sheet) of the
 *   table the flow `prefix` planned: the page scrolls its plan table to it and focuses it; Excel
 *   selects that row of the user's sheet.
 * - `showRows(prefix, input, rows, why)`: shows the user rows `rows` (a group of problems):
 *   the page filters its plan table to them, saying `why`; Excel selects the first.
 * - `filterUsers(column, value)`: shows only the listed users whose `column` is `value` (null:
 *   every user again; '' the users with none), for the picture of the brand's bars. The page: the Users grid's own filter
 *   for that column; Excel: the Users sheet's table, filtered on that column.
 * - `saveAudit(run)`: the run's audit log (the page: a JSON Lines download; Excel: an Audit sheet).
 * - `downloadSheet(name, filename)`: a sheet written before, as a CSV download.
 * - `downloadWorkbook(names, filename)`: sheets written before (and the Roles sheet), as one .xlsx download.
 *
 * @typedef {{
 *   kind: 'browser' | 'excel',
 *   progress(prefix: string, state?: ProgressState): void,
 *   tokenStore: TokenStore,
 *   connect(spec: ConnectionSpec): Promise<void>,
 *   disconnect(): Promise<void>,
 *   readTable(prefix: string, kind: Kind): Promise<TableInput>,
 *   takeTable(prefix: string, kind: Kind, table: Table, source: string, sheetName?: string): Promise<TableInput>,
 *   verifyTable(input: TableInput): Promise<TableInput>,
 *   plan(kind: Kind, input: TableInput, request: PlanRequest, onProgress: OnProgress): Promise<FlowRun>,
 *   callback(fn: OnProgress): OnProgress,
 *   readRoles(): Promise<Table | null>,
 *   setRoles(table: Table): Promise<unknown>,
 *   writeSheet(name: string, table: Table, options?: WriteSheetOptions): Promise<{ sheet: string | null }>,
 *   writeColumns(input: TableInput, columns: string[], byRow: Map<number, string[]>, options: WriteColumnsOptions): Promise<WrittenColumns>,
 *   showRow(prefix: string, input: TableInput, row: number): Promise<void>,
 *   showRows(prefix: string, input: TableInput, rows: number[], why: string): Promise<void>,
 *   filterUsers(column: string, value: string | null): Promise<void>,
 *   saveAudit(run: FlowRun): Promise<void>,
 *   downloadSheet(name: string, filename: string): Promise<void>,
 *   downloadWorkbook(names: string[], filename: string): Promise<void>,
 *   readSelectedUsers?: () => Promise<{ table: Table, rowNumbers: number[], hidden: number }>,
 * }} Host
 */

export {};
