// Writes www/fluent-tokens.css: Fluent 2's design tokens (@fluentui/tokens, the values Fluent UI
// and Office's own panes use) as CSS custom properties, light on :root and dark where the pane
// follows a dark Office theme (<html data-theme="dark">, theme.js) or the page a dark system
// scheme (prefers-color-scheme). Only the tokens www/style.css uses are written, so the file
// stays small; run it again after style.css starts using another token:
//   node scripts/fluent-tokens.mjs
// The file is committed: the page is served as it is, with no build step in the browser's way.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { webLightTheme, webDarkTheme } from '@fluentui/tokens';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const css = readFileSync(path.join(root, 'www/style.css'), 'utf8');
const used = [...new Set([...css.matchAll(/var\(--([A-Za-z0-9]+)/g)].map((m) => m[1]))].filter((k) => k in webLightTheme).sort();
const block = (/** @type {Record<string, string | number>} */ theme, indent) => used.map((k) => `${indent}--${k}: ${theme[k]};`).join('\n');
const version = JSON.parse(readFileSync(path.join(root, 'node_modules/@fluentui/tokens/package.json'), 'utf8')).version;
const out = `/* Fluent 2 design tokens (@fluentui/tokens ${version}, webLightTheme and webDarkTheme): the
   ${used.length} that style.css uses. Written by scripts/fluent-tokens.mjs: do not edit by hand. */
:root {
  color-scheme: light;
${block(webLightTheme, '  ')}
}
:root[data-theme="dark"] {
  color-scheme: dark;
${block(webDarkTheme, '  ')}
}
@media (prefers-color-scheme: dark) {
  :root:not([data-theme="light"]) {
    color-scheme: dark;
${block(webDarkTheme, '    ')}
  }
}
`;
writeFileSync(path.join(root, 'www/fluent-tokens.css'), out);
console.log(`wrote www/fluent-tokens.css: ${used.length} tokens, ${out.length} bytes`);
