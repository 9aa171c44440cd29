// The server-side client: one POST /sdk/v1/evaluate per call, the default on any failure.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServerClient } from '../src/index.js';
import { TestServer } from './harness.js';

const server = new TestServer();
let serverKey;

before(async () => {
  await server.setup();
  await server.createFlag('beta', { client_side: false });
  await server.configure('beta', { on: true, fallthrough: { variation: 1 },
    rules: [{ clauses: [{ attribute: 'plan', op: 'in', values: ['enterprise'] }], serve: { variation: 0 } }] });
  await server.createFlag('limit', { type: 'number', variations: [{ value: 10 }, { value: 100 }] });
  await server.toggle('limit', true);
  serverKey = await server.serverKey();
});

after(() => server.cleanup());

test('evaluate, details and all answer what the server evaluates, server-only flags included', async () => {
  const ls = createServerClient({ serverKey, baseUrl: server.baseUrl, logger: null });
  assert.equal(await ls.evaluate('beta', { key: 'u1', plan: 'enterprise' }, false), true);
  assert.equal(await ls.evaluate('beta', { key: 'u1', plan: 'free' }, true), false);
  const d = await ls.details('beta', { key: 'u1', plan: 'enterprise' }, false);
  assert.equal(d.value, true);
  assert.equal(d.reason, 'TARGETING_MATCH');
  assert.equal(d.variation, 0);
  assert.equal(typeof d.ruleId, 'string');
  assert.equal(d.ruleIndex, 0);
  assert.deepEqual(await ls.all({ key: 'u1' }), { beta: false, limit: 10 });
  const missing = await ls.details('nope', { key: 'u1' }, 'dflt');
  assert.deepEqual(missing, { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
  // The key is optional: beta's rule reads only the plan.
  const noKey = await ls.details('beta', { plan: 'enterprise' }, false);
  assert.equal(noKey.value, true);
  assert.equal(noKey.reason, 'TARGETING_MATCH');
  assert.equal(noKey.errorCode, undefined);
  assert.equal((await ls.details('limit', { key: 'u1' }, 'x')).errorCode, 'TYPE_MISMATCH');
  ls.close();
});

test('a wrong key, a client key or an unreachable server answer the default, logged once', async () => {
  for (const key of ['ls_srv_wrong', server.clientKey]) {
    const lines = [];
    const ls = createServerClient({ serverKey: key, baseUrl: server.baseUrl, logger: { warn: (m) => lines.push(m) } });
    assert.equal(await ls.evaluate('beta', { key: 'u1', plan: 'enterprise' }, 'dflt'), 'dflt');
    assert.equal(await ls.evaluate('beta', { key: 'u1' }, 'dflt'), 'dflt');
    assert.deepEqual(await ls.all({ key: 'u1' }), {});
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /40[13]/);
  }
  const down = createServerClient({ serverKey, baseUrl: 'http://127.0.0.1:1', logger: null });
  const d = await down.details('beta', { key: 'u1' }, 'dflt');
  assert.equal(d.value, 'dflt');
  assert.equal(d.reason, 'ERROR');
});

test('a context JSON cannot represent answers the default with INVALID_CONTEXT, logged once', async () => {
  const lines = [];
  const ls = createServerClient({ serverKey, baseUrl: server.baseUrl, logger: { warn: (m) => lines.push(m) } });
  const ctx = { key: 'u1', plan: 'enterprise' };
  ctx.self = ctx;
  assert.deepEqual(await ls.details('beta', ctx, 'dflt'),
    { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'INVALID_CONTEXT' });
  assert.equal(await ls.evaluate('beta', { key: 'u1', seats: 10n }, 'dflt'), 'dflt');
  assert.deepEqual(await ls.all(ctx), {});
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /cannot be turned into JSON/);
  // the client still works for the next context
  assert.equal(await ls.evaluate('beta', { key: 'u1', plan: 'enterprise' }, false), true);
  assert.equal((await ls.details('constructor', { key: 'u1' }, 'dflt')).errorCode, 'FLAG_NOT_FOUND');
  ls.close();
});

test('a server slower than the timeout answers the default in time', async () => {
  const slow = createServer((req, res) => { setTimeout(() => res.end('{}'), 2000).unref(); });
  await new Promise((r) => slow.listen(0, '127.0.0.1', r));
  try {
    const ls = createServerClient({ serverKey, baseUrl: `http://127.0.0.1:${slow.address().port}`, timeout: 200, logger: null });
    const start = Date.now();
    assert.equal(await ls.evaluate('beta', { key: 'u1' }, 'dflt'), 'dflt');
    assert.ok(Date.now() - start < 1000);
  } finally {
    slow.closeAllConnections();
    slow.close();
  }
});
