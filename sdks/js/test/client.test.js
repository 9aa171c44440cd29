// The client-side SDK against a real server: ready, bootstrap, live updates, identify, 401,
// Retry-After, cache.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../src/index.js';
import { TestServer, recordingLogger, sleep, waitFor } from './harness.js';

const server = new TestServer();
const open = [];

function client(options) {
  const c = createClient({ clientKey: server.clientKey, baseUrl: server.baseUrl, logger: null, ...options });
  open.push(c);
  return c;
}

before(async () => {
  await server.setup();
  await server.createFlag('banner');
  await server.toggle('banner', true);
  await server.createFlag('live');
  await server.createFlag('hidden', { client_side: false });
  await server.toggle('hidden', true);
  await server.createFlag('vip');
  // on, serving false to everyone but u2
  await server.configure('vip', { on: true, fallthrough: { variation: 1 }, targets: [{ variation: 0, values: ['u2'] }] });
  await server.createFlag('color', {
    type: 'string',
    variations: [{ value: 'red', name: 'Red' }, { value: 'blue', name: 'Blue' }],
  });
  await server.toggle('color', true);
});

after(async () => {
  for (const c of open) c.close();
  await server.cleanup();
});

describe('ready', () => {
  test('resolves true with the values of client-side flags', async () => {
    const c = client({ context: { key: 'u1' } });
    assert.equal(c.value('banner', false), false, 'default before the values arrive');
    assert.equal(await c.ready(), true);
    assert.equal(c.value('banner', false), true);
    assert.equal(c.value('color', 'x'), 'red');
    assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'STATIC' });
    assert.equal(c.value('live', true), false, 'an off flag serves its off variation');
    assert.equal(c.details('live', true).reason, 'DISABLED');
    assert.ok(c.version > 0);
  });

  test('a missing flag, or a server-only one, gives the default with FLAG_NOT_FOUND', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    for (const key of ['nope', 'hidden']) {
      assert.deepEqual(c.details(key, 'dflt'),
        { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
      assert.equal(c.value(key, 7), 7);
    }
    assert.equal(c.all().hidden, undefined);
  });

  test('a value of another type than the default gives the default with TYPE_MISMATCH', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    const d = c.details('color', 42);
    assert.equal(d.value, 42);
    assert.equal(d.errorCode, 'TYPE_MISMATCH');
  });

  test('all() lists every client-side value', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    assert.deepEqual(c.all(), { banner: true, live: false, vip: false, color: 'red' });
  });
});

describe('bootstrap', () => {
  test('values are served synchronously, before any request, and ready resolves at once', async () => {
    const res = await fetch(`${server.baseUrl}/sdk/v1/client/evaluate`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.clientKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ context: { key: 'u2' } }),
    });
    const bootstrap = await res.json();
    let requests = 0;
    const countingFetch = (...args) => { requests++; return fetch(...args); };
    const c = client({ context: { key: 'u2' }, bootstrap, fetch: countingFetch });
    assert.equal(c.value('vip', false), true, 'the bootstrapped value, synchronously');
    assert.equal(c.value('banner', false), true);
    const start = Date.now();
    assert.equal(await c.ready(), true);
    assert.ok(Date.now() - start < 50, 'ready without waiting for the network');
    assert.ok(requests <= 1);
  });

  test('no change event fires when the stream confirms the bootstrapped values', async () => {
    const bootstrap = { version: 1, flags: { banner: { value: true, variation: 0, variant: 'On', reason: 'STATIC' } } };
    const c = client({ context: { key: 'u1' }, bootstrap });
    const seen = [];
    c.on('change:banner', (v) => seen.push(v));
    c.on('change', (changes) => seen.push(Object.keys(changes)));
    await waitFor(() => c.value('color', '') === 'red', 3000);
    assert.equal(c.value('color', ''), 'red', 'the stream brought the rest');
    assert.ok(!seen.some((x) => x === true || (Array.isArray(x) && x.includes('banner'))), JSON.stringify(seen));
  });
});

describe('live updates', () => {
  test('a toggle in the admin API reaches the client within a second', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    assert.equal(c.value('live', false), false);
    const changes = [];
    const perFlag = [];
    c.on('change', (ch) => changes.push(ch));
    c.on('change:live', (current, previous) => perFlag.push([current, previous]));
    const start = Date.now();
    await server.toggle('live', true);
    await waitFor(() => perFlag.length > 0, 1000, 5);
    const elapsed = Date.now() - start;
    assert.deepEqual(perFlag, [[true, false]]);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    assert.deepEqual(changes.at(-1).live, { previous: false, current: true });
    assert.equal(c.value('live', false), true);
    assert.equal(c.details('live', false).reason, 'STATIC');

    // off again, and a listener removed with off() hears nothing more
    const removed = [];
    const cb = (v) => removed.push(v);
    c.on('change:live', cb);
    c.off('change:live', cb);
    await server.toggle('live', false);
    await waitFor(() => c.value('live', true) === false, 1000, 5);
    assert.equal(c.value('live', true), false);
    assert.deepEqual(removed, []);
  });

  test('a throwing listener breaks neither the client nor the other listeners', async () => {
    const log = recordingLogger();
    const c = client({ context: { key: 'u1' }, logger: log });
    await c.ready();
    const heard = [];
    c.on('change:live', () => { throw new Error('boom'); });
    c.on('change:live', (v) => heard.push(v));
    await server.toggle('live', true);
    await waitFor(() => heard.length === 1, 1000, 5);
    await server.toggle('live', false);
    await waitFor(() => heard.length === 2, 1000, 5);
    assert.deepEqual(heard, [true, false]);
    assert.equal(log.lines.filter((l) => l.includes('boom')).length, 1, 'logged once');
  });

  test('values are cached per client key and context, and served at the next start', async () => {
    const storage = new Map();
    const store = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v) };
    const c = client({ context: { key: 'cache-user' }, storage: store });
    await c.ready();
    c.close();
    assert.ok([...storage.keys()].some((k) => k.includes(server.clientKey) && k.endsWith(':cache-user')));
    // the next client, with a server that cannot be reached, starts from the cache
    const offline = createClient({ clientKey: server.clientKey, baseUrl: 'http://127.0.0.1:1',
      context: { key: 'cache-user' }, storage: store, logger: null, readyTimeout: 200 });
    open.push(offline);
    assert.equal(offline.value('banner', false), true);
    assert.equal(await offline.ready(), false, 'not ready: only cached values');
    offline.close();
  });
});

describe('reasons for values that may be out of date', () => {
  // a storage holding what an earlier visit of this context cached
  async function visited(contextKey) {
    const storage = new Map();
    const store = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v) };
    const first = client({ context: { key: contextKey }, storage: store });
    assert.equal(await first.ready(), true);
    first.close();
    return store;
  }

  test('cached values answer CACHED until the server sends fresh ones', async () => {
    const store = await visited('cached-user');
    const c = client({ context: { key: 'cached-user' }, storage: store });
    // read synchronously after createClient: no answer can have arrived yet
    assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'CACHED' });
    assert.equal(c.value('banner', false), true);
    assert.equal(c.details('nope', 1).reason, 'ERROR', 'errors keep their reason');
    assert.equal(await c.ready(), true);
    assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'STATIC' });

    // while the server cannot be reached, cached values stay CACHED
    const offline = client({ baseUrl: 'http://127.0.0.1:1', context: { key: 'cached-user' }, storage: store,
      readyTimeout: 200 });
    assert.equal(await offline.ready(), false);
    assert.equal(offline.details('banner', false).reason, 'CACHED');
    assert.equal(offline.details('live', true).variation, 1, 'the variation is kept');
  });

  test('identify serves the cached values as CACHED until its own arrive', async () => {
    const store = await visited('cached-2');
    const c = client({ context: { key: 'u1' }, storage: store });
    await c.ready();
    const pending = c.identify({ key: 'cached-2' });
    assert.equal(c.details('banner', false).reason, 'CACHED');
    assert.equal(await pending, true);
    assert.equal(c.details('banner', false).reason, 'STATIC');
  });

  test('bootstrap values keep their reasons, a cache notwithstanding', async () => {
    const store = await visited('cached-3');
    const bootstrap = { version: 1, flags: { banner: { value: true, variation: 0, variant: 'On', reason: 'TARGETING_MATCH' } } };
    const c = client({ context: { key: 'cached-3' }, storage: store, bootstrap });
    assert.equal(c.details('banner', false).reason, 'TARGETING_MATCH');
    assert.equal(c.value('live', 'none'), 'none', 'the bootstrap, not the cache');
  });

  test('after close(), values that were live answer STALE', async () => {
    const c = client({ context: { key: 'u1' } });
    assert.equal(await c.ready(), true);
    assert.equal(c.details('banner', false).reason, 'STATIC');
    c.close();
    assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'STALE' });
  });
});

describe('streaming: false', () => {
  test('fetches once at start and per identify, opens no stream', async () => {
    const urls = [];
    const spy = (url, init) => { urls.push(String(url)); return fetch(url, init); };
    const c = client({ context: { key: 'u1' }, streaming: false, fetch: spy });
    assert.equal(await c.ready(), true);
    assert.equal(c.value('vip', true), false);
    assert.equal(await c.identify({ key: 'u2' }), true);
    assert.equal(c.value('vip', false), true);
    assert.equal(urls.length, 2);
    assert.ok(urls.every((u) => u.endsWith('/sdk/v1/client/evaluate')));
  });
});

describe('identify', () => {
  test('switches the values and the stream to the new context', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    assert.equal(c.value('vip', false), false);
    const heard = [];
    c.on('change:vip', (v) => heard.push(v));
    assert.equal(await c.identify({ key: 'u2' }), true);
    assert.equal(c.value('vip', false), true);
    assert.deepEqual(c.context, { key: 'u2' });
    assert.deepEqual(heard, [true]);

    // the stream now follows u2: targeting u2 out of vip arrives live
    await server.configure('vip', { targets: [] });
    await waitFor(() => c.value('vip', true) === false, 1000, 5);
    assert.equal(c.value('vip', true), false);
    await server.configure('vip', { targets: [{ variation: 0, values: ['u2'] }] });
    await waitFor(() => c.value('vip', false) === true, 1000, 5);
    assert.equal(c.value('vip', false), true);
  });
});

describe('failures', () => {
  test('a refused key (401) stops for good: ready resolves false, logged once, no retries', async () => {
    const log = recordingLogger();
    let requests = 0;
    const countingFetch = (...args) => { requests++; return fetch(...args); };
    const c = client({ clientKey: 'ls_cli_not-a-real-key', context: { key: 'u1' }, logger: log,
      fetch: countingFetch, initialRetryDelay: 50 });
    let failed = 0;
    c.on('failed', () => failed++);
    assert.equal(await c.ready(), false);
    await sleep(400);
    assert.equal(requests, 1, 'no retry after 401');
    assert.equal(failed, 1);
    assert.equal(log.lines.length, 1, log.lines.join('\n'));
    assert.match(log.lines[0], /401/);
    assert.equal(c.value('banner', 'dflt'), 'dflt');
    assert.equal(await c.identify({ key: 'u2' }), false);
  });

  test('Retry-After on a 503 is respected before the next attempt', async () => {
    const attempts = [];
    let refused = false;
    const flakyFetch = (url, init) => {
      if (String(url).includes('/client/stream')) {
        attempts.push(Date.now());
        if (!refused) {
          refused = true;
          return Promise.resolve(new Response('{"error":{}}', { status: 503, headers: { 'Retry-After': '2' } }));
        }
      }
      return fetch(url, init);
    };
    const c = client({ context: { key: 'u1' }, fetch: flakyFetch, initialRetryDelay: 10, readyTimeout: 0 });
    assert.equal(await c.ready(), true);
    assert.equal(attempts.length, 2);
    assert.ok(attempts[1] - attempts[0] >= 1990, `retried after ${attempts[1] - attempts[0]} ms`);
    assert.equal(c.value('banner', false), true);
  });

  test('an unreachable server: defaults, never a throw, ready resolves false after readyTimeout', async () => {
    const c = createClient({ clientKey: 'ls_cli_x', baseUrl: 'http://127.0.0.1:1', context: { key: 'nobody' },
      logger: null, readyTimeout: 300, storage: false });
    open.push(c);
    assert.equal(await c.ready(), false);
    assert.equal(c.value('banner', 'dflt'), 'dflt');
    assert.equal(c.details('banner', 1).errorCode, 'FLAG_NOT_FOUND');
    assert.deepEqual(c.all(), {});
    c.close();
  });

  test('a server key given as clientKey is never sent: defaults, one error that says why', async () => {
    const log = recordingLogger();
    const requests = [];
    const recordingFetch = (...args) => { requests.push(String(args[0])); return fetch(...args); };
    const secret = await server.serverKey();
    const c = createClient({ clientKey: secret, baseUrl: server.baseUrl, context: { key: 'u1' },
      logger: log, fetch: recordingFetch, storage: false });
    open.push(c);
    assert.equal(await c.ready(), false);
    await sleep(200);
    assert.deepEqual(requests, [], 'nothing went to the server');
    assert.equal(c.value('banner', 'dflt'), 'dflt');
    assert.equal(log.lines.length, 1, log.lines.join('\n'));
    assert.match(log.lines[0], /server key/);
    assert.ok(!log.lines[0].includes(secret), 'the key is not logged either');
    c.close();
  });

  test('no clientKey: ready resolves false, nothing throws', async () => {
    const c = createClient({ baseUrl: server.baseUrl, logger: null });
    assert.equal(await c.ready(), false);
    assert.equal(c.value('banner', 3), 3);
    c.close();
  });
});
