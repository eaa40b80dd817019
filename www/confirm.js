// The confirmation every Apply asks for, in the page and the pane (issue 25): one modal alert
// dialog (sections.js, `#confirm`) that names what the plan will change, the accounts that lose
// access (how many, their share of the brand's active accounts, a few names), the privileged
// accounts touched and the rows the policy refuses, from the plan's blast radius as the core
// computed it. A suspicious plan (most rows match nobody) says so first. Under the mass-change
// brake the administrator types the number of accounts that lose access before Apply enables;
// other Brand Administrators are changed only when a tick box naming them is ticked. Cancel,
// Escape or closing it answers null: nothing is sent.
import { $ } from './ui.js';
import { tone } from './grid.js';
import { formatNumber } from './format.js';

/** @typedef {import('./pkg/qualtrics_roster.js').PlanView} Plan */
/** @typedef {import('./pkg/qualtrics_roster.js').BlastRadius} BlastRadius */
/** @typedef {import('./pkg/qualtrics_roster.js').ApprovalRequest} Approval */
/** @typedef {import('./pkg/qualtrics_roster.js').Account} TouchedAccount */

/** What the dialog is about, besides the plan. */
/**
 * @typedef {object} ConfirmContext
 * @property {Plan} plan
 * @property {string} [source] Where the rows came from ("leavers.csv", "Leavers!A1:C42").
 * @property {string | null} [brand] The brand connected to, as the header names it.
 * @property {string | null} [choice] A choice the plan was made with ("Rows without an Action: disable them.").
 */

/** Names shown of a list before "and N more". */
const LIST_MAX = 10;
/** Names shown of the accounts that lose access: a few, to check it is the right file. */
const SAMPLE_MAX = 5;
/** The tones (grid.js) of the plan's labels that send something; the others send nothing. */
const CHANGE_TONES = ['add', 'remove', 'expiry', 'update'];

const num = (/** @type {number} */ n) => formatNumber(n);
const plural = (/** @type {number} */ n, /** @type {string} */ word, words = `${word}s`) => `${num(n)} ${n === 1 ? word : words}`;
/** A share 0..1 as a percentage with one decimal where it matters: "4.8 %", "12 %". */
const percent = (/** @type {number} */ share) => {
  const p = share * 100;
  return `${p >= 10 || Number.isInteger(p) ? Math.round(p) : p.toFixed(1)} %`;
};

/** An account as the dialog names it: its name (and e-mail) and username, else its id. */
function accountName(/** @type {TouchedAccount} */ a) {
  const name = a.name?.trim();
  const user = a.username?.trim();
  if (name && user && !name.toLowerCase().includes(`<${user.toLowerCase()}>`)) return `${name} (${user})`;
  return name || user || a.userId || `row ${a.row}`;
}

/** The blast radius if the core gave one (a core built before issue 25 gives none). */
function blastOf(/** @type {Plan} */ plan) {
  const b = /** @type {Partial<BlastRadius> | null | undefined} */ (plan.blast);
  return b && typeof b === 'object' ? b : null;
}

/** `items` as list items, the first `max`, then "…and N more". */
function fillList(/** @type {HTMLElement} */ list, /** @type {string[]} */ items, total = items.length, max = LIST_MAX) {
  const shown = items.slice(0, max);
  list.replaceChildren(...shown.map((text) => Object.assign(document.createElement('li'), { textContent: text })));
  if (total > shown.length) list.append(Object.assign(document.createElement('li'), { textContent: `…and ${num(total - shown.length)} more` }));
}

/** The elements of the dialog that can take the focus, in order. */
function focusables(/** @type {HTMLElement} */ root) {
  return /** @type {HTMLElement[]} */ ([...root.querySelectorAll('button, input, select, textarea, [href], [tabindex]:not([tabindex="-1"])')])
    .filter((el) => !(/** @type {HTMLButtonElement} */ (el).disabled) && el.offsetParent !== null);
}

/** One confirmation open at a time. */
let open = false;

/**
 * Asks once before an Apply. Resolves to the approval to pass to `apply`, or null when the
 * administrator cancelled (Cancel, Escape): nothing may be sent then.
 * @param {ConfirmContext} context
 * @returns {Promise<Approval | null>}
 */
export function confirmApply({ plan, source, brand, choice }) {
  if (open) return Promise.resolve(null);
  const dialog = $('confirm', HTMLDialogElement);
  const blast = blastOf(plan);
  const changes = plan.changes ?? blast?.changes ?? 0;
  const counts = (blast?.counts?.length ? blast.counts : plan.counts) ?? [];

  $('confirm-title').textContent = `Apply ${plural(changes, 'change')}${brand ? ` to brand ${brand}` : ''}?`;
  // A suspicious plan says so before anything else.
  const warning = blast?.suspicious ? (blast.warning || 'Most rows match nobody in this brand: is this the right file and brand?') : '';
  const warningEl = $('confirm-warning');
  warningEl.textContent = warning;
  warningEl.hidden = !warning;

  const listed = (/** @type {boolean} */ sent) => counts
    .filter(([label, n]) => n > 0 && CHANGE_TONES.includes(tone(label)) === sent)
    .map(([label, n]) => `${num(n)} ${label}`).join(' · ');
  const what = listed(true);
  const notSent = listed(false);
  $('confirm-what').textContent = `What will change: ${what ? `${what}, ` : ''}${plural(changes, 'change')}${source ? ` from ${source}` : ''}.${notSent ? ` Not sent: ${notSent}.` : ''}`;
  const choiceEl = $('confirm-choice');
  choiceEl.textContent = choice ?? '';
  choiceEl.hidden = !choice;

  // Who loses access: how many, what share of the brand's active accounts, a few names.
  const loses = blast?.losesAccess ?? 0;
  const losesEl = $('confirm-loses');
  const share = typeof blast?.losesAccessShare === 'number' && typeof blast.activeAccounts === 'number'
    ? `: ${percent(blast.losesAccessShare)} of the brand's ${plural(blast.activeAccounts, 'active account')}`
    : '';
  losesEl.textContent = loses ? `${plural(loses, 'account')} will lose access${share}.` : (blast ? 'No account loses access.' : '');
  losesEl.hidden = !losesEl.textContent;
  const sample = $('confirm-sample');
  // "Jane Doe <jane@x.org> (jane@x.org)": the username said once when it is the e-mail.
  const names = (blast?.losesAccessSample ?? []).map((n) => n.replace(/^(.*<([^>]+)>) \(\2\)$/i, '$1'));
  fillList(sample, loses ? names : [], loses, SAMPLE_MAX);
  sample.hidden = !loses || !(blast?.losesAccessSample?.length);

  // Privileged accounts touched, and the rows the policy refuses.
  const privileged = blast?.privileged ?? [];
  const privBox = $('confirm-privileged');
  fillList(/** @type {HTMLElement} */ (privBox.querySelector('ul')), privileged.map((a) => `Row ${a.row}: ${accountName(a)}${a.why ? `, ${a.why}` : ''}${a.change ? `: ${a.change}` : ''}`));
  privBox.hidden = !privileged.length;
  const refused = blast?.refused ?? [];
  const refusedBox = $('confirm-refused');
  const reason = (/** @type {string | null | undefined} */ text) => (text ?? '').replace(/^refused:\s*/i, '');
  fillList(/** @type {HTMLElement} */ (refusedBox.querySelector('ul')), refused.map((r) => `Row ${r.row}: ${accountName(r)}: ${reason(r.why)}`));
  refusedBox.hidden = !refused.length;

  // Other Brand Administrators: changed only when this box, unticked at first, is ticked.
  const admins = blast?.needsAdminAllowance ?? [];
  const adminBox = $('confirm-admins', HTMLInputElement);
  adminBox.checked = false;
  const adminNames = admins.slice(0, LIST_MAX).map((a) => `${accountName(a)}${a.change ? ` (${a.change})` : ''}`).join('; ');
  $('confirm-admins-text').textContent = admins.length
    ? `Also change these Brand Administrators: ${adminNames}${admins.length > LIST_MAX ? `; and ${num(admins.length - LIST_MAX)} more` : ''}`
    : '';
  $('confirm-admins-row').hidden = !admins.length;

  // The mass-change brake: the number of accounts that lose access, typed.
  const brake = blast?.brake?.needsConfirmation === true;
  const count = $('confirm-count', HTMLInputElement);
  count.value = '';
  $('confirm-brake').hidden = !brake;
  // The core's message speaks to the CLI too (--max-changes): the dialog says it its own way.
  const limits = blast?.brake ? `more than ${plural(blast.brake.accounts, 'account')} and more than ${percent(blast.brake.share)} of the brand's active accounts` : 'a large part of the brand';
  $('confirm-brake-message').textContent = `This plan takes access from ${plural(loses, 'account')}, ${limits}: it needs a deliberate confirmation.`;
  $('confirm-count-label').textContent = `To confirm, type the number of accounts that will lose access (${num(loses)})`;

  const ok = $('confirm-ok', HTMLButtonElement);
  const cancel = $('confirm-cancel', HTMLButtonElement);
  ok.textContent = `Apply ${plural(changes, 'change')}`;
  const typed = () => Number(count.value.trim().replace(/[,\s]/g, ''));
  const refresh = () => { ok.disabled = brake && !(count.value.trim() !== '' && typed() === loses); };
  refresh();

  return new Promise((resolve) => {
    open = true;
    /** @type {Approval | null} */
    let answer = null;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const onKey = (/** @type {KeyboardEvent} */ e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        dialog.close();
      } else if (e.key === 'Tab') {
        // Focus stays in the dialog: Tab past the last element goes to the first, and back.
        const items = focusables(dialog);
        if (!items.length) return;
        const first = items[0];
        const last = items[items.length - 1];
        if (e.shiftKey && (document.activeElement === first || !dialog.contains(document.activeElement))) {
          e.preventDefault();
          last.focus();
        } else if (!e.shiftKey && (document.activeElement === last || !dialog.contains(document.activeElement))) {
          e.preventDefault();
          first.focus();
        }
      }
    };
    const onOk = () => {
      refresh();
      if (ok.disabled) return;
      answer = { allowAdminChanges: admins.length > 0 && adminBox.checked, confirmedCount: brake ? typed() : null };
      dialog.close();
    };
    const onCancel = () => dialog.close();
    const onSubmitKey = (/** @type {KeyboardEvent} */ e) => { if (e.key === 'Enter') { e.preventDefault(); onOk(); } };
    const onClose = () => {
      dialog.removeEventListener('keydown', onKey);
      dialog.removeEventListener('close', onClose);
      count.removeEventListener('input', refresh);
      count.removeEventListener('keydown', onSubmitKey);
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      open = false;
      resolve(answer);
      // Back to where the administrator was (Apply, once the run lets it take the focus again).
      if (opener) setTimeout(() => { if (!opener.matches(':disabled')) opener.focus(); }, 0);
    };
    dialog.addEventListener('keydown', onKey);
    dialog.addEventListener('close', onClose);
    count.addEventListener('input', refresh);
    count.addEventListener('keydown', onSubmitKey);
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    dialog.showModal();
    // The focus starts on the number to type under the brake, else on Cancel (the safe choice),
    // with the dialog shown from its top: what it says first is read first.
    (brake ? count : cancel).focus({ preventScroll: true });
    dialog.scrollTop = 0;
  });
}
