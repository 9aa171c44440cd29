// A client that is not receiving updates says so (reason STALE, `isStale`, the `stale` event,
// a log line), against a real server: a stream that goes silent, a server that cannot be
// reached, a refused key (at start and after being live), a closed client.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { createClient } from '../src/index.js';
import { TestServer, recordingLogger, sleep, waitFor } from './harness.js';

// A heartbeat every second: a 2.5 s streamTimeout keeps a live stream, and notices a silent one.
const server = new TestServer({ LAUNCHSEQ_SSE_HEARTBEAT_SECONDS: '1' });
const open = [];
let relay;

function client(options) {
  const c = createClient({ clientKey: server.clientKey, baseUrl: server.baseUrl, context: { key: 'u1' },
    initialRetryDelay: 100, maxRetryDelay: 400, ...options });
  open.push(c);
  return c;
}

/** What a client tells about staleness, in order. */
function watch(c) {
  const events = [];
  c.on('stale', (message) => events.push(['stale', message]));
  c.on('live', () => events.push(['live']));
  c.on('failed', () => events.push(['failed']));
  return events;
}

/**
 * A TCP relay to the server that can go silent: connections stay open and carry nothing, new
 * ones included (a stuck proxy, a dead NAT entry).
 */
function startRelay(port) {
  const sockets = new Set();
  const state = { silent: false };
  const srv = createServer((downstream) => {
    const upstream = connect(port, '127.0.0.1');
    for (const [from, to] of [[downstream, upstream], [upstream, downstream]]) {
      sockets.add(from);
      if (state.silent) from.pause();
      from.on('data', (chunk) => to.write(chunk));
      from.on('error', () => to.destroy());
      from.on('close', () => { sockets.delete(from); to.destroy(); });
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${srv.address().port}`,
    // paused sockets are not read: bytes wait in the kernel's buffers, and nothing moves
    silence() { state.silent = true; for (const s of sockets) s.pause(); },
    resume() { state.silent = false; for (const s of sockets) s.resume(); },
    close() { for (const s of sockets) s.destroy(); srv.close(); },
  })));
}

before(async () => {
  await server.setup();
  await server.createFlag('banner');
  await server.toggle('banner', true);
  relay = await startRelay(server.port);
});

after(async () => {
  for (const c of open) c.close();
  relay.close();
  await server.cleanup();
});

const BOOTSTRAP = { version: 1, flags: { banner: { value: true, variation: 0, variant: 'On', reason: 'DEFAULT' } } };

test('a stream that goes silent turns the values STALE, and they are live again with the stream', async () => {
  const log = recordingLogger();
  const c = client({ baseUrl: relay.url, streamTimeout: 2500, logger: log });
  const events = watch(c);
  assert.equal(await c.ready(), true);
  await sleep(3000); // heartbeats keep a quiet stream live past streamTimeout
  assert.deepEqual([c.details('banner', false).reason, c.isStale, events], ['STATIC', false, []]);

  relay.silence();
  assert.ok(await waitFor(() => c.isStale, 8000), 'stale once the stream has been silent too long');
  assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'STALE' });
  assert.equal(c.value('banner', false), true, 'the last value is still served');
  assert.deepEqual(events.map((e) => e[0]), ['stale']);
  assert.match(events[0][1], /no data for 2500 ms/);
  assert.equal(log.lines.length, 1, log.lines.join('\n'));
  assert.match(log.lines[0], /stream interrupted/);

  relay.resume();
  assert.ok(await waitFor(() => !c.isStale, 10000), 'live again');
  assert.deepEqual(events.map((e) => e[0]), ['stale', 'live']);
  assert.equal(c.details('banner', false).reason, 'STATIC');
});

test('bootstrap values answer STALE once the stream cannot be opened', async () => {
  const log = recordingLogger();
  const c = client({ baseUrl: 'http://127.0.0.1:9', bootstrap: BOOTSTRAP, logger: log });
  const events = watch(c);
  assert.equal(c.details('banner', false).reason, 'DEFAULT', 'rendered for this page: fresh at first');
  assert.ok(await waitFor(() => c.isStale, 3000), 'stale after the first failed attempt');
  assert.deepEqual(c.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'STALE' });
  await sleep(500); // more failed attempts: still one event, one log line
  assert.deepEqual(events.map((e) => e[0]), ['stale']);
  assert.equal(log.lines.length, 1, log.lines.join('\n'));
});

test('a refused key at start: bootstrap values answer STALE, and every sign says so', async () => {
  const log = recordingLogger();
  const c = client({ clientKey: 'ls_cli_wrong', bootstrap: BOOTSTRAP, logger: log });
  const events = watch(c);
  assert.ok(await waitFor(() => events.length >= 2, 3000), 'refused');
  assert.deepEqual(events.map((e) => e[0]), ['stale', 'failed']);
  assert.match(events[0][1], /refused \(HTTP 401\)/);
  assert.deepEqual([c.details('banner', false).reason, c.isStale, c.value('banner', false)], ['STALE', true, true]);
  assert.equal(log.lines.length, 1, log.lines.join('\n'));
  assert.match(log.lines[0], /refused/);
});

test('a key refused after being live: STALE for good', async () => {
  const log = recordingLogger();
  const c = client({ logger: log });
  const events = watch(c);
  assert.equal(await c.ready(), true);
  assert.equal(c.isStale, false);
  const rotated = await server.api('POST', server.projectPath('/environments/production/sdk-keys'),
    { kind: 'client', grace_seconds: 0 });
  try {
    assert.ok(await waitFor(() => events.some((e) => e[0] === 'failed'), 5000), 'refused');
    assert.deepEqual(events.map((e) => e[0]), ['stale', 'failed']);
    assert.deepEqual([c.details('banner', false).reason, c.isStale, c.value('banner', false)], ['STALE', true, true]);
    assert.ok(log.lines.some((l) => /refused/.test(l)), log.lines.join('\n'));
  } finally {
    server.clientKey = rotated.key;
  }
});

test('a closed client answers STALE', async () => {
  const c = client({});
  assert.equal(await c.ready(), true);
  assert.equal(c.isStale, false);
  c.close();
  assert.deepEqual([c.details('banner', false).reason, c.isStale], ['STALE', true]);
  const bootstrapped = client({ bootstrap: BOOTSTRAP, streaming: false, baseUrl: 'http://127.0.0.1:9' });
  bootstrapped.close();
  assert.equal(bootstrapped.isStale, true, 'closed before any stream: not current either');
});
