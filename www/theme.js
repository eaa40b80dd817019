// Light or dark, as Office is. The page follows the system's colour scheme with CSS alone
// (prefers-color-scheme, style.css); the task pane follows Office's own theme where Office.js
// gives it (Office.context.officeTheme: a dark grey or black body background is dark), and
// asks again when the pane is shown again (the theme may have changed meanwhile).

/** Whether a `#rrggbb` colour is dark (relative luminance under a half). */
export function isDark(/** @type {string} */ colour) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour.trim());
  if (!m) return false;
  const [r, g, b] = m.slice(1).map((h) => parseInt(h, 16) / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5;
}

/** Sets `<html data-theme>` from Office's theme, when Office gives one (else CSS decides). */
export function followOfficeTheme() {
  const apply = () => {
    /** @type {{ bodyBackgroundColor?: string } | undefined} */
    const theme = typeof Office !== 'undefined' ? /** @type {any} */ (Office.context)?.officeTheme : undefined;
    if (theme?.bodyBackgroundColor) document.documentElement.dataset.theme = isDark(theme.bodyBackgroundColor) ? 'dark' : 'light';
  };
  apply();
  document.addEventListener('visibilitychange', () => { if (!document.hidden) apply(); });
}
