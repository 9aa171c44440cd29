// Builds what is generated from src/ (none of it is committed under sdks/js):
//
//   dist/index.cjs                    the CommonJS build, for require() (Node 18 has no require(esm))
//   dist/index.d.cts                  its types: the same declarations as src/index.d.ts
//   dist/browser/launchsequence.mjs   one minified ES module, for <script type="module">
//   dist/browser/launchsequence.js    one minified classic script defining `LaunchSequence`
//
// `--server` also copies the two browser builds into the server's package
// (src/launchsequence/jsbundle/, committed so that installing the server needs no Node), which
// serves them at /sdk/js/<version>/ (`make js-assets`; test/build.test.js checks they are fresh).
// Runs at `npm pack` (prepack) and in the tests; esbuild and terser are pinned exactly.

import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { minify } from 'terser';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the server keeps the builds it serves. */
export const serverBundleDir = join(root, '..', '..', 'src', 'launchsequence', 'jsbundle');
/** The browser builds, by the file name the server serves them under. */
export const BROWSER_FILES = { 'launchsequence.mjs': 'esm', 'launchsequence.js': 'iife' };

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entry = join(root, 'src', 'index.js');
const common = { entryPoints: [entry], bundle: true, logLevel: 'warning', legalComments: 'none' };

/**
 * One browser build's text: esbuild bundles (and shortens the `_private` members, which nothing
 * outside the SDK touches), terser minifies (about 2% smaller than esbuild's own minifier: it
 * keeps the ES module under its 6 kB min+gzip budget). ES2020: what the code itself uses.
 */
export async function browserBuild(format) {
  const bundled = await build({
    ...common, format, platform: 'browser', target: 'es2020', mangleProps: /^_[a-z]/, write: false,
    ...(format === 'iife' ? { globalName: 'LaunchSequence' } : {}),
  });
  const minified = await minify(bundled.outputFiles[0].text, {
    ecma: 2020, module: format === 'esm', compress: { passes: 2 }, mangle: true,
    format: { comments: false },
  });
  return minified.code;
}

export async function buildAll({ server = false } = {}) {
  const dist = join(root, 'dist');
  rmSync(dist, { recursive: true, force: true });
  await build({
    ...common, format: 'cjs', platform: 'node', target: 'node18', outfile: join(dist, 'index.cjs'),
    banner: { js: `/*! ${pkg.name} ${pkg.version} | ${pkg.license} */` },
  });
  copyFileSync(join(root, 'src', 'index.d.ts'), join(dist, 'index.d.cts'));
  mkdirSync(join(dist, 'browser'), { recursive: true });
  if (server) mkdirSync(serverBundleDir, { recursive: true });
  for (const [name, format] of Object.entries(BROWSER_FILES)) {
    const code = await browserBuild(format);
    writeFileSync(join(dist, 'browser', name), code);
    if (server) writeFileSync(join(serverBundleDir, name), code);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildAll({ server: process.argv.includes('--server') });
}
