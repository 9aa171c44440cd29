// The SDK's browser transport (EventSource, as in a page) run in Node with the `eventsource`
// package standing in for the browser's: values, live changes, and a refused key detected by
// probing (EventSource hides the HTTP status).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';
import { createClient } from '../../sdks/js/src/index.js';
import { TestServer, sleep, waitFor } from '../../sdks/js/test/harness.js';

const server = new TestServer();
const clients = [];
let savedEventSource;

before(async () => {
  savedEventSource = globalThis.EventSource;
  globalThis.EventSource = EventSource;
  await server.setup();
  await server.createFlag('banner');
});

after(async () => {
  for (const c of clients) c.close();
  globalThis.EventSource = savedEventSource;
  await server.cleanup();
});

test('over EventSource: ready, then a toggle arrives live', async () => {
  let streamFetches = 0;
  const fetchSpy = (url, init) => {
    if (String(url).includes('/client/stream')) streamFetches++;
    return fetch(url, init);
  };
  const c = createClient({ clientKey: server.clientKey, baseUrl: server.baseUrl, context: { key: 'u1' },
    transport: 'eventsource', fetch: fetchSpy, logger: null });
  clients.push(c);
  assert.equal(await c.ready(), true);
  assert.equal(c.value('banner', true), false);
  const heard = [];
  c.on('change:banner', (v) => heard.push(v));
  await server.toggle('banner', true);
  await waitFor(() => heard.length > 0, 1000, 5);
  assert.deepEqual(heard, [true]);
  assert.equal(streamFetches, 0, 'the stream went through EventSource, not fetch');
});

test('over EventSource: a refused key stops for good after one probe', async () => {
  const lines = [];
  let requests = 0;
  const fetchSpy = (url, init) => { requests++; return fetch(url, init); };
  const c = createClient({ clientKey: 'ls_cli_wrong', baseUrl: server.baseUrl, context: { key: 'u1' },
    transport: 'eventsource', fetch: fetchSpy, initialRetryDelay: 50,
    logger: { warn: (m) => lines.push(m), error: (m) => lines.push(m) } });
  clients.push(c);
  assert.equal(await c.ready(), false);
  await sleep(300);
  assert.equal(requests, 1, 'one probe, no retries');
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0], /401/);
});
