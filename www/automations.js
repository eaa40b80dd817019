// The Automations view: events the server's hooks received (a CRM or HR system creating or
// disabling a user), their status and the reason of failures, with Retry on failed ones,
// Release / Discard on bursts the mass-change brake quarantined, Replay on parked and
// discarded ones, and Pause / Resume per hook. Live: while the view is open the events are read
// again every few seconds. Each event's Details (a disclosure button) show the row its hook's
// mapping made, its plan row and every attempt with Qualtrics' answer. Retry is offered only
// where it can succeed (the server says: `retryable`); an event Qualtrics refused says what to
// fix instead, and Retry says what it did (retrying → done, or failed again and why).
// The server's contract, relative to the page, with the page's Qualtrics token (X-API-TOKEN, or
// Authorization: Bearer for an OAuth token):
//   GET  hooks/v1/events?limit=100  -> {events: [{id, hook, senderId, receivedAt, status, user,
//        action, outcome: {status, message} | null, attempts, reason, nextAttemptAt, retryable}],
//        hooks: [{name, paused, pausedSince}]}
//        404: the server has no hooks (the tab is hidden); 401: the token is not accepted.
//   GET  hooks/v1/events/{id} -> the event with row: {column: cell} | null (a password never
//        shown), plan: {column: cell} | null, history: [{at, request, status, message, tried,
//        attempt}] (its latest 20 attempts, oldest first).
//   POST hooks/v1/events/{id}/retry -> 202, the failed event is queued again; 409 {error} when
//        it cannot be (refused: the same change would be refused again).
//   POST hooks/v1/events/replay {id} -> 202, a settled event is planned again against the brand.
//   POST hooks/v1/{hook}/pause | resume -> 200, the hook's events wait (still accepted) | go on.
import { $, show, messageOf } from './ui.js';
import { tone } from './grid.js';
import { formatTime } from './format.js';

/**
 * @typedef {object} HookEvent
 * @property {string} id
 * @property {string} hook
 * @property {string} [senderId]
 * @property {string} receivedAt
 * @property {'received' | 'planned' | 'done' | 'failed' | 'quarantined' | 'discarded' | 'skipped'} status
 * @property {string} [user]
 * @property {string} [action]
 * @property {{ status: string, message: string } | null} [outcome]
 * @property {number} [attempts]
 * @property {string | null} [reason]
 * @property {string | null} [nextAttemptAt]
 * @property {boolean} [retryable] whether Retry can succeed (absent from older servers: yes)
 */

/**
 * @typedef {object} Attempt
 * @property {string} at
 * @property {string} request method and path; empty when nothing was sent
 * @property {number | null} [status]
 * @property {string | null} [message]
 * @property {number} tried the event's try
 * @property {number} attempt the request's attempt within the try
 */

/**
 * @typedef {HookEvent & { row?: Record<string, string> | null, plan?: Record<string, string> | null,
 *   history?: Attempt[] }} EventDetails
 */

/** @typedef {{ token: string, bearer?: boolean }} Credentials */

/** @typedef {{ name: string, paused: boolean, pausedSince?: string | null }} HookState */

const EVENTS = 'hooks/v1/events?limit=100';
/** What the view says before connecting. */
const CONNECT_FIRST = 'Connect first: the events are shown to users of the brand the hooks provision.';
/** How often an open Automations view reads the events again (new ones show within 5 s). */
const LIVE_MS = 3000;

/**
 * The headers that carry the page's Qualtrics token to the server.
 * @returns {Record<string, string>}
 */
export function authHeaders(/** @type {Credentials} */ c) {
  return c.bearer ? { Authorization: `Bearer ${c.token}` } : { 'X-API-TOKEN': c.token };
}

/** A time as the user's locale writes it, local with its zone, or the text as it came. */
const when = (/** @type {string | null | undefined} */ iso) => (iso ? formatTime(iso, { date: true }) : '');

/**
 * The view. `credentials()` gives the connection's token, or null before connecting.
 * @param {{ credentials: () => Credentials | null }} parts
 */
export function createAutomations({ credentials }) {
  /** @type {HookEvent[]} */
  let events = [];
  /** @type {HookState[]} */
  let hooks = [];
  /** The hooks' Pause / Resume line, made here above the table. */
  const hooksLine = document.createElement('p');
  hooksLine.id = 'au-hooks';
  const error = $('au-error');
  const search = $('au-search', HTMLInputElement);
  const status = $('au-status', HTMLSelectElement);
  const tableEl = $('au-table', HTMLTableElement);
  /** What Retry did (retrying → done, or failed again), said to screen readers too. */
  const feedback = document.createElement('p');
  feedback.id = 'au-feedback';
  feedback.setAttribute('role', 'status');
  /** The event whose details are open, and the details read for it (or why they were not). */
  let openId = /** @type {string | null} */ (null);
  /** @type {Map<string, EventDetails | string>} */
  const details = new Map();
  /** Events whose Retry is under way. */
  const retrying = new Set();

  /** Whether this server has hooks: it answers the events listing with anything but 404. */
  async function available() {
    const res = await fetch(EVENTS, { headers: { Accept: 'application/json' } }).catch(() => null);
    return !!res && res.status !== 404;
  }

  function draw() {
    const q = search.value.trim().toLowerCase();
    const want = status.value;
    /** @type {Record<string, number>} */
    const counts = {};
    for (const e of events) counts[e.status] = (counts[e.status] ?? 0) + 1;
    const statuses = ['received', 'planned', 'done', 'failed', 'quarantined', 'discarded', 'skipped'];
    status.replaceChildren(new Option(`All (${events.length})`, ''), ...statuses.map((s) => new Option(`${s} (${counts[s] ?? 0})`, s)));
    status.value = want;
    const shown = events.filter((e) => (!want || e.status === want)
      && (!q || [e.id, e.hook, e.senderId, e.user, e.action, e.reason, e.outcome?.message].join(' ').toLowerCase().includes(q)));
    $('au-count').textContent = !events.length
      ? 'No events yet: one your CRM or HR system sends shows here within seconds.'
      : shown.length === events.length ? `${events.length} event${events.length === 1 ? '' : 's'}` : `${shown.length} of ${events.length} events shown`;
    const head = document.createElement('tr');
    for (const c of ['Received', 'Hook', 'User', 'Action', 'Status', 'Attempts', 'Outcome or reason', '']) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = c;
      if (!c) th.append(Object.assign(document.createElement('span'), { className: 'sr-only', textContent: 'Actions' }));
      head.append(th);
    }
    tableEl.tHead?.replaceChildren(head);
    tableEl.tBodies[0].replaceChildren(...shown.map((e) => {
      const tr = document.createElement('tr');
      tr.dataset.event = e.id;
      if (e.status === 'failed' || e.status === 'quarantined') tr.className = 'row-failed';
      const td = (/** @type {string | Node} */ content) => {
        const cell = document.createElement('td');
        cell.append(content);
        tr.append(cell);
        return cell;
      };
      td(when(e.receivedAt));
      td(e.hook ?? '').title = e.senderId ? `sender ${e.senderId}` : '';
      td(e.user ?? '');
      td(e.action ?? '');
      td(Object.assign(document.createElement('span'), { className: `badge tone-${tone(e.status)}`, textContent: e.status }));
      td(String(e.attempts ?? 0));
      const why = e.status === 'failed'
        ? `${e.reason ?? e.outcome?.message ?? 'failed'}${e.retryable === false ? ' · refused: fix this at the source and send it again (Retry would get the same answer)' : e.nextAttemptAt ? ` · next attempt ${when(e.nextAttemptAt)}` : ' · parked: press Retry'}`
        : e.status === 'quarantined'
          ? `${e.reason ?? 'held by the mass-change brake'} · nothing was sent: Release applies the whole burst, Discard drops it`
          : e.reason ?? e.outcome?.message ?? '';
      td(why).className = 'wrap';
      /** A button that POSTs `verb` for this event, then reads the events again. */
      const action = (/** @type {string} */ label, /** @type {'retry' | 'release' | 'discard'} */ verb) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = label;
        b.setAttribute('aria-label', `${label} event ${e.id}${e.user ? ` for ${e.user}` : ''}`);
        if (verb === 'retry') {
          if (retrying.has(e.id)) {
            b.textContent = 'Retrying…';
            b.setAttribute('aria-disabled', 'true');
          }
          b.addEventListener('click', () => {
            if (!retrying.has(e.id)) retry(e).catch((err) => show(error, messageOf(err)));
          });
          return b;
        }
        b.addEventListener('click', () => { post(e.id, verb).catch((err) => show(error, messageOf(err))); });
        return b;
      };
      /** Details: a disclosure button showing the event's row, plan and attempts below it. */
      const more = () => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Details';
        b.setAttribute('aria-label', `Details of event ${e.id}${e.user ? ` for ${e.user}` : ''}`);
        b.setAttribute('aria-expanded', String(openId === e.id));
        b.setAttribute('aria-controls', `au-details-${e.id}`);
        b.addEventListener('click', () => { toggle(e.id).catch((err) => show(error, messageOf(err))); });
        return b;
      };
      /** Replay: the settled event planned again against the brand as it is now (offered on
       * parked and discarded events). */
      const replay = () => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Replay';
        b.setAttribute('aria-label', `Replay event ${e.id}${e.user ? ` for ${e.user}` : ''}`);
        b.addEventListener('click', () => { replayEvent(e.id).catch((err) => show(error, messageOf(err))); });
        return b;
      };
      // Retry only where it can succeed: a refused event says what to fix instead (above).
      const cell = td('');
      if (e.status === 'failed') {
        if (e.retryable !== false) cell.append(action('Retry', 'retry'), ' ');
        if (!e.nextAttemptAt) cell.append(replay(), ' ');
      } else if (e.status === 'quarantined') {
        cell.append(action('Release', 'release'), ' ', action('Discard', 'discard'), ' ');
      } else if (e.status === 'discarded') cell.append(replay(), ' ');
      // A done event is replayed with POST hooks/v1/events/replay (README): its row keeps no
      // such button, so a finished list reads as finished; Details are on every event.
      cell.append(more());
      if (openId !== e.id) return [tr];
      return [tr, detailsRow(e)];
    }).flat());
    drawHooks();
    tableEl.parentElement?.toggleAttribute('hidden', false);
  }

  /** The open event's details as a table row spanning the table: what to fix (a refusal), the
   * mapped row, its plan row, and its attempts with Qualtrics' answers. */
  function detailsRow(/** @type {HookEvent} */ e) {
    const tr = document.createElement('tr');
    tr.className = 'au-details';
    const cell = document.createElement('td');
    cell.colSpan = 8;
    cell.id = `au-details-${e.id}`;
    tr.append(cell);
    const found = details.get(e.id);
    if (found === undefined) {
      cell.textContent = 'Reading the event\'s details…';
      return tr;
    }
    if (typeof found === 'string') {
      cell.textContent = found;
      return tr;
    }
    const heading = (/** @type {string} */ text) => Object.assign(document.createElement('h3'), { textContent: text });
    if (e.status === 'failed' && e.retryable === false) {
      const fix = document.createElement('p');
      fix.className = 'wrap';
      fix.append(Object.assign(document.createElement('strong'), { textContent: 'What to fix: ' }),
        `${e.reason ?? found.outcome?.message ?? 'the change was refused'}. Retrying would send the same change and get the same answer: correct it in the system that sent it (or in the hook's mapping), then send the event again.`);
      cell.append(fix);
    }
    /** Column → cell as a list of terms, or `none` when there is nothing. */
    const pairs = (/** @type {Record<string, string> | null | undefined} */ cells, /** @type {string} */ none) => {
      const entries = Object.entries(cells ?? {});
      if (!entries.length) return Object.assign(document.createElement('p'), { className: 'muted', textContent: none });
      const dl = document.createElement('dl');
      for (const [k, v] of entries) dl.append(Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v || '(blank)' }));
      return dl;
    };
    cell.append(heading('Mapped row'), pairs(found.row, 'Not kept (the event was skipped by its hook\'s conditions).'));
    cell.append(heading('Plan'), pairs(found.plan, 'Not planned yet.'));
    cell.append(heading('Attempts'));
    const history = found.history ?? [];
    if (!history.length) cell.append(Object.assign(document.createElement('p'), { className: 'muted', textContent: 'Nothing sent yet.' }));
    else {
      const t = document.createElement('table');
      t.setAttribute('aria-label', `Attempts of event ${e.id}`);
      const head = document.createElement('tr');
      for (const c of ['Try', 'Sent', 'Request', 'HTTP status', 'Qualtrics\' answer']) head.append(Object.assign(document.createElement('th'), { scope: 'col', textContent: c }));
      t.createTHead().append(head);
      const body = t.createTBody();
      for (const a of history) {
        const row = body.insertRow();
        const answer = a.message ?? (a.status && a.status < 300 ? 'accepted' : '');
        for (const text of [a.attempt > 1 ? `${a.tried} (resend ${a.attempt - 1})` : String(a.tried), when(a.at), a.request || 'nothing sent', a.status ? String(a.status) : 'no answer', answer]) {
          row.insertCell().textContent = text;
        }
        row.cells[4].className = 'wrap';
      }
      cell.append(t);
    }
    return tr;
  }

  /** Reads event `id`'s details (kept for drawing; a failure is shown in their place). */
  async function readDetails(/** @type {string} */ id) {
    try {
      details.set(id, /** @type {EventDetails} */ (await (await call(`hooks/v1/events/${encodeURIComponent(id)}`)).json()));
    } catch (err) {
      details.set(id, `The details could not be read: ${messageOf(err)}`);
    }
  }

  /** Opens event `id`'s details (closing any other), or closes them. */
  async function toggle(/** @type {string} */ id) {
    openId = openId === id ? null : id;
    draw();
    focusDetails(id);
    if (openId !== id) return;
    await readDetails(id);
    if (openId === id) {
      draw();
      focusDetails(id);
    }
  }

  /** Gives the keyboard back to event `id`'s Details button after a redraw. */
  function focusDetails(/** @type {string} */ id) {
    /** @type {HTMLElement | null} */ (tableEl.querySelector(`button[aria-controls="au-details-${CSS.escape(id)}"]`))?.focus();
  }

  /** Retries failed event `e`, saying what happens: queued, then done or failed again (and
   * why), or why the server would not retry it. */
  async function retry(/** @type {HookEvent} */ e) {
    const who = `Event ${e.id}${e.user ? ` for ${e.user}` : ''}`;
    show(error, '');
    retrying.add(e.id);
    feedback.textContent = `${who}: retrying…`;
    draw();
    try {
      await call(`hooks/v1/events/${encodeURIComponent(e.id)}/retry`, { method: 'POST' });
      feedback.textContent = `${who}: retry queued, sending…`;
      for (let i = 0; i < 60; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        await refresh({ quiet: true }).catch(() => {});
        const now = events.find((x) => x.id === e.id);
        if (!now) break;
        if (now.status === 'done') {
          feedback.textContent = `${who}: retried, done${now.outcome?.message ? ` (${now.outcome.message})` : ''}.`;
          return;
        }
        if (now.status === 'failed' && (now.attempts ?? 0) > 0) {
          feedback.textContent = `${who}: retried, failed again: ${now.reason ?? now.outcome?.message ?? 'no reason given'}.`;
          return;
        }
        if (now.status === 'quarantined' || now.status === 'discarded') {
          feedback.textContent = `${who}: retried, now ${now.status}.`;
          return;
        }
      }
      feedback.textContent = `${who}: retry queued; it is still being sent (the list shows when it ends).`;
    } catch (err) {
      feedback.textContent = `${who}: not retried. ${messageOf(err)}`;
    } finally {
      retrying.delete(e.id);
      await refresh().catch(() => {});
      draw();
    }
  }

  /** Each hook with Pause (its events wait, still accepted) or Resume. */
  function drawHooks() {
    if (!hooksLine.isConnected) tableEl.parentElement?.before(hooksLine);
    if (!feedback.isConnected) hooksLine.after(feedback);
    hooksLine.replaceChildren(...hooks.flatMap((h) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = h.paused ? 'Resume' : 'Pause';
      b.setAttribute('aria-label', `${h.paused ? 'Resume' : 'Pause'} hook ${h.name}`);
      b.addEventListener('click', () => { pauseHook(h.name, !h.paused).catch((err) => show(error, messageOf(err))); });
      const label = h.paused ? `${h.name}: paused${h.pausedSince ? ` since ${when(h.pausedSince)}` : ''} (events are kept, none applied) ` : `${h.name}: running `;
      return [label, b, ' '];
    }));
  }

  /** Asks the server, as the connection, with `init`; the answer, or a message thrown. */
  async function call(/** @type {string} */ url, /** @type {RequestInit} */ init = {}) {
    const c = credentials();
    if (!c) throw new Error(CONNECT_FIRST);
    const res = await fetch(url, { ...init, headers: { Accept: 'application/json', ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...authHeaders(c) } });
    if (res.status === 401) throw new Error('The server did not accept this token for its automations (HTTP 401): connect with a token of the brand the hooks provision.');
    if (res.status === 403) throw new Error('Only a Brand Administrator of the brand the hooks provision may see and steer its automations (HTTP 403): connect with such an account\'s token.');
    if (res.status === 409) {
      const said = await res.json().then((b) => (typeof b?.error === 'string' ? b.error : ''), () => '');
      throw new Error(said || 'This event is no longer waiting for that (HTTP 409): the list is read again.');
    }
    if (res.status === 404) throw new Error('This server has no automations (no hooks are configured).');
    if (!res.ok) throw new Error(`The server answered HTTP ${res.status} for its automations.`);
    return res;
  }

  /** The latest events and hooks, as the server answers them. */
  async function load() {
    const body = await (await call(EVENTS)).json();
    return {
      events: /** @type {HookEvent[]} */ (Array.isArray(body?.events) ? body.events : []),
      hooks: /** @type {HookState[]} */ (Array.isArray(body?.hooks) ? body.hooks : []),
    };
  }

  /** The events and hooks as last drawn (JSON): a poll that finds nothing new redraws nothing. */
  let drawn = '';

  /**
   * Reads the latest events and draws them; before connecting, says to connect first. `quiet`
   * (the live poll): no redraw when nothing changed, and the control that had the focus keeps it.
   */
  async function refresh({ quiet = false } = {}) {
    if (!quiet) show(error, '');
    if (!credentials()) {
      drawn = '';
      events = [];
      hooks = [];
      tableEl.parentElement?.toggleAttribute('hidden', true);
      hooksLine.replaceChildren();
      $('au-count').textContent = CONNECT_FIRST;
      // Pressed Refresh: say it where errors are said too.
      if (!quiet) throw new Error(CONNECT_FIRST);
      return;
    }
    const latest = await load();
    const text = JSON.stringify(latest);
    if (quiet && text === drawn) return;
    drawn = text;
    ({ events, hooks } = latest);
    // The open event changed (a try ended), or Refresh: its details are read again.
    if (openId) await readDetails(openId);
    const focused = document.activeElement instanceof HTMLElement && tableEl.contains(document.activeElement)
      ? document.activeElement.getAttribute('aria-label') : null;
    draw();
    if (focused) /** @type {HTMLElement | null} */ (tableEl.querySelector(`[aria-label="${CSS.escape(focused)}"]`))?.focus();
  }

  /**
   * Keeps the view live: every LIVE_MS while `shown()` (the view on screen, the tab visible,
   * connected), the events are read again, so a new one shows within seconds without Refresh. A
   * failure is shown once and the poll goes on.
   * @param {() => boolean} shown
   */
  function live(shown) {
    let polling = false;
    setInterval(() => {
      if (polling || document.hidden || !shown() || !credentials()) return;
      polling = true;
      refresh({ quiet: true })
        .then(() => { if (error.textContent.startsWith('Live: ')) show(error, ''); })
        .catch((err) => show(error, `Live: ${messageOf(err)}`))
        .finally(() => { polling = false; });
    }, LIVE_MS);
  }

  /** `retry` queues a failed event again; `release` applies a quarantined burst (past the
   * brake, still never touching an administrator); `discard` drops it. Then reads the events. */
  async function post(/** @type {string} */ id, /** @type {'retry' | 'release' | 'discard'} */ verb) {
    show(error, '');
    try {
      await call(`hooks/v1/events/${encodeURIComponent(id)}/${verb}`, { method: 'POST' });
    } finally {
      await refresh().catch(() => {});
    }
  }

  /** Queues a settled event again (planned against the brand as it is now), then reads the events. */
  async function replayEvent(/** @type {string} */ id) {
    show(error, '');
    try {
      await call('hooks/v1/events/replay', { method: 'POST', body: JSON.stringify({ id: Number(id) }) });
    } finally {
      await refresh().catch(() => {});
    }
  }

  /** Pauses (`pause`) or resumes hook `name`, then reads the events. */
  async function pauseHook(/** @type {string} */ name, /** @type {boolean} */ pause) {
    show(error, '');
    try {
      await call(`hooks/v1/${encodeURIComponent(name)}/${pause ? 'pause' : 'resume'}`, { method: 'POST' });
    } finally {
      await refresh().catch(() => {});
    }
  }

  search.addEventListener('input', draw);
  status.addEventListener('change', draw);
  /** The latest events, for the Runs view (read-only there). */
  const latest = async () => (await load()).events;
  return { available, refresh, live, latest, error };
}
