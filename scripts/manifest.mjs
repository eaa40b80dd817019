// Writes the add-in manifest for an organisation's host: every https://localhost:3000 URL of
// manifest.xml becomes the given origin (and optional path), into dist/manifest.xml. A URL's
// fragment stays: the ribbon buttons open taskpane.html#users, #lifecycle and #provision, one
// document at three views, so a button switches the open pane's view without reloading it
// (a fragment-only navigation; unverified in Office itself, see manifest.xml).
//   npm run manifest -- https://roster.example.org
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEV = 'https://localhost:3000';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function manifestFor(base, xml = readFileSync(path.join(root, 'manifest.xml'), 'utf8')) {
  let url;
  try {
    url = new URL(base);
  } catch {
    throw new Error(`"${base}" is not a URL: give the https address the add-in's files are served from, e.g. https://roster.example.org`);
  }
  if (url.protocol !== 'https:') throw new Error(`Office loads add-ins over https only: "${base}" is ${url.protocol.replace(':', '')}.`);
  if (url.search || url.hash) throw new Error(`Give the address without ?query or #fragment: "${base}".`);
  const target = `${url.origin}${url.pathname.replace(/\/$/, '')}`;
  // AppDomain is an origin; every other URL keeps its path below the base.
  return xml
    .replace(/<!--[\s\S]*?-->/, `<!-- qualtrics-roster Excel add-in, for ${target} (written by npm run manifest). -->`)
    .replace(`<AppDomain>${DEV}</AppDomain>`, `<AppDomain>${url.origin}</AppDomain>`)
    .replaceAll(`${DEV}/`, `${target}/`);
}

/**
 * The task pane URLs of the ribbon buttons, in order: they must differ only by their fragment
 * (same document), or pressing a button would reload a pane that is applying.
 */
export function paneUrls(xml = readFileSync(path.join(root, 'manifest.xml'), 'utf8')) {
  const urls = new Map([...xml.matchAll(/<bt:Url id="([^"]+)" DefaultValue="([^"]*)"\/>/g)].map((m) => [m[1], m[2]]));
  return [...xml.matchAll(/<Action xsi:type="ShowTaskpane">[\s\S]*?<SourceLocation resid="([^"]+)"\/>/g)].map((m) => urls.get(m[1]) ?? '');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base = process.argv[2];
  if (!base) {
    console.error('usage: npm run manifest -- https://your.host[/path]');
    process.exit(2);
  }
  try {
    const out = path.join(root, 'dist', 'manifest.xml');
    mkdirSync(path.dirname(out), { recursive: true });
    const xml = manifestFor(base);
    const documents = new Set(paneUrls(xml).map((u) => u.replace(/#.*$/, '')));
    if (documents.size !== 1) throw new Error(`the ribbon buttons open ${documents.size} documents: they must share one (differing only by #fragment)`);
    writeFileSync(out, xml);
    console.log(`wrote ${path.relative(process.cwd(), out)} for ${base}`);
  } catch (err) {
    console.error(`manifest: ${err.message}`);
    process.exit(2);
  }
}
