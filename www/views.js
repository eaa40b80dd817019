// The views (sections.js VIEWS) as tabs: the one open is named by the URL's fragment (#users,
// #lifecycle, #provision, #membership, #automations), so a refresh or a link returns to it, and
// switching is a same-document navigation (hashchange: nothing reloads, a connection, a plan or
// a running Apply stay). In Excel the ribbon buttons open the pane at taskpane.html#users,
// #lifecycle or #provision (manifest.xml): the same document, so the pane is not reloaded either
// (as browsers and, as far as documented, Office's webviews treat a fragment-only navigation).
// The tab bar follows WAI-ARIA's tabs pattern: arrow keys, Home and End move between tabs and
// open them; Tab goes on into the view. At 400 px wide and narrower (the Excel pane, a phone)
// the tab bar folds into a menu button (WAI-ARIA's menu button pattern: Enter, Space or the
// arrow keys open it, the arrows, Home and End move, Enter or Space choose, Escape closes).
import { VIEWS } from './sections.js';
import { $, hashText } from './ui.js';

/** @typedef {import('./sections.js').ViewName} ViewName */

/**
 * Opens the view the URL names and follows it. `onOpen(name)` is told each view opened.
 * @param {{ onOpen?: (name: ViewName) => void }} [how]
 */
export function startViews({ onOpen } = {}) {
  const tab = (/** @type {ViewName} */ name) => $(`tab-${name}`, HTMLButtonElement);
  const shown = () => VIEWS.filter((v) => !tab(v).hidden);
  const isView = (/** @type {string} */ v) => /** @type {string[]} */ (VIEWS).includes(v);

  /** The view the URL names (an old `?view=` link too), else Users. */
  function wanted() {
    // `#membership/rules`: a view and its sub-view (groups.js reads the part after the slash).
    const hash = hashText().split('/')[0];
    const asked = hash || new URLSearchParams(location.search).get('view') || '';
    const name = /** @type {ViewName} */ (isView(asked) ? asked : 'users');
    return tab(name).hidden ? 'users' : name;
  }

  let current = /** @type {ViewName | null} */ (null);
  function open(/** @type {ViewName} */ name) {
    for (const v of VIEWS) {
      const on = v === name;
      $(`view-${v}`).hidden = !on;
      const t = tab(v);
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      item(v).setAttribute('aria-checked', String(on));
    }
    $('tabs-menu-current').textContent = tab(name).textContent ?? name;
    document.body.dataset.view = name;
    if (current !== name) {
      current = name;
      onOpen?.(name);
    }
  }

  /** Goes to a view through the URL (one history entry per view, so Back returns). */
  function go(/** @type {ViewName} */ name) {
    if (location.hash === `#${name}` || location.hash.startsWith(`#${name}/`)) open(name);
    else location.hash = name;
  }

  // The narrow window's menu of the same views.
  const menuButton = $('tabs-menu-button', HTMLButtonElement);
  const menu = $('tabs-menu');
  const item = (/** @type {ViewName} */ name) => $(`menu-${name}`, HTMLButtonElement);
  const items = () => shown().map(item);
  function openMenu(/** @type {'current' | 'first' | 'last'} */ focus = 'current') {
    menu.hidden = false;
    menuButton.setAttribute('aria-expanded', 'true');
    const list = items();
    const at = focus === 'first' ? 0 : focus === 'last' ? list.length - 1 : Math.max(0, list.findIndex((b) => b.getAttribute('aria-checked') === 'true'));
    list[at]?.focus();
  }
  function closeMenu(refocus = true) {
    if (menu.hidden) return;
    menu.hidden = true;
    menuButton.setAttribute('aria-expanded', 'false');
    if (refocus) menuButton.focus();
  }
  menuButton.addEventListener('click', () => (menu.hidden ? openMenu() : closeMenu()));
  menuButton.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      openMenu(e.key === 'ArrowDown' ? 'first' : 'last');
    }
  });
  menu.addEventListener('keydown', (e) => {
    const list = items();
    const at = list.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    /** @type {Record<string, number>} */
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      list[(moves[e.key] + list.length) % list.length].focus();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      closeMenu();
    } else if (e.key === 'Tab') {
      closeMenu(false);
    }
  });
  // A click or a focus elsewhere closes it.
  document.addEventListener('pointerdown', (e) => {
    if (!menu.hidden && e.target instanceof Node && !menu.contains(e.target) && !menuButton.contains(e.target)) closeMenu(false);
  });

  for (const v of VIEWS) {
    item(v).addEventListener('click', () => {
      closeMenu();
      go(v);
    });
    const t = tab(v);
    t.addEventListener('click', () => go(v));
    t.addEventListener('keydown', (e) => {
      const list = shown();
      const at = list.indexOf(v);
      /** @type {Record<string, number>} */
      const moves = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      const next = list[(moves[e.key] + list.length) % list.length];
      tab(next).focus();
      go(next);
    });
  }
  window.addEventListener('hashchange', () => open(wanted()));
  open(wanted());

  return {
    /** Shows or hides a view's tab (Automations, when the server has hooks). */
    setAvailable(/** @type {ViewName} */ name, /** @type {boolean} */ on) {
      tab(name).hidden = !on;
      item(name).hidden = !on;
      open(wanted());
    },
    current: () => current,
    /** Opens a view now (the URL follows), as its tab does: the Users grid's bulk actions. */
    show(/** @type {ViewName} */ name) {
      go(name);
      open(name);
    },
  };
}
