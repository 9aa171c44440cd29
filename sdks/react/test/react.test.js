// @launchsequence/react rendered by React for real against a live Launch Sequence server: the
// server render with bootstrap, hydration in a DOM (happy-dom) with no mismatch and no second
// render, live updates that re-render only the components reading the changed flag, context
// changes, and what unmount closes.

import { closeDom, window } from './dom.js'; // first: react-dom looks for a DOM when it loads

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StrictMode, createElement as h, useState } from 'react';
import { renderToString } from 'react-dom/server';
import { createRoot, hydrateRoot } from 'react-dom/client';
import { createClient, createTestClient } from '@launchsequence/js';
import {
  LaunchSequenceProvider, fetchBootstrap, useFlag, useFlagDetail, useFlags,
  useLaunchSequenceClient, useLaunchSequenceStatus,
} from '@launchsequence/react';
import { TestServer, sleep, waitFor } from '../../js/test/harness.js';

const server = new TestServer();
const cleanups = [];
const roots = []; // unmounted after each test, so that render counts are each test's own
const document = window.document;

afterEach(() => {
  for (const root of roots.splice(0)) root.unmount();
});

before(async () => {
  await server.setup();
  await server.createFlag('banner');
  await server.toggle('banner', true);
  await server.createFlag('other');
  await server.createFlag('color', {
    type: 'string',
    variations: [{ value: 'red', name: 'Red' }, { value: 'blue', name: 'Blue' }],
  });
  await server.toggle('color', true);
  await server.createFlag('vip'); // false for everyone but u2
  await server.configure('vip', { on: true, fallthrough: { variation: 1 }, targets: [{ variation: 0, values: ['u2'] }] });
});

after(async () => {
  for (const fn of cleanups.reverse()) { try { await fn(); } catch (_) { /* keep cleaning */ } }
  await server.cleanup();
  await closeDom();
});

/** Render counts per component name, and what React reported as errors. */
let renders = {};
const reported = [];
const consoleError = console.error;
console.error = (...args) => { reported.push(args.map(String).join(' ')); };
cleanups.push(() => { console.error = consoleError; });

function Flag({ name, fallback }) {
  renders[name] = (renders[name] || 0) + 1;
  return h('span', { id: name }, String(useFlag(name, fallback)));
}

function App() {
  return h('div', null,
    h(Flag, { name: 'banner', fallback: false }),
    h(Flag, { name: 'color', fallback: 'none' }),
    h(Flag, { name: 'other', fallback: true }));
}

/** A fetch that remembers the streams it opened, and whether each was closed since. */
function recordingFetch() {
  const streams = [];
  const f = (url, init) => {
    if (String(url).includes('/client/stream')) streams.push(init.signal);
    return fetch(url, init);
  };
  f.streams = streams;
  f.open = () => streams.filter((s) => !s.aborted).length;
  return f;
}

function container(html = '') {
  const el = document.createElement('div');
  el.innerHTML = html;
  document.body.appendChild(el);
  return el;
}

function mount(element, el = container()) {
  const root = createRoot(el);
  root.render(element);
  roots.push(root);
  return { el, root };
}

const text = (el, id) => el.querySelector(`#${id}`)?.textContent;

async function waitText(el, id, expected, timeout = 1000) {
  const ok = await waitFor(() => text(el, id) === expected, timeout, 5);
  assert.ok(ok, `#${id} should show ${expected} within ${timeout} ms, shows ${text(el, id)}`);
}

/** A provider creating its client; no cache shared between tests (Node's is in memory). */
function provider(props, child = h(App)) {
  const options = { storage: false, ...props.options };
  return h(LaunchSequenceProvider, { clientKey: server.clientKey, baseUrl: server.baseUrl, ...props, options }, child);
}

describe('server rendering and hydration', () => {
  test('the server renders the bootstrap values, opening no connection', async () => {
    const context = { key: 'u1' };
    const bootstrap = await fetchBootstrap({ clientKey: server.clientKey, baseUrl: server.baseUrl, context });
    assert.equal(bootstrap.flags.banner.value, true);
    const f = recordingFetch();
    const html = renderToString(provider({ context, bootstrap, options: { fetch: f } }));
    assert.match(html, /<span id="banner">true<\/span>/);
    assert.match(html, /<span id="color">red<\/span>/);
    assert.match(html, /<span id="other">false<\/span>/);
    assert.equal(f.streams.length, 0);
  });

  test('hydration uses exactly those values: no mismatch, no second render, then live updates', async () => {
    await server.toggle('banner', true);
    const context = { key: 'u1' };
    const bootstrap = await fetchBootstrap({ clientKey: server.clientKey, baseUrl: server.baseUrl, context });
    const element = () => provider({ context, bootstrap, options: { fetch: f } });
    const f = recordingFetch();
    const html = renderToString(element());
    const el = container(html);
    const mutations = [];
    const observer = new window.MutationObserver((records) => {
      for (const r of records) mutations.push(r.target.textContent);
    });
    observer.observe(el, { subtree: true, childList: true, characterData: true });
    renders = {};
    reported.length = 0;
    const recoverable = [];
    roots.push(hydrateRoot(el, element(), { onRecoverableError: (e) => recoverable.push(String(e)) }));
    assert.ok(await waitFor(() => f.streams.length === 1 && renders.banner, 3000), 'the stream opens');
    await sleep(300); // the stream's first put arrives: it confirms the bootstrap
    assert.deepEqual(recoverable, []);
    assert.deepEqual(reported, [], 'React reported no hydration problem');
    assert.deepEqual(renders, { banner: 1, color: 1, other: 1 }, 'one render each, nothing re-rendered');
    await Promise.resolve();
    assert.deepEqual(mutations, [], 'the DOM the server rendered was never changed');
    assert.equal(text(el, 'banner'), 'true');

    await server.toggle('banner', false);
    await waitText(el, 'banner', 'false');
    assert.deepEqual(renders, { banner: 2, color: 1, other: 1 }, 'only the component reading banner');
    observer.disconnect();
  });

  test('without bootstrap the server renders defaults and the browser fills in the values', async () => {
    await server.toggle('banner', true);
    const f = recordingFetch();
    const element = () => provider({ context: { key: 'u1' }, options: { fetch: f } });
    const html = renderToString(element());
    assert.match(html, /<span id="banner">false<\/span>/);
    const el = container(html);
    const recoverable = [];
    reported.length = 0;
    roots.push(hydrateRoot(el, element(), { onRecoverableError: (e) => recoverable.push(String(e)) }));
    await waitText(el, 'banner', 'true', 3000);
    assert.equal(text(el, 'color'), 'red');
    assert.deepEqual(recoverable, []);
    assert.deepEqual(reported, []);
  });
});

describe('hooks', () => {
  test('useFlag re-renders only for its own flag', async () => {
    await server.toggle('banner', true);
    await server.toggle('other', false);
    renders = {};
    const { el } = mount(provider({ context: { key: 'u1' } }));
    await waitText(el, 'banner', 'true', 3000);
    const settled = { ...renders };
    await server.toggle('other', true);
    await waitText(el, 'other', 'true');
    assert.equal(renders.other, settled.other + 1);
    assert.equal(renders.banner, settled.banner, 'banner did not re-render for other');
    assert.equal(renders.color, settled.color, 'color did not re-render for other');
    await server.toggle('other', false);
  });

  test('useFlagDetail, useFlags and useLaunchSequenceStatus follow the client', async () => {
    await server.toggle('banner', true);
    const seen = [];
    function Details() {
      const detail = useFlagDetail('vip', false);
      const all = useFlags();
      const status = useLaunchSequenceStatus();
      seen.push(status);
      return h('p', { id: 'details' }, JSON.stringify({ detail, all, ready: status.ready, stale: status.stale }));
    }
    const { el } = mount(provider({ context: { key: 'u2' } }, h(Details)));
    const ok = await waitFor(() => JSON.parse(text(el, 'details') || '{}').ready, 3000);
    assert.ok(ok, 'becomes ready');
    const shown = JSON.parse(text(el, 'details'));
    assert.deepEqual(shown.detail, { value: true, variation: 0, variant: 'On', reason: 'TARGETING_MATCH' });
    assert.deepEqual(shown.all, { banner: true, other: false, color: 'red', vip: true });
    assert.equal(shown.stale, false);
    assert.deepEqual(seen[0], { ready: false, stale: false, error: null }, 'not ready before values arrive');
  });

  test('a refused client key shows in the status as an error', async () => {
    function Status() {
      const s = useLaunchSequenceStatus();
      return h('p', { id: 'status' }, s.error ? `error: ${s.error}` : `ready: ${s.ready}`);
    }
    const { el } = mount(provider({ clientKey: 'ls_cli_not-a-key', options: { logger: null } }, h(Status)));
    assert.ok(await waitFor(() => (text(el, 'status') || '').startsWith('error:'), 3000), text(el, 'status'));
    assert.match(text(el, 'status'), /refused \(HTTP 401\)/);
  });

  test('outside a provider the hooks answer defaults', () => {
    const html = renderToString(h(App));
    assert.match(html, /<span id="banner">false<\/span><span id="color">none<\/span><span id="other">true<\/span>/);
  });
});

describe('context and lifetime', () => {
  test('a new context re-evaluates, and the stream follows it', async () => {
    await server.configure('vip', { targets: [{ variation: 0, values: ['u2'] }] });
    let setUser;
    function Root() {
      const [user, set] = useState('u1');
      setUser = set;
      // a new object each render: compared by its JSON, not identity
      return provider({ context: { key: user } }, h(Flag, { name: 'vip', fallback: null }));
    }
    const { el } = mount(h(Root));
    await waitText(el, 'vip', 'false', 3000);
    setUser('u2');
    await waitText(el, 'vip', 'true', 2000);
    await sleep(200); // the new context's stream opens
    await server.configure('vip', { targets: [] });
    await waitText(el, 'vip', 'false');
    await server.configure('vip', { targets: [{ variation: 0, values: ['u2'] }] });
  });

  test('unmount closes the client the provider created', async () => {
    let client = null;
    function Grab() {
      client = useLaunchSequenceClient();
      return h(Flag, { name: 'banner', fallback: false });
    }
    const f = recordingFetch();
    const el = container();
    const root = createRoot(el);
    root.render(provider({ context: { key: 'u1' }, options: { fetch: f } }, h(Grab)));
    assert.ok(await waitFor(() => client && client.details('banner', null).reason === 'STATIC', 3000));
    assert.equal(f.open(), 1);
    root.unmount();
    assert.equal(f.open(), 0, 'its stream was closed');
    assert.equal(client.details('banner', false).reason, 'STALE');
  });

  test('under StrictMode only one client stays open, and it serves live values', async () => {
    await server.toggle('banner', true);
    const f = recordingFetch();
    const el = container();
    const root = createRoot(el);
    root.render(h(StrictMode, null, provider({ context: { key: 'u1' }, options: { fetch: f } })));
    await waitText(el, 'banner', 'true', 3000);
    assert.equal(f.open(), 1, `${f.streams.length} opened, one left open`);
    await server.toggle('banner', false);
    await waitText(el, 'banner', 'false');
    root.unmount();
    assert.equal(f.open(), 0);
  });

  test("a client passed in is the application's: used, never closed", async () => {
    await server.toggle('banner', true);
    const client = createClient({
      clientKey: server.clientKey, baseUrl: server.baseUrl, context: { key: 'u1' }, logger: null, storage: false,
    });
    cleanups.push(() => client.close());
    const el = container();
    const root = createRoot(el);
    root.render(h(LaunchSequenceProvider, { client }, h(App)));
    await waitText(el, 'banner', 'true', 3000);
    root.unmount();
    await server.toggle('banner', false);
    assert.ok(await waitFor(() => client.value('banner', null) === false, 1000), 'still live after unmount');
    assert.equal(client.details('banner', null).reason, 'DISABLED');
  });

  test('a test client from @launchsequence/js drives components in tests', async () => {
    const client = createTestClient({ banner: true, color: 'blue' });
    renders = {};
    const { el } = mount(h(LaunchSequenceProvider, { client }, h(App)));
    await waitText(el, 'color', 'blue');
    client.set('banner', false);
    await waitText(el, 'banner', 'false');
    assert.equal(renders.color, 1);
  });
});

describe('fetchBootstrap', () => {
  test('resolves undefined, never rejects, when the key is refused or the server is away', async () => {
    assert.equal(await fetchBootstrap({ clientKey: 'ls_cli_nope', baseUrl: server.baseUrl }), undefined);
    assert.equal(await fetchBootstrap({ clientKey: server.clientKey, baseUrl: 'http://127.0.0.1:9', timeout: 500 }), undefined);
  });
});
