// Numbers and times as the reader's browser writes them (Intl, the browser's own locale): one
// helper for each, so every count and every time on the page and in the pane reads the same way.
// Times are local, with their zone ("14:02 CET"), never an ISO string in UTC.

/** @type {Intl.NumberFormat | null} */
let numbers = null;
/** @type {Intl.DateTimeFormat | null} */
let clock = null;
/** @type {Intl.DateTimeFormat | null} */
let dated = null;
/** @type {Intl.DateTimeFormat | null} */
let precise = null;

/** A count in the browser's locale: "1,234" (en-US), "1.234" (de), "1 234" (fr). */
export function formatNumber(/** @type {number} */ n) {
  numbers ??= new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  return numbers.format(n);
}

/**
 * A time in the browser's locale and time zone, with the zone: "14:02 CET" (today's time),
 * with `seconds` "14:02:05 CET" (a time seconds matter to: how old a listing is) or, with
 * `date`, "7 Dec 2026, 14:02 CET". `t` is a Date, Unix milliseconds or an ISO string; an
 * unreadable string comes back as it was.
 * @param {Date | number | string} t
 * @param {{ date?: boolean, seconds?: boolean }} [how]
 */
export function formatTime(t, { date = false, seconds = false } = {}) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  if (seconds && !date) {
    precise ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
    return precise.format(d);
  }
  if (date) {
    dated ??= new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    // timeStyle does not show the zone: add it from a second format (both in the same locale).
    const zone = zoneOf(d);
    return zone ? `${dated.format(d)} ${zone}` : dated.format(d);
  }
  clock ??= new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
  return clock.format(d);
}

/** The short name of the browser's time zone at `d` ("CET", "GMT+1"). */
function zoneOf(/** @type {Date} */ d) {
  const parts = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' }).formatToParts(d);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
}
