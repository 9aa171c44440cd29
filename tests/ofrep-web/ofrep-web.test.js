// The published OpenFeature OFREP web provider (@openfeature/ofrep-web-provider), unchanged,
// against a real Launch Sequence server: it evaluates with the client key, follows our
// `eventStreams` entry (SSE at /ofrep/v1/events) and re-fetches on `refetchEvaluation`.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource as NodeEventSource } from 'eventsource';
import { TestServer, waitFor } from '../../sdks/js/test/harness.js';

// Node has no EventSource; the provider uses the global one. Record the URLs it opens.
const opened = [];
globalThis.EventSource = class extends NodeEventSource {
  constructor(url, init) {
    super(url, init);
    opened.push(String(url));
  }
};

const { OpenFeature, ProviderEvents } = await import('@openfeature/web-sdk');
const { OFREPWebProvider } = await import('@openfeature/ofrep-web-provider');

const server = new TestServer();

before(async () => {
  await server.setup();
  await server.createFlag('new-checkout');
  await server.createFlag('server-only', { client_side: false });
  await server.toggle('server-only', true);
});

after(async () => {
  await OpenFeature.close();
  await server.cleanup();
});

test('the OFREP web provider reads flags and follows changes over our SSE event stream', async () => {
  const provider = new OFREPWebProvider({
    baseUrl: server.baseUrl,
    headers: [['Authorization', `Bearer ${server.clientKey}`]],
    pollInterval: 600_000, // a change must come through SSE, not polling
  });
  await OpenFeature.setContext({ targetingKey: 'u1' });
  await OpenFeature.setProviderAndWait(provider);
  const client = OpenFeature.getClient();

  assert.equal(client.getBooleanValue('new-checkout', true), false);
  const before = client.getBooleanDetails('new-checkout', true);
  assert.equal(before.reason, 'DISABLED');
  assert.equal(before.variant, 'Off');
  // a client key sees client-side flags only
  const hidden = client.getBooleanDetails('server-only', false);
  assert.equal(hidden.value, false);
  assert.equal(hidden.errorCode, 'FLAG_NOT_FOUND');

  await waitFor(() => opened.length > 0, 3000);
  assert.equal(opened.length, 1);
  assert.match(opened[0], new RegExp(`^${server.baseUrl}/ofrep/v1/events\\?token=`));
  assert.ok(!opened[0].includes(server.clientKey), 'the stream URL never carries the key');

  const changed = [];
  client.addHandler(ProviderEvents.ConfigurationChanged, (details) => changed.push(details));
  await new Promise((r) => setTimeout(r, 200)); // the EventSource is open
  const start = Date.now();
  await server.toggle('new-checkout', true);
  await waitFor(() => changed.length > 0 && client.getBooleanValue('new-checkout', false) === true, 5000);
  assert.ok(changed.length > 0, 'ConfigurationChanged emitted');
  assert.ok(changed[0].flagsChanged.includes('new-checkout'), JSON.stringify(changed[0]));
  assert.equal(client.getBooleanValue('new-checkout', false), true);
  assert.equal(client.getBooleanDetails('new-checkout', false).reason, 'STATIC');
  assert.ok(Date.now() - start < 5000);

  // and back off
  changed.length = 0;
  await server.toggle('new-checkout', false);
  await waitFor(() => changed.length > 0 && client.getBooleanValue('new-checkout', true) === false, 5000);
  assert.equal(client.getBooleanValue('new-checkout', true), false);

  // a new context is re-evaluated
  await OpenFeature.setContext({ targetingKey: 'u2' });
  assert.equal(client.getBooleanValue('new-checkout', true), false);
});
