// manifest.xml: checks that stand on their own (every resid resolves to a resource of the right
// kind, Office's length limits, a GUID id, every URL on the add-in's origin and every file it
// names present in www/), the production rewrite, and Office's XSDs where ../shared/office-xsd
// exists (offline; Microsoft's validator needs its online service).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, writeFileSync, mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from './harness.mjs';
import { manifestFor, paneUrls } from '../../scripts/manifest.mjs';
import { shellHtml, VIEWS } from '../../www/sections.js';

const manifestPath = path.join(ROOT, 'manifest.xml');
const manifest = readFileSync(manifestPath, 'utf8');
const xsd = path.resolve(ROOT, '../shared/office-xsd/OfficeAppManifestV1_1.xsd');

/** Resource ids and values by kind: Images, Urls, ShortStrings, LongStrings. */
function resources(xml) {
  const section = (name) => xml.match(new RegExp(`<bt:${name}>([\\s\\S]*?)</bt:${name}>`))?.[1] ?? '';
  const entries = (text) => new Map([...text.matchAll(/<bt:(?:Image|Url|String) id="([^"]+)" DefaultValue="([^"]*)"\/>/g)].map((m) => [m[1], m[2]]));
  return { Images: entries(section('Images')), Urls: entries(section('Urls')), ShortStrings: entries(section('ShortStrings')), LongStrings: entries(section('LongStrings')) };
}

/** Every resid with the element that names it. */
const resids = (xml) => [...xml.matchAll(/<(bt:Image|Label|Title|Description|LearnMoreUrl|SourceLocation|FunctionFile)\b[^>]*\bresid="([^"]+)"/g)].map((m) => ({ element: m[1], id: m[2] }));

const kindOf = { 'bt:Image': 'Images', LearnMoreUrl: 'Urls', SourceLocation: 'Urls', FunctionFile: 'Urls', Label: 'ShortStrings', Title: 'ShortStrings', Description: 'LongStrings' };

test('every resid resolves to a defined resource of the right kind', () => {
  const res = resources(manifest);
  const used = resids(manifest);
  assert.ok(used.length >= 15, `found ${used.length} resids`);
  for (const { element, id } of used) {
    assert.ok(res[kindOf[element]].has(id), `${element} resid="${id}" has no ${kindOf[element]} entry`);
    assert.ok(id.length <= 32, `resid "${id}" is longer than Office's 32 characters`);
  }
  const defined = Object.values(res).flatMap((m) => [...m.keys()]);
  assert.equal(new Set(defined).size, defined.length, 'resource ids are unique');
  for (const id of defined) assert.ok(used.some((u) => u.id === id), `resource "${id}" is never used`);
});

test('ids, labels and descriptions are within Office\'s rules', () => {
  assert.match(manifest, /<Id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}<\/Id>/);
  const res = resources(manifest);
  for (const [id, v] of res.ShortStrings) assert.ok(v.length > 0 && v.length <= 125, `short string ${id} has ${v.length} characters`);
  for (const [id, v] of res.LongStrings) assert.ok(v.length > 0 && v.length <= 250, `long string ${id} has ${v.length} characters`);
  assert.ok(manifest.match(/<DisplayName DefaultValue="([^"]*)"/)[1].length <= 125);
  assert.ok(manifest.match(/<Description DefaultValue="([^"]*)"/)[1].length <= 250);
  const controlIds = [...manifest.matchAll(/<(?:Group|Control)\b[^>]*\bid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(controlIds).size, controlIds.length, 'group and control ids are unique');
  for (const id of controlIds) assert.ok(id.length <= 125);
  assert.match(manifest, /xsi:type="TaskPaneApp"/);
  assert.match(manifest, /<Host Name="Workbook"\/>/);
  assert.match(manifest, /<Permissions>ReadWriteDocument<\/Permissions>/);
  assert.match(manifest, /<OfficeTab id="TabHome">/);
  const sizes = [...manifest.matchAll(/<bt:Image size="(\d+)"/g)].map((m) => m[1]);
  for (const s of ['16', '32', '80']) assert.ok(sizes.includes(s), `an icon of ${s} px`);
});

test('every URL is https on the add-in\'s origin, and names a file that exists', () => {
  const origin = manifest.match(/<AppDomain>([^<]+)<\/AppDomain>/)[1];
  assert.equal(origin, 'https://localhost:3000');
  const urls = [...manifest.matchAll(/"(https?:\/\/[^"]+)"/g)].map((m) => m[1]).filter((u) => !u.includes('schemas.microsoft.com') && !u.includes('www.w3.org'));
  assert.ok(urls.length >= 10);
  for (const url of urls) {
    assert.ok(url.startsWith(`${origin}/`), `${url} is not on ${origin}`);
    const file = new URL(url).pathname;
    assert.ok(existsSync(path.join(ROOT, 'www', file)), `${url}: www${file} does not exist`);
  }
  // The pane's sections are rendered from www/sections.js (shared with the page).
  assert.match(readFileSync(path.join(ROOT, 'www/taskpane.html'), 'utf8'), /<body[^>]* data-shell="pane"/);
});

test('every ribbon button shows the one pane at one document, at its own view\'s fragment, so pressing another button never reloads it', () => {
  const actions = [...manifest.matchAll(/<Action xsi:type="ShowTaskpane">([\s\S]*?)<\/Action>/g)].map((m) => ({
    pane: m[1].match(/<TaskpaneId>([^<]+)<\/TaskpaneId>/)?.[1],
    url: resources(manifest).Urls.get(m[1].match(/<SourceLocation resid="([^"]+)"\/>/)?.[1]),
  }));
  const buttons = [...manifest.matchAll(/<Control xsi:type="Button"/g)].length;
  assert.equal(actions.length, buttons, 'every button opens the task pane');
  assert.ok(buttons >= 3);
  assert.deepEqual(actions.map((a) => a.url), paneUrls(manifest));
  // One TaskpaneId, and URLs that differ only by their fragment: another button is a
  // same-document navigation of the open pane (a hashchange, no reload), so a running Apply,
  // the connection and the plan survive. A different document (or ?query) would reload it.
  // (That Office's own button navigation behaves as browsers do is unverified here: the
  // no-reload behaviour is tested in headless Chromium, tests/e2e/views.test.mjs.)
  assert.deepEqual(new Set(actions.map((a) => a.pane)), new Set(['Roster.Pane']));
  const pane = manifest.match(/<SourceLocation DefaultValue="([^"]+)"\/>/)[1];
  assert.ok(!pane.includes('#'), 'the default pane URL has no fragment');
  for (const a of actions) {
    const url = new URL(a.url);
    assert.equal(url.href.replace(/#.*$/, ''), pane, `${a.url} is the pane's document`);
    assert.equal(url.search, '', 'no button-specific query');
  }
  assert.ok(!manifest.includes('?view='), 'no button-specific page');
  // Each fragment names a view of the pane, one per button, in the ribbon's order.
  const fragments = actions.map((a) => new URL(a.url).hash.slice(1));
  assert.deepEqual(fragments, ['users', 'lifecycle', 'provision']);
  const html = shellHtml('pane');
  for (const v of fragments) {
    assert.ok(VIEWS.includes(v), `"${v}" is not a view`);
    assert.ok(html.includes(`id="view-${v}"`), `the pane has no view "${v}"`);
    assert.ok(html.includes(`id="tab-${v}"`), `the pane has no tab for "${v}"`);
  }
});

test('the production manifest moves every URL to the organisation\'s host', () => {
  const prod = manifestFor('https://roster.example.org/tools/');
  assert.ok(!prod.includes('localhost'));
  assert.match(prod, /<AppDomain>https:\/\/roster\.example\.org<\/AppDomain>/);
  assert.match(prod, /<SourceLocation DefaultValue="https:\/\/roster\.example\.org\/tools\/taskpane\.html"\/>/);
  assert.deepEqual(paneUrls(prod), ['users', 'lifecycle', 'provision'].map((v) => `https://roster.example.org/tools/taskpane.html#${v}`));
  assert.deepEqual(resids(prod), resids(manifest));
  assert.throws(() => manifestFor('http://roster.example.org'), /https only/);
  assert.throws(() => manifestFor('roster.example.org'), /is not a URL/);
  if (existsSync(xsd)) {
    const dir = mkdtempSync(path.join(tmpdir(), 'manifest-'));
    writeFileSync(path.join(dir, 'manifest.xml'), prod);
    execFileSync('xmllint', ['--noout', '--schema', xsd, path.join(dir, 'manifest.xml')], { stdio: 'pipe' });
  }
});

test('manifest.xml validates against Office\'s schemas', (t) => {
  if (!existsSync(xsd)) {
    t.skip(`skipped: ${xsd} is not here (the XSDs live in ../shared, beside the project)`);
    return;
  }
  // xmllint exits non-zero and names the line on any schema violation.
  execFileSync('xmllint', ['--noout', '--schema', xsd, manifestPath], { stdio: 'pipe' });
});
