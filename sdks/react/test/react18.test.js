// The binding declares React >= 18: react.test.js runs again on React 18.3.1 (installed in
// test/react18/ by `npm ci` there). esbuild bundles that test file with `react` and
// `react-dom` resolved to React 18, for react-dom's own require('react') as much as for ours;
// the bundle runs under node --test as a child, and must pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const REACT_18 = here('./react18/node_modules/');

test('the React binding tests pass on React 18', { timeout: 240000 }, async (t) => {
  if (!existsSync(`${REACT_18}react`)) {
    assert.fail('React 18 is not installed: run `npm ci` in sdks/react/test/react18');
  }
  const out = here('./react18/bundle.test.mjs');
  t.after(() => rmSync(out, { force: true }));
  await build({
    entryPoints: [here('./react.test.js')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['happy-dom'],
    alias: { react: `${REACT_18}react`, 'react-dom': `${REACT_18}react-dom` },
    // The shared harness finds the repository from its own location, not the bundle's.
    define: { 'import.meta.url': JSON.stringify(new URL('../../js/test/harness.js', import.meta.url).href) },
    // react-dom's CommonJS requires Node's own modules (stream, util): give the bundle a require.
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a test run of its own, reporting to us in TAP
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', out],
    { encoding: 'utf8', timeout: 230000, env });
  const summary = run.stdout.split('\n').filter((l) => /^# (tests|pass|fail) /.test(l)).join(', ');
  console.log(`on React 18.3.1: ${summary}`);
  assert.equal(run.status, 0, run.stdout.slice(-4000) + run.stderr.slice(-2000));
  assert.match(run.stdout, /^# fail 0$/m);
  assert.match(run.stdout, /^# pass [1-9]/m);
});
