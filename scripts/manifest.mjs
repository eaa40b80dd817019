// Writes the add-in manifest for an organisation's host: every https://localhost:3000 URL of
// manifest.xml becomes the given origin (and optional path), into dist/manifest.xml.
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const base = process.argv[2];
  if (!base) {
    console.error('usage: npm run manifest -- https://your.host[/path]');
    process.exit(2);
  }
  try {
    const out = path.join(root, 'dist', 'manifest.xml');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, manifestFor(base));
    console.log(`wrote ${path.relative(process.cwd(), out)} for ${base}`);
  } catch (err) {
    console.error(`manifest: ${err.message}`);
    process.exit(2);
  }
}
