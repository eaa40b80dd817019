// Groups and roles in sub-views (issue 29.8): **Who is where** (the pulled matrix, each cell a
// toggle), **Rules** (the Roles sheet's rules and whom they give each role) and **Changes** (the
// change sheet the toggles and the people picker build, planned through the membership flow:
// the same plan view, confirmation and Apply as a file; nothing is sent before Apply and its
// confirmation). The sub-view open is in the URL (`#membership/rules`), as the views are.
// Beside each pending change the rules' consequences: the roles the person would gain or lose,
// computed by the core (`rolesAfter`) from the Roles sheet and their directory attributes.
import { sheetsCore } from './run.js';
import { MEMBERSHIP_SUBVIEWS } from './sections.js';
import { changeSheet } from './bulk.js';
import { $, guarded, hashText, messageOf, renderTable, show } from './ui.js';
import { formatNumber } from './format.js';

/** @typedef {import('./pkg/qualtrics_roster.js').TableView} Table */
/** @typedef {import('./pkg/qualtrics_roster.js').Pulled} Pulled */
/** @typedef {import('./pkg/qualtrics_roster.js').MemberCount} MemberCount */
/** @typedef {import('./pkg/qualtrics_roster.js').RolesAfter} RolesAfter */
/** @typedef {import('./sections.js').SubViewName} SubViewName */

/** Rows of the matrix drawn at once: search narrows a big brand. */
const MAX_ROWS = 200;
/** People the picker lists at once. */
const MAX_FOUND = 20;
/** The matrix's first columns (User, Username, User ID); groups and roles follow. */
const LEAD = 3;

/**
 * One row of the change sheet: `member` is what is asked (add: true, remove: false).
 * @typedef {{ userId: string, user: string, person: string, kind: 'group' | 'role', name: string, member: boolean }} Change
 */

/**
 * Wires the sub-views, the editable matrix, the people picker and the change sheet.
 * `plan(table)` plans the change sheet in the membership flow; `save(table)` writes it (a CSV
 * download in the page, a sheet in Excel); `forget()` forgets a plan made from an older change
 * sheet; `users()` is the Users listing the console holds, if any.
 * @param {{ lock: import('./ui.js').Lock, errorEl: HTMLElement, users: () => Table | null,
 *   plan: (table: Table, description: string) => Promise<void>, save: (table: Table) => Promise<unknown>,
 *   forget: () => void, onOpen?: (sub: SubViewName) => void }} parts
 */
export function startGroups({ lock, errorEl, users, plan, save, forget, onOpen }) {
  // Sub-views: WAI-ARIA tabs (arrows, Home, End), the one open named by the URL.
  const tab = (/** @type {SubViewName} */ s) => $(`mtab-${s}`, HTMLButtonElement);
  let sub = /** @type {SubViewName} */ ('where');
  const fromHash = () => {
    const [view, s] = hashText().split('/');
    return view === 'membership' && /** @type {string[]} */ (MEMBERSHIP_SUBVIEWS).includes(s) ? /** @type {SubViewName} */ (s) : null;
  };
  function openSub(/** @type {SubViewName} */ name) {
    sub = name;
    for (const s of MEMBERSHIP_SUBVIEWS) {
      $(`mp-sub-${s}`).hidden = s !== name;
      tab(s).setAttribute('aria-selected', String(s === name));
      tab(s).tabIndex = s === name ? 0 : -1;
    }
    onOpen?.(name);
  }
  /** Opens a sub-view now, the URL following (one history entry each, so Back returns). */
  function goSub(/** @type {SubViewName} */ name) {
    if (location.hash !== `#membership/${name}`) location.hash = `membership/${name}`;
    openSub(name);
  }
  for (const s of MEMBERSHIP_SUBVIEWS) {
    tab(s).addEventListener('click', () => goSub(s));
    tab(s).addEventListener('keydown', (e) => {
      const at = MEMBERSHIP_SUBVIEWS.indexOf(s);
      /** @type {Record<string, number>} */
      const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: MEMBERSHIP_SUBVIEWS.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const next = MEMBERSHIP_SUBVIEWS[(moves[e.key] + MEMBERSHIP_SUBVIEWS.length) % MEMBERSHIP_SUBVIEWS.length];
      tab(next).focus();
      goSub(next);
    });
  }
  // `#membership` alone keeps the sub-view last open.
  window.addEventListener('hashchange', () => { const s = fromHash(); if (s && s !== sub) openSub(s); });
  openSub(fromHash() ?? 'where');

  /** What the last pull gave, and the Roles sheet it was pulled with. */
  /** @type {{ pulled: Pulled, roles: Table | null, rowOf: Map<string, number>, emails: Map<string, string> } | null} */
  let data = null;
  /** The change sheet, by `userId \t kind:name`, in the order asked. */
  /** @type {Map<string, Change>} */
  const changes = new Map();
  /** The rules' consequences per user id (their role changes, in order). */
  /** @type {Map<string, RolesAfter>} */
  const after = new Map();
  const keyOf = (/** @type {string} */ userId, /** @type {string} */ kind, /** @type {string} */ name) => `${userId}\t${kind}:${name}`;
  const targets = () => data?.pulled.counts ?? [];
  const member = (/** @type {number} */ row, /** @type {number} */ t) => data?.pulled.matrix.rows[row]?.[LEAD + t] === 'x';
  /** How a person is named: their username, else their name, else their id. */
  const userOf = (/** @type {string[]} */ r) => r[1] || r[0] || r[2];

  // --- The matrix -------------------------------------------------------------------------
  const tableEl = $('mx-table', HTMLTableElement);
  const search = $('mx-search', HTMLInputElement);
  const note = $('mx-note');
  /** Says what a press did (a live region, so it is read out). */
  const say = (/** @type {string} */ text) => { note.textContent = text; };
  /** Matrix rows drawn, in order, and the cell that takes Tab (roving). */
  /** @type {number[]} */
  let shownRows = [];
  let focusAt = { r: 0, t: 0 };

  function drawMatrix() {
    const thead = tableEl.tHead ?? tableEl.createTHead();
    const tbody = tableEl.tBodies[0] ?? tableEl.createTBody();
    if (!data) { thead.replaceChildren(); tbody.replaceChildren(); return; }
    const { matrix } = data.pulled;
    const head = document.createElement('tr');
    const corner = Object.assign(document.createElement('th'), { scope: 'col', textContent: 'Person' });
    head.append(corner, ...targets().map((c) => {
      const th = Object.assign(document.createElement('th'), { scope: 'col' });
      th.textContent = c.name;
      if (c.kind === 'role') th.append(Object.assign(document.createElement('span'), { className: 'muted kind', textContent: ' (role)' }));
      if (c.automatic) {
        th.append(Object.assign(document.createElement('span'), { className: 'muted kind', textContent: ` (${c.automatic}, automatic)` }));
        th.title = automaticWhy(c);
      }
      return th;
    }));
    thead.replaceChildren(head);
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const all = matrix.rows.map((_, i) => i).filter((i) => {
      if (!words.length) return true;
      const hay = `${matrix.rows[i].slice(0, LEAD).join(' ')} ${data?.emails.get(matrix.rows[i][2]) ?? ''}`.toLowerCase();
      return words.every((w) => hay.includes(w));
    });
    shownRows = all.slice(0, MAX_ROWS);
    $('mx-count').textContent = all.length > shownRows.length
      ? `Showing ${formatNumber(shownRows.length)} of ${formatNumber(all.length)} people: find people to narrow.`
      : `${formatNumber(all.length)} ${all.length === 1 ? 'person' : 'people'}`;
    focusAt = { r: Math.min(focusAt.r, Math.max(0, shownRows.length - 1)), t: Math.min(focusAt.t, Math.max(0, targets().length - 1)) };
    const frag = document.createDocumentFragment();
    shownRows.forEach((row, r) => {
      const cells = matrix.rows[row];
      const tr = document.createElement('tr');
      const th = Object.assign(document.createElement('th'), { scope: 'row' });
      th.append(cells[0] || userOf(cells));
      if (cells[1] && cells[1] !== cells[0]) th.append(Object.assign(document.createElement('span'), { className: 'muted who', textContent: ` ${cells[1]}` }));
      tr.append(th);
      targets().forEach((_, t) => {
        const td = document.createElement('td');
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'cell';
        b.dataset.r = String(r);
        b.dataset.t = String(t);
        drawCell(b, row, t, r === focusAt.r && t === focusAt.t);
        td.append(b);
        tr.append(td);
      });
      frag.append(tr);
    });
    tbody.replaceChildren(frag);
  }

  /** One cell: pressed when the person is (or, pending, will be) in it; pending marked. */
  function drawCell(/** @type {HTMLButtonElement} */ b, /** @type {number} */ row, /** @type {number} */ t, focusable = false) {
    if (!data) return;
    const cells = data.pulled.matrix.rows[row];
    const target = targets()[t];
    const change = changes.get(keyOf(cells[2], target.kind, target.name));
    const now = member(row, t);
    const will = change ? change.member : now;
    b.setAttribute('aria-pressed', String(will));
    b.setAttribute('aria-label', `${userOf(cells)} in ${target.name}`);
    b.title = change ? `Pending: ${change.member ? 'add to' : 'remove from'} ${target.name}` : target.unreadable ? `${target.name} has no automatic rule` : target.automatic ? automaticWhy(target) : '';
    b.textContent = change ? (change.member ? '+' : '−') : now ? '✓' : '';
    b.classList.toggle('pending', !!change);
    b.classList.toggle('refused', target.unreadable || !!target.automatic);
    // An automatic group's members are Qualtrics' to decide (issue 29.8): not a toggle, and
    // the reason is the cell's description (its title: the name is the aria-label).
    if (target.automatic) {
      b.setAttribute('aria-disabled', 'true');
    } else {
      b.removeAttribute('aria-disabled');
    }
    b.tabIndex = focusable ? 0 : -1;
  }

  tableEl.addEventListener('click', (e) => {
    const b = e.target instanceof Element ? e.target.closest('button.cell') : null;
    if (b instanceof HTMLButtonElement) toggle(b);
  });
  tableEl.addEventListener('keydown', (e) => {
    const b = e.target instanceof HTMLButtonElement && e.target.classList.contains('cell') ? e.target : null;
    if (!b) return;
    const r = Number(b.dataset.r);
    const t = Number(b.dataset.t);
    const last = { r: shownRows.length - 1, t: targets().length - 1 };
    /** @type {Record<string, [number, number]>} */
    const moves = {
      ArrowDown: [r + 1, t], ArrowUp: [r - 1, t], ArrowRight: [r, t + 1], ArrowLeft: [r, t - 1],
      Home: [r, 0], End: [r, last.t], PageDown: [r + 10, t], PageUp: [r - 10, t],
    };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const [nr, nt] = moves[e.key];
    focusCell(Math.max(0, Math.min(last.r, nr)), Math.max(0, Math.min(last.t, nt)));
  });
  function focusCell(/** @type {number} */ r, /** @type {number} */ t) {
    const old = tableEl.querySelector('button.cell[tabindex="0"]');
    if (old instanceof HTMLButtonElement) old.tabIndex = -1;
    focusAt = { r, t };
    const b = tableEl.querySelector(`button.cell[data-r="${r}"][data-t="${t}"]`);
    if (b instanceof HTMLButtonElement) { b.tabIndex = 0; b.focus(); }
  }

  /** Why an automatic group's members cannot be changed here, and what to do instead. */
  function automaticWhy(/** @type {MemberCount} */ c) {
    return c.automatic === 'division-wide'
      ? `${c.name} is a division-wide group: Qualtrics decides its members from each user's division, so they cannot be changed here; change the user's division instead.`
      : `${c.name} is a ${c.automatic} group: Qualtrics makes every user of the brand a member, so its members cannot be changed here.`;
  }

  /** A cell pressed: a row added to the change sheet, or the one there taken out again. */
  function toggle(/** @type {HTMLButtonElement} */ b) {
    if (!data) return;
    const r = Number(b.dataset.r);
    const t = Number(b.dataset.t);
    const row = shownRows[r];
    const cells = data.pulled.matrix.rows[row];
    const target = targets()[t];
    focusCell(r, t);
    if (target.automatic) {
      say(automaticWhy(target));
      return;
    }
    if (target.unreadable) {
      // No rule: no attribute puts anyone in or out of it, and there is no API for it.
      say(`${target.name} has no automatic rule in the Roles sheet, so no change can be asked here: a brand administrator assigns it by hand in CX Dashboards › User admin › Roles (or add its rule to the Roles sheet).`);
      return;
    }
    const key = keyOf(cells[2], target.kind, target.name);
    const who = userOf(cells);
    if (changes.has(key)) {
      changes.delete(key);
      say(`Taken out of the change sheet: ${who} stays ${member(row, t) ? 'in' : 'out of'} ${target.name}.`);
    } else {
      const asked = !member(row, t);
      changes.set(key, { userId: cells[2], user: cells[1] || cells[2], person: cells[0], kind: /** @type {'group' | 'role'} */ (target.kind), name: target.name, member: asked });
      say(`Pending: ${asked ? 'add' : 'remove'} ${who} ${asked ? 'to' : 'from'} ${target.name}.`);
    }
    drawCell(b, row, t, true);
    changed([cells[2]]).then(() => {
      const c = changes.get(key);
      if (c) say(`Pending: ${c.member ? 'add' : 'remove'} ${who} ${c.member ? 'to' : 'from'} ${target.name}. By the rules: ${consequence(c)}`);
    }, (err) => show(errorEl, messageOf(err)));
  }

  search.addEventListener('input', () => drawMatrix());

  // --- The rules' consequences ---------------------------------------------------------------
  /** Works out again what the rules make of these users' role changes, then redraws the sheet. */
  async function changed(/** @type {string[]} */ userIds) {
    forget();
    drawSheet();
    const roles = data?.roles;
    if (roles) {
      const core = await sheetsCore();
      for (const id of userIds) {
        const asked = [...changes.values()].filter((c) => c.userId === id && c.kind === 'role').map((c) => /** @type {[string, boolean]} */ ([c.name, c.member]));
        const row = data?.rowOf.get(id);
        if (!asked.length || row === undefined) { after.delete(id); continue; }
        after.set(id, core.rolesAfter(roles, data?.pulled.metadata[row] ?? {}, asked, { filter: '', caseInsensitive: !!data?.pulled.caseInsensitive }));
      }
    }
    drawSheet();
  }

  /** The rules' consequences of a change, in words. */
  function consequence(/** @type {Change} */ c) {
    if (c.kind === 'group') return 'roles unchanged (roles follow directory attributes, not groups).';
    const a = after.get(c.userId);
    if (!a) return 'working out…';
    const parts = [];
    if (a.gained.length) parts.push(`gains ${a.gained.join(', ')}`);
    if (a.lost.length) parts.push(`loses ${a.lost.join(', ')}`);
    if (!parts.length) parts.push('no role changes');
    const steps = a.steps.length ? ` (${a.steps.join('; ')})` : '';
    const refused = a.refused.length ? ` Not possible: ${a.refused.join(' ')}` : '';
    return `${parts.join('; ')}${steps}.${refused}`;
  }

  // --- The change sheet ---------------------------------------------------------------------
  const sheetEl = $('cs-table', HTMLTableElement);
  /** The change sheet as the membership kind reads it (User, Group or role, Member). */
  const sheet = () => changeSheet([...changes.values()]);

  function drawSheet() {
    const list = [...changes.values()];
    $('cs-empty').hidden = list.length > 0;
    $('cs-count').textContent = list.length ? `(${formatNumber(list.length)})` : '';
    const off = lock.busy || !list.length;
    for (const id of ['cs-plan', 'cs-download', 'cs-clear']) $(id, HTMLButtonElement).disabled = off;
    renderTable(sheetEl, list.length ? {
      columns: ['Person', 'Username', 'Group or role', 'Change', 'By the rules', ''],
      rows: list.map((c) => [c.person, c.user, c.kind === 'role' ? `${c.name} (role)` : c.name, c.member ? 'add' : 'remove', consequence(c), '']),
    } : null);
    // Each row can be taken out again.
    [...sheetEl.tBodies[0]?.rows ?? []].forEach((tr, i) => {
      const c = list[i];
      const b = Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Take out' });
      b.setAttribute('aria-label', `Take out: ${c.member ? 'add' : 'remove'} ${c.user} ${c.member ? 'to' : 'from'} ${c.name}`);
      b.addEventListener('click', () => {
        changes.delete(keyOf(c.userId, c.kind, c.name));
        drawMatrix();
        changed([c.userId]).catch((err) => show(errorEl, messageOf(err)));
      });
      tr.cells[tr.cells.length - 1].replaceChildren(b);
    });
  }

  $('cs-plan').addEventListener('click', guarded(lock, errorEl, async () => {
    if (!changes.size) throw new Error('The change sheet is empty: press cells in Who is where, or add people here, first.');
    await plan(sheet(), `${formatNumber(changes.size)} asked in Groups and roles`);
  }));
  $('cs-download').addEventListener('click', guarded(lock, errorEl, () => save(sheet())));
  $('cs-clear').addEventListener('click', () => {
    changes.clear();
    after.clear();
    forget();
    drawMatrix();
    drawSheet();
    say('');
  });

  // --- The people picker ----------------------------------------------------------------------
  const groupSelect = $('pk-group', HTMLSelectElement);
  const pkSearch = $('pk-search', HTMLInputElement);
  const results = $('pk-results');
  const pkAdd = $('pk-add', HTMLButtonElement);
  /** People chosen, by user id (kept across searches). */
  /** @type {Set<string>} */
  const chosen = new Set();
  const groupIndex = () => targets().findIndex((c) => c.kind === 'group' && c.name === groupSelect.value);

  function drawPicker() {
    const t = groupIndex();
    const words = pkSearch.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const rows = data?.pulled.matrix.rows ?? [];
    const found = words.length ? rows.map((_, i) => i).filter((i) => {
      const hay = `${rows[i].slice(0, LEAD).join(' ')} ${data?.emails.get(rows[i][2]) ?? ''}`.toLowerCase();
      return words.every((w) => hay.includes(w));
    }).slice(0, MAX_FOUND) : [];
    results.replaceChildren(...found.map((i) => {
      const r = rows[i];
      const li = document.createElement('li');
      const box = Object.assign(document.createElement('input'), { type: 'checkbox', id: `pk-${r[2]}` });
      const inGroup = t >= 0 && member(i, t);
      box.checked = chosen.has(r[2]);
      box.disabled = inGroup;
      box.addEventListener('change', () => {
        if (box.checked) chosen.add(r[2]); else chosen.delete(r[2]);
        refreshPicker();
      });
      const label = Object.assign(document.createElement('label'), { htmlFor: box.id });
      const email = data?.emails.get(r[2]);
      label.textContent = `${[...new Set([r[0] || r[1], email, r[1]].filter(Boolean))].join(' · ')}${inGroup ? ` (already in ${groupSelect.value})` : ''}`;
      li.append(box, label);
      return li;
    }));
    refreshPicker(words.length ? found.length : null);
  }
  function refreshPicker(/** @type {number | null} */ found = null) {
    pkAdd.disabled = !chosen.size || groupIndex() < 0;
    pkAdd.textContent = chosen.size ? `Add ${formatNumber(chosen.size)} chosen to ${groupSelect.value || 'the group'}` : 'Add the chosen people';
    if (found !== null) $('pk-status').textContent = `${found === 0 ? 'Nobody' : formatNumber(found)} found${found >= MAX_FOUND ? ' (the first 20: type more to narrow)' : ''}; ${formatNumber(chosen.size)} chosen.`;
    else $('pk-status').textContent = chosen.size ? `${formatNumber(chosen.size)} chosen.` : '';
  }
  pkSearch.addEventListener('input', drawPicker);
  groupSelect.addEventListener('change', drawPicker);
  pkAdd.addEventListener('click', () => {
    const t = groupIndex();
    if (!data || t < 0) return;
    const target = targets()[t];
    const ids = [...chosen];
    let added = 0;
    for (const id of ids) {
      const row = data.rowOf.get(id);
      if (row === undefined || member(row, t)) continue;
      const cells = data.pulled.matrix.rows[row];
      changes.set(keyOf(id, 'group', target.name), { userId: id, user: cells[1] || id, person: cells[0], kind: 'group', name: target.name, member: true });
      added += 1;
    }
    chosen.clear();
    pkSearch.value = '';
    drawPicker();
    drawMatrix();
    changed(ids).catch((err) => show(errorEl, messageOf(err)));
    $('pk-status').textContent = `${formatNumber(added)} added to the change sheet for ${target.name}.`;
  });

  // --- The Rules sub-view ---------------------------------------------------------------------
  function drawRules() {
    const el = $('rl-table', HTMLTableElement);
    $('rl-empty').hidden = !!data;
    if (!data || !data.roles) { renderTable(el, null); return; }
    // The rules as the core read them from the Roles sheet (any header spelling it accepts).
    const { matrix, rules: defs } = data.pulled;
    renderTable(el, {
      columns: ['Role', 'Its rules (any one gives the role)', 'Members now', 'Who'],
      rows: targets().map((c, t) => ({ c, t })).filter(({ c }) => c.kind === 'role').map(({ c, t }) => {
        const rules = (defs.find((d) => d.name.toLowerCase() === c.name.toLowerCase())?.rules ?? [])
          .map((r) => `${r.attribute} ${r.operator} ${r.value}`);
        const who = matrix.rows.filter((r) => r[LEAD + t] === 'x').map(userOf);
        const names = who.slice(0, 5).join(', ') + (who.length > 5 ? ` and ${formatNumber(who.length - 5)} more` : '');
        return [c.name, rules.join(' · ') || 'no automatic rule (assigned by hand; not readable)', c.unreadable ? '?' : formatNumber(c.members), c.unreadable ? '' : names];
      }),
    });
  }

  return {
    /** A pull finished: the matrix, the picker and the rules redrawn; asked changes the pull
     * shows done are dropped from the change sheet (after an Apply, pulling again empties it). */
    pulled(/** @type {Pulled} */ pulled, /** @type {Table | null} */ roles) {
      const rowOf = new Map(pulled.matrix.rows.map((r, i) => [r[2], i]));
      /** @type {Map<string, string>} */
      const emails = new Map();
      const listed = users();
      if (listed) {
        const [id, email] = ['User ID', 'Email'].map((n) => listed.columns.indexOf(n));
        if (id >= 0 && email >= 0) for (const r of listed.rows) if (r[email]) emails.set(r[id], r[email]);
      }
      for (const r of pulled.long.rows) if (r[2] && !emails.has(r[6])) emails.set(r[6], r[2]);
      data = { pulled, roles, rowOf, emails };
      for (const [key, c] of changes) {
        const row = rowOf.get(c.userId);
        const t = pulled.counts.findIndex((x) => x.kind === c.kind && x.name === c.name);
        if (row !== undefined && t >= 0 && member(row, t) === c.member) changes.delete(key);
      }
      after.clear();
      $('mx').hidden = false;
      $('mx-empty').hidden = true;
      const was = groupSelect.value;
      // The picker offers only groups whose members are added by hand (issue 29.8).
      groupSelect.replaceChildren(...pulled.counts.filter((c) => c.kind === 'group' && !c.automatic).map((c) => new Option(c.name, c.name, false, c.name === was)));
      drawMatrix();
      drawPicker();
      drawRules();
      return changed([...new Set([...changes.values()].map((c) => c.userId))]);
    },
    /** Disconnected: nothing of the brand stays (the change sheet goes too). */
    clear() {
      data = null;
      changes.clear();
      after.clear();
      chosen.clear();
      $('mx').hidden = true;
      $('mx-empty').hidden = false;
      groupSelect.replaceChildren();
      results.replaceChildren();
      say('');
      drawMatrix();
      drawSheet();
      drawRules();
    },
    /** The buttons follow the lock. */
    refresh: () => drawSheet(),
    current: () => sub,
    /** Opens the Changes sub-view, where the membership plan shows: a plan handed over from
     * elsewhere (the Users grid's bar, the Runs view) must not land in a hidden sub-view. */
    showChanges: () => goSub('changes'),
  };
}
