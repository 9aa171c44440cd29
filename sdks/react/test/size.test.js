// The binding's size on top of the JS SDK: minified by esbuild with react and
// @launchsequence/js left out (an application has both already), then gzipped. Prints the
// figure recorded in docs/benchmarks.md; the budget is 2 kB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BUDGET = 2048;

/** [minified, min+gzip] bytes of a module bundled alone, `external` left out. */
async function size(path, external) {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(path, import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    external,
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  return [code.length, gzipSync(code, { level: 9 }).length];
}

test('the binding is under 2 kB min+gzip on top of the JS SDK', async () => {
  const [min, gzipped] = await size('../src/index.js', ['react', '@launchsequence/js']);
  // The same measure of the JS SDK, for scale (the baseline of this figure).
  const [sdkMin, sdkGzipped] = await size('../node_modules/@launchsequence/js/src/index.js', []);
  console.log(`@launchsequence/react: ${min} bytes minified, ${gzipped} bytes min+gzip ` +
    `(budget ${BUDGET}; react and @launchsequence/js external); @launchsequence/js alone: ` +
    `${sdkMin} bytes minified, ${sdkGzipped} min+gzip`);
  assert.ok(gzipped < BUDGET, `${gzipped} bytes`);
});
