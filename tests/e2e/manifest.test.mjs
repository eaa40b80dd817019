// manifest.xml: checked against Office's XSDs where ../shared/office-xsd exists (offline;
// Microsoft's validator needs its online service), plus checks that stand without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './harness.mjs';

const manifestPath = path.join(ROOT, 'manifest.xml');
const manifest = readFileSync(manifestPath, 'utf8');
const xsd = path.resolve(ROOT, '../shared/office-xsd/OfficeAppManifestV1_1.xsd');

test('manifest.xml validates against Office\'s schema', (t) => {
  if (!existsSync(xsd)) {
    t.skip(`skipped: ${xsd} is not here (the XSDs live in ../shared, beside the project)`);
    return;
  }
  // xmllint exits non-zero and names the line on any schema violation.
  execFileSync('xmllint', ['--noout', '--schema', xsd, manifestPath], { stdio: 'pipe' });
});

test('manifest.xml is an Excel task pane add-in that may write the workbook', () => {
  assert.match(manifest, /xsi:type="TaskPaneApp"/);
  assert.match(manifest, /<Id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}<\/Id>/);
  assert.match(manifest, /<Host Name="Workbook"\/>/);
  assert.match(manifest, /<Permissions>ReadWriteDocument<\/Permissions>/);
  for (const url of manifest.match(/https?:\/\/[^"<]+/g).filter((u) => !u.includes('schemas.microsoft.com') && !u.includes('www.w3.org'))) {
    assert.ok(url.startsWith('https://'), `Office requires HTTPS: ${url}`);
  }
});
