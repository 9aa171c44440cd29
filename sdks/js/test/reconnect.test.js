// Reconnection against a real server that crashes and comes back on the same port and data dir.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '../src/index.js';
import { TestServer, sleep, waitFor } from './harness.js';

const server = new TestServer();
let client;

before(async () => {
  await server.setup();
  await server.createFlag('live');
  await server.createFlag('steady');
  await server.toggle('steady', true);
});

after(async () => {
  client?.close();
  await server.cleanup();
});

test('values keep being served (as STALE) while the server is down, and changes flow again after it restarts', async () => {
  const log = [];
  let streams = 0;
  const countingFetch = (url, init) => {
    if (String(url).includes('/client/stream')) streams++;
    return fetch(url, init);
  };
  client = createClient({
    clientKey: server.clientKey, baseUrl: server.baseUrl, context: { key: 'u1' }, fetch: countingFetch,
    // the production backoff (1 s doubling to 30 s) is covered in unit.test.js; shorter here
    initialRetryDelay: 250, maxRetryDelay: 2000,
    logger: { warn: (m) => log.push(m), error: (m) => log.push(m) },
  });
  assert.equal(await client.ready(), true);
  assert.equal(client.value('steady', false), true);

  await server.stop(); // SIGKILL: connections cut without goodbye
  await sleep(1000); // a few failed reconnects
  assert.equal(client.value('steady', false), true, 'last values served while down');
  assert.equal(client.value('live', true), false);
  // ... and their details say they may be out of date
  assert.deepEqual(client.details('steady', false), { value: true, variation: 0, variant: 'On', reason: 'STALE' });
  assert.equal(client.details('live', true).variation, 1);
  assert.equal(client.details('live', true).reason, 'STALE');
  assert.ok(streams >= 2, `reconnect attempted (${streams} stream requests)`);
  const warnings = log.length;
  assert.equal(warnings, 1, `one log line for the outage, not one per attempt: ${log.join(' | ')}`);

  await server.start();
  // reconnected: the next connection's put arrives; then a toggle reaches the client live
  const before = streams;
  await waitFor(() => streams > before, 10000, 20);
  await sleep(300);
  const heard = [];
  client.on('change:live', (v) => heard.push(v));
  await server.toggle('live', true);
  await waitFor(() => heard.length > 0, 3000, 10);
  assert.deepEqual(heard, [true]);
  assert.equal(client.value('live', false), true);
  assert.equal(client.value('steady', false), true);
  assert.equal(client.details('steady', false).reason, 'STATIC', 'fresh again');
  assert.equal(client.details('live', false).reason, 'STATIC');
});
