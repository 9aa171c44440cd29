// A plain React SSR server (node:http), the pattern of docs/sdk-react.md: per request, fetch
// the bootstrap for the visitor's context, render to HTML with it, and embed the same props
// for hydration. The browser bundle is built once at start by esbuild (React's development
// build, so that a hydration mismatch would be reported).
//
//   LS_BASE_URL=http://127.0.0.1:8000 LS_CLIENT_KEY=ls_cli_... PORT=0 node test/ssr/server.js
// prints `listening on <url>`; GET /?user=<key> renders for the context {key: user}.

import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { build } from 'esbuild';
import { LaunchSequenceProvider, fetchBootstrap } from '@launchsequence/react';
import { App } from './app.js';

const baseUrl = process.env.LS_BASE_URL;
const clientKey = process.env.LS_CLIENT_KEY;

const bundle = await build({
  entryPoints: [fileURLToPath(new URL('./client.js', import.meta.url))],
  bundle: true,
  format: 'esm',
  write: false,
  define: { 'process.env.NODE_ENV': '"development"' },
  logLevel: 'silent',
});
const clientJs = bundle.outputFiles[0].contents;

/** JSON safe inside <script>: no `</script>` or `<!--` can close it early. */
const scriptJson = (value) => JSON.stringify(value).replace(/</g, '\\u003c');

async function page(user) {
  const context = { key: user };
  const bootstrap = await fetchBootstrap({ clientKey, baseUrl, context });
  const props = { clientKey, baseUrl, context, bootstrap };
  const html = renderToString(h(LaunchSequenceProvider, props, h(App)));
  return '<!doctype html><html><head><meta charset="utf-8"><title>SSR</title></head><body>' +
    `<div id="root">${html}</div>` +
    `<script type="application/json" id="launchsequence-props">${scriptJson(props)}</script>` +
    '<script type="module" src="/client.js"></script></body></html>';
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/client.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    res.end(clientJs);
  } else if (url.pathname === '/') {
    const body = await page(url.searchParams.get('user') || 'anonymous');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(body);
  } else {
    res.writeHead(404);
    res.end();
  }
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
