// The declarations (src/index.d.ts) checked by TypeScript itself: types/usage.ts compiles under
// strict settings with the `bundler` and the `node16` module resolutions, importing the package
// by its name (its `exports` map), as an application does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as binding from '@launchsequence/react';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));
const TSC = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));

for (const [module, resolution] of [['esnext', 'bundler'], ['node16', 'node16']]) {
  test(`usage.ts compiles with module ${module}, moduleResolution ${resolution}`, () => {
    const done = spawnSync(process.execPath, [TSC, '--noEmit', '--strict', '--skipLibCheck', 'false',
      '--module', module, '--moduleResolution', resolution, '--target', 'es2022', '--lib', 'es2022,dom',
      'test/types/usage.ts'], { cwd: PACKAGE, encoding: 'utf8', timeout: 120000 });
    assert.equal(done.status, 0, done.stdout + done.stderr);
  });
}

test('every export of src/index.js is declared in src/index.d.ts', () => {
  const declared = readFileSync(new URL('../src/index.d.ts', import.meta.url), 'utf8');
  const missing = Object.keys(binding).filter((name) => !declared.includes(`export function ${name}(`));
  assert.deepEqual(missing, []);
  assert.ok(Object.keys(binding).length >= 7);
});
