// The pieces that need no server: the SSE parser, backoff, Retry-After, context encoding, and
// that the modules load in a browser (no Node-only imports).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { backoffDelay, createSseParser, encodeContext, parseRetryAfter } from '../src/index.js';

test('SSE parser: events, ids, multi-line data, comments, retry, any line ending, split chunks', () => {
  const events = [];
  const retries = [];
  const p = createSseParser((e) => events.push(e), (ms) => retries.push(ms));
  const stream = '\ufeffretry: 2000\n\n: heartbeat\n\nevent: put\nid: 3\ndata: {"a":\ndata: 1}\n\n' +
    'event: patch\r\nid: 4\r\ndata: x\r\n\r\ndata:no-space\rdata\r\r' +
    'event: ignored-without-data\n\nretry: soon\nid\nunknown: field\ndata: y\n\n';
  for (let i = 0; i < stream.length; i += 3) p.push(stream.slice(i, i + 3)); // split anywhere, even in \r\n
  assert.deepEqual(retries, [2000]);
  assert.deepEqual(events, [
    { event: 'put', data: '{"a":\n1}', id: '3' },
    { event: 'patch', data: 'x', id: '4' },
    { event: 'message', data: 'no-space\n', id: '4' },
    { event: 'message', data: 'y', id: '' },
  ]);
  assert.equal(p.lastEventId, '');
});

test('SSE parser: an incomplete event is not dispatched', () => {
  const events = [];
  const p = createSseParser((e) => events.push(e));
  p.push('event: put\ndata: 1\n');
  assert.equal(events.length, 0);
  p.push('\n');
  assert.equal(events.length, 1);
});

test('backoff: 1 s doubling to 30 s, jittered within [delay/2, delay]', () => {
  assert.equal(backoffDelay(0, 1000, 30000, () => 1), 1000);
  assert.equal(backoffDelay(0, 1000, 30000, () => 0), 500);
  assert.equal(backoffDelay(3, 1000, 30000, () => 1), 8000);
  assert.equal(backoffDelay(5, 1000, 30000, () => 1), 30000);
  assert.equal(backoffDelay(500, 1000, 30000, () => 0), 15000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2);
    assert.ok(d >= 2000 && d <= 4000, String(d));
  }
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('5'), 5000);
  assert.equal(parseRetryAfter(null), null);
  assert.equal(parseRetryAfter('soon'), null);
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:10 GMT', now), 10000);
});

test('contexts travel as base64url JSON, unicode included', () => {
  const ctx = { key: 'ü-1', name: 'Zoë ✓', n: [1, 2] };
  const enc = encodeContext(ctx);
  assert.match(enc, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(JSON.parse(Buffer.from(enc, 'base64url').toString('utf8')), ctx);
});

test('the modules import only each other, so they load unbundled in a browser', () => {
  const dir = new URL('../src/', import.meta.url);
  const names = readdirSync(dir).filter((n) => n.endsWith('.js'));
  assert.ok(names.includes('index.js') && names.length > 5, names.join(' '));
  for (const name of names) {
    const src = readFileSync(new URL(name, dir), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''); // code only, not comments
    for (const [, from] of src.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)) {
      assert.match(from, /^\.\/[a-z]+\.js$/, `${name} imports ${from}`);
      assert.ok(names.includes(from.slice(2)), `${name} imports a missing ${from}`);
    }
    assert.doesNotMatch(src, /^\s*import\s+['"]/m, name);
    assert.doesNotMatch(src, /\bimport\(/, name);
    assert.doesNotMatch(src, /\b(Buffer|__dirname|require)\b/, name);
  }
});

test('docs/sdk-js.md documents every option the type declarations have, and no other', () => {
  const dts = readFileSync(new URL('../src/index.d.ts', import.meta.url), 'utf8');
  const doc = readFileSync(new URL('../../../docs/sdk-js.md', import.meta.url), 'utf8');
  const declared = (name) => {
    const body = dts.match(new RegExp(`export interface ${name} \\{([\\s\\S]*?)\\n\\}`))[1];
    return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]).sort();
  };
  const documented = (heading) => {
    const section = doc.slice(doc.indexOf(heading));
    const table = section.slice(section.indexOf('| option |'));
    const rows = table.slice(0, table.search(/\n(?!\|)/));
    return [...rows.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]).sort();
  };
  assert.deepEqual(documented('## Every option of `createClient`'), declared('ClientOptions'));
  assert.deepEqual(documented('## Server mode (Node)'), declared('ServerClientOptions'));
});
