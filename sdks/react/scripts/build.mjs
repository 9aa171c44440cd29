// Builds the CommonJS build, for require() (Node 18 has no require(esm)); none of it is
// committed, and `npm pack` runs it (prepack):
//
//   dist/index.cjs     src/index.js as CommonJS; `react` and `@launchsequence/js` stay imports
//                      (require() of the application's own copies)
//   dist/index.d.cts   its types: the same declarations as src/index.d.ts
//
// esbuild is pinned exactly in package.json.

import { build } from 'esbuild';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildAll() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dist = join(root, 'dist');
  rmSync(dist, { recursive: true, force: true });
  await build({
    entryPoints: [join(root, 'src', 'index.js')],
    outfile: join(dist, 'index.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2020',
    external: ['react', '@launchsequence/js'],
    banner: { js: `/*! ${pkg.name} ${pkg.version} | ${pkg.license} */` },
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'src', 'index.d.ts'), join(dist, 'index.d.cts'));
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await buildAll();
