// The CommonJS build (scripts/build.mjs, run by `npm pack`) as a CommonJS application loads it
// under Node 18's rules (no require() of ES modules): a fresh project with the binding laid
// out as packed, React from this package's node_modules, and the JS SDK as CommonJS (built
// here from sdks/js/src: this test is about the binding's own build). Renders with require()
// only, from the ESM-free module graph.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildAll, root } from '../scripts/build.mjs';

const APP = `
const { createElement: h } = require('react');
const { renderToString } = require('react-dom/server');
const { createTestClient } = require('@launchsequence/js');
const { LaunchSequenceProvider, useFlag, useFlags } = require('@launchsequence/react');
const Banner = () => h('p', null, 'banner is ' + useFlag('banner', false) + ', ' + JSON.stringify(useFlags()));
const client = createTestClient({ banner: true });
console.log(renderToString(h(LaunchSequenceProvider, { client }, h(Banner))));
`;

test('require() loads the CommonJS build and it renders, without require(esm)', async (t) => {
  await buildAll();
  const project = mkdtempSync(join(tmpdir(), 'launchseq-react-cjs-'));
  t.after(() => rmSync(project, { recursive: true, force: true }));
  const modules = join(project, 'node_modules');
  const binding = join(modules, '@launchsequence', 'react');
  mkdirSync(binding, { recursive: true });
  for (const name of ['package.json', 'src', 'dist']) cpSync(join(root, name), join(binding, name), { recursive: true });
  const sdk = join(modules, '@launchsequence', 'js');
  mkdirSync(sdk, { recursive: true });
  writeFileSync(join(sdk, 'package.json'), JSON.stringify({ name: '@launchsequence/js', main: 'index.cjs' }));
  await build({
    entryPoints: [join(root, 'node_modules', '@launchsequence', 'js', 'src', 'index.js')],
    outfile: join(sdk, 'index.cjs'), bundle: true, format: 'cjs', platform: 'node', logLevel: 'warning',
  });
  for (const name of ['react', 'react-dom', 'scheduler']) symlinkSync(join(root, 'node_modules', name), join(modules, name));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  writeFileSync(join(project, 'app.cjs'), APP);

  const run = spawnSync(process.execPath, ['--no-experimental-require-module', 'app.cjs'],
    { cwd: project, encoding: 'utf8', timeout: 60000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), '<p>banner is true, {&quot;banner&quot;:true}</p>');
});
