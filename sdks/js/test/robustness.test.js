// Nothing reaches the host application as an exception, against a real server: contexts that
// JSON cannot represent, listeners that throw or reject, malformed bootstrap values, no fetch,
// a logger that throws, odd options, and flag keys that are also names of Object.prototype.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../src/index.js';
import { TestServer, recordingLogger, waitFor } from './harness.js';

const server = new TestServer();
const open = [];
const escaped = []; // anything thrown out of the SDK into the event loop
const onUncaught = (e) => escaped.push(e);

function client(options) {
  const c = createClient({ clientKey: server.clientKey, baseUrl: server.baseUrl, logger: null, ...options });
  open.push(c);
  return c;
}

function circular() {
  const ctx = { key: 'u1' };
  ctx.self = ctx;
  return ctx;
}

before(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  await server.setup();
  await server.createFlag('banner');
  await server.toggle('banner', true);
  await server.createFlag('live');
});

afterEach(() => {
  assert.deepEqual(escaped.splice(0).map(String), [], 'nothing thrown into the host');
});

after(async () => {
  for (const c of open) c.close();
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await server.cleanup();
});

describe('a context that JSON cannot represent', () => {
  for (const [name, make] of [['circular', circular], ['with a BigInt', () => ({ key: 'u1', seats: 10n })]]) {
    test(`${name}: createClient serves defaults, logs once, and identify() with a good one recovers`, async () => {
      const log = recordingLogger();
      const c = client({ context: make(), logger: log });
      assert.equal(await c.ready(), false);
      assert.equal(c.value('banner', 'dflt'), 'dflt');
      assert.equal(c.details('banner', 'dflt').errorCode, 'FLAG_NOT_FOUND');
      assert.equal(log.lines.length, 1, log.lines.join('\n'));
      assert.match(log.lines[0], /cannot be turned into JSON/);

      assert.equal(await c.identify({ key: 'u1' }), true);
      assert.equal(c.value('banner', false), true);
      // and the stream follows the good context
      await server.toggle('live', true);
      await waitFor(() => c.value('live', false) === true, 3000, 10);
      assert.equal(c.value('live', false), true);
      await server.toggle('live', false);
    });
  }

  test('identify() with one resolves false and serves defaults, announcing the values gone', async () => {
    const log = recordingLogger();
    const c = client({ context: { key: 'u1' }, logger: log });
    assert.equal(await c.ready(), true);
    assert.equal(c.value('banner', false), true);
    const heard = [];
    c.on('change:banner', (current, previous) => heard.push([current, previous]));
    assert.equal(await c.identify(circular()), false);
    assert.equal(c.value('banner', 'dflt'), 'dflt');
    assert.deepEqual(heard, [[undefined, true]]);
    assert.equal(log.lines.filter((l) => /cannot be turned into JSON/.test(l)).length, 1);
    assert.equal(await c.identify({ key: 'u1' }), true);
    assert.equal(c.value('banner', false), true);
  });

  test('a context changed into one after createClient does not break the retry timer', async () => {
    // The first stream request fails, so the retry timer reconnects after the context changed.
    let refused = false;
    const flaky = (url, init) => {
      if (!refused && String(url).includes('/client/stream')) {
        refused = true;
        return Promise.reject(new TypeError('fetch failed'));
      }
      return fetch(url, init);
    };
    const ctx = { key: 'u1' };
    const c = client({ context: ctx, fetch: flaky, initialRetryDelay: 10, readyTimeout: 0 });
    ctx.self = ctx; // the SDK read the context when it was given
    assert.equal(await c.ready(), true);
    assert.ok(refused);
    assert.equal(c.value('banner', false), true);
  });
});

describe('listeners', () => {
  test('an async listener that rejects is logged once, never an unhandled rejection', async () => {
    const log = recordingLogger();
    const c = client({ context: { key: 'u1' }, logger: log });
    await c.ready();
    const heard = [];
    c.on('change:live', async () => { throw new Error('async boom'); });
    c.on('change', (changes) => heard.push(changes.live.current));
    await server.toggle('live', true);
    await waitFor(() => heard.length === 1, 3000, 5);
    await server.toggle('live', false);
    await waitFor(() => heard.length === 2, 3000, 5);
    assert.deepEqual(heard, [true, false]);
    await waitFor(() => log.lines.length > 0, 1000, 5); // a rejection is reported a tick later
    assert.equal(log.lines.filter((l) => l.includes('async boom')).length, 1, log.lines.join('\n'));
  });

  test('a logger that throws breaks nothing', async () => {
    const boom = () => { throw new Error('logger down'); };
    const c = client({ context: circular(), logger: { warn: boom, error: boom, debug: boom } });
    assert.equal(await c.ready(), false);
    c.on('change', () => { throw new Error('listener down'); });
    assert.equal(await c.identify({ key: 'u1' }), true); // fires the throwing listener, logs
    assert.equal(c.value('banner', false), true);
  });
});

describe('malformed bootstrap values', () => {
  for (const bootstrap of ['{"version":1,"flags":{}}', [], { flags: [] }, { version: 1 }, 42]) {
    test(`${JSON.stringify(bootstrap)} is ignored with one log line; the server's values follow`, async () => {
      const log = recordingLogger();
      const c = client({ context: { key: 'u1' }, bootstrap, logger: log, storage: false });
      assert.equal(c.value('banner', 'dflt'), 'dflt');
      assert.equal(await c.ready(), true);
      assert.equal(c.value('banner', false), true);
      assert.equal(log.lines.length, 1, log.lines.join('\n'));
      assert.match(log.lines[0], /bootstrap ignored/);
    });
  }

  test('malformed entries are left out, the others served', async () => {
    const bootstrap = { version: 1, flags: {
      banner: 5, live: null, odd: ['x'], shape: { variation: 0 },
      color: { value: 'blue', variation: 1, variant: 'Blue', reason: 'DEFAULT' },
    } };
    // the server never answers here: what is served is the bootstrap's
    const c = client({ context: { key: 'u1' }, bootstrap, streaming: false,
      fetch: () => Promise.reject(new TypeError('offline')) });
    assert.equal(c.value('color', ''), 'blue');
    for (const key of ['banner', 'live', 'odd', 'shape']) {
      assert.deepEqual(c.details(key, 'dflt'),
        { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    }
    assert.deepEqual(c.all(), { color: 'blue' });
  });
});

describe('the environment and the options', () => {
  test('no fetch() anywhere: defaults, ready resolves false, one log line', async () => {
    const saved = globalThis.fetch;
    const log = recordingLogger();
    let c;
    try {
      globalThis.fetch = undefined;
      c = createClient({ clientKey: 'ls_cli_x', baseUrl: 'http://127.0.0.1:1', logger: log });
    } finally {
      globalThis.fetch = saved;
    }
    open.push(c);
    assert.equal(await c.ready(), false);
    assert.equal(c.value('banner', 'dflt'), 'dflt');
    assert.equal(await c.identify({ key: 'u2' }), false);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0], /no fetch/);
  });

  test('a fetch option that is not a function falls back to the global fetch', async () => {
    const c = client({ context: { key: 'u1' }, fetch: 'fetch' });
    assert.equal(await c.ready(), true);
    assert.equal(c.value('banner', false), true);
  });

  test("transport: 'eventsource' where there is no EventSource uses fetch", async () => {
    assert.equal(typeof globalThis.EventSource, 'undefined');
    const c = client({ context: { key: 'u1' }, transport: 'eventsource' });
    assert.equal(await c.ready(), true);
    assert.equal(c.value('banner', false), true);
  });

  test('a timeout of Infinity is ignored, not taken as 1 ms', async () => {
    const c = client({ context: { key: 'u1' }, readyTimeout: Infinity, requestTimeout: Infinity });
    assert.equal(await c.ready(), true);
    assert.equal(await c.identify({ key: 'u2' }), true);
  });

  test('no options, or options that are not an object: defaults, one log line, never a throw', async () => {
    const saved = console.error;
    const lines = [];
    console.error = (m) => lines.push(m);
    try {
      for (const options of [undefined, null, 'ls_cli_x', 7]) {
        const c = createClient(options);
        open.push(c);
        assert.equal(await c.ready(), false);
        assert.equal(c.value('banner', 'dflt'), 'dflt');
        assert.deepEqual(c.all(), {});
        c.close();
      }
    } finally {
      console.error = saved;
    }
    assert.equal(lines.length, 4);
    assert.ok(lines.every((l) => /no clientKey/.test(l)), lines.join('\n'));
  });

  test('flag keys named like Object.prototype members are flags like any other', async () => {
    const c = client({ context: { key: 'u1' } });
    await c.ready();
    assert.deepEqual(c.details('constructor', 'dflt'),
      { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
    assert.equal(c.value('constructor', null), null);
    await server.createFlag('constructor');
    await server.toggle('constructor', true);
    await waitFor(() => c.value('constructor', false) === true, 3000, 5);
    assert.equal(c.value('constructor', false), true);
    assert.equal(c.all().constructor, true);
  });
});
