// The binding's size on top of the JS SDK: minified by esbuild with react and
// @launchsequence/js left out (an application has both already), then gzipped. Prints the
// figure recorded in docs/benchmarks.md; the budget is 2 kB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const BUDGET = 2048;

test('the binding is under 2 kB min+gzip on top of the JS SDK', async () => {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.js', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    external: ['react', '@launchsequence/js'],
    write: false,
    logLevel: 'silent',
  });
  const code = out.outputFiles[0].contents;
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@launchsequence/react: ${code.length} bytes minified, ${gzipped} bytes min+gzip ` +
    `(budget ${BUDGET}; react and @launchsequence/js external)`);
  assert.ok(gzipped < BUDGET, `${gzipped} bytes`);
});
