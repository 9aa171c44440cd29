// The generated builds (scripts/build.mjs): the browser ES module's size budget, the builds the
// server serves are exactly what the sources build to now, and the CommonJS build loads with
// require() under Node 18's rules and exports what the ES module exports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BROWSER_FILES, browserBuild, buildAll, root, serverBundleDir } from '../scripts/build.mjs';
import * as esm from '../src/index.js';

const BUDGET = 6000; // bytes of the browser ES module, minified and gzipped (level 9)

test('the browser ES module stays under 6 kB minified and gzipped', async (t) => {
  const code = await browserBuild('esm');
  const size = gzipSync(Buffer.from(code), { level: 9 }).length;
  const classic = gzipSync(Buffer.from(await browserBuild('iife')), { level: 9 }).length;
  t.diagnostic(`browser ES module: ${Buffer.byteLength(code)} B minified, ${size} B min+gzip; ` +
    `classic script: ${classic} B min+gzip (budget ${BUDGET} B)`);
  assert.ok(size < BUDGET, `${size} B min+gzip is over the ${BUDGET} B budget`);
});

test('the builds the server serves are those the sources build to (run `make js-assets`)', async () => {
  for (const [name, format] of Object.entries(BROWSER_FILES)) {
    const served = readFileSync(join(serverBundleDir, name), 'utf8');
    assert.ok(served === await browserBuild(format),
      `src/launchsequence/jsbundle/${name} is out of date: run \`make js-assets\` and commit it`);
  }
});

test('require() of the CommonJS build works without require(esm) and matches the ES module', async () => {
  await buildAll();
  const script = `const sdk = require(${JSON.stringify(join(root, 'dist', 'index.cjs'))});
    const c = sdk.createTestClient({ a: true });
    console.log(JSON.stringify({ keys: Object.keys(sdk).sort(), a: c.value('a', false),
      same: sdk.default.createClient === sdk.createClient }));`;
  const run = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', script],
    { encoding: 'utf8', timeout: 20000 });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout);
  assert.deepEqual(out.keys, Object.keys(esm).sort());
  assert.equal(out.a, true);
  assert.equal(out.same, true);
  assert.equal(readFileSync(join(root, 'dist', 'index.d.cts'), 'utf8'),
    readFileSync(join(root, 'src', 'index.d.ts'), 'utf8'));
});

test('the type declarations declare every value the package exports, and no other', () => {
  const dts = readFileSync(join(root, 'src', 'index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export function (\w+)/gm)].map((m) => m[1]);
  if (/^export default /m.test(dts)) declared.push('default');
  assert.deepEqual([...new Set(declared)].sort(), Object.keys(esm).sort());
});
