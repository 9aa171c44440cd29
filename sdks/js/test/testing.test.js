// Testing code that uses the SDK, with no server: createTestClient (values set by the test,
// changes simulated with the same events as live updates) and createClient({offline: true}).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, createTestClient } from '../src/index.js';

// Code "under test", as an application would write it: it renders from the flags and re-renders
// when they change.
function mountCheckout(flags, page) {
  const render = () => {
    page.html = flags.value('new-checkout', false) ? `<new-checkout>${flags.value('checkout-copy', 'Buy')}`
      : '<old-checkout>';
  };
  render();
  flags.on('change', render);
}

test('values as given, reason STATIC, ready at once, all() and version', async () => {
  const flags = createTestClient({ 'new-checkout': true, 'checkout-copy': 'Buy now', limit: 3, cfg: { a: [1] } });
  assert.equal(await flags.ready(), true);
  assert.equal(flags.value('new-checkout', false), true);
  assert.equal(flags.value('checkout-copy', ''), 'Buy now');
  assert.deepEqual(flags.value('cfg', {}), { a: [1] });
  assert.deepEqual(flags.details('limit', 0), { value: 3, variation: null, variant: null, reason: 'STATIC' });
  assert.equal(flags.details('limit', 'x').errorCode, 'TYPE_MISMATCH');
  assert.deepEqual(flags.details('nope', 'd'),
    { value: 'd', variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' });
  assert.deepEqual(flags.all(), { 'new-checkout': true, 'checkout-copy': 'Buy now', limit: 3, cfg: { a: [1] } });
  assert.equal(flags.version, 1);
  flags.close();
});

test('set() and delete() drive the application as live updates would', () => {
  const flags = createTestClient({ 'new-checkout': false });
  const page = {};
  mountCheckout(flags, page);
  assert.equal(page.html, '<old-checkout>');

  const perFlag = [];
  const all = [];
  flags.on('change:new-checkout', (current, previous) => perFlag.push([current, previous]));
  flags.on('change', (changes) => all.push(changes));

  flags.set('new-checkout', true);
  assert.equal(page.html, '<new-checkout>Buy');
  assert.deepEqual(perFlag, [[true, false]]);

  flags.set({ 'checkout-copy': 'Pay', 'new-checkout': true }); // one event, only what changed
  assert.equal(page.html, '<new-checkout>Pay');
  assert.deepEqual(all.at(-1), { 'checkout-copy': { previous: undefined, current: 'Pay' } });

  flags.set('new-checkout', true); // the same value: nothing to announce
  assert.equal(all.length, 2);

  flags.delete('checkout-copy');
  assert.equal(page.html, '<new-checkout>Buy');
  assert.deepEqual(all.at(-1), { 'checkout-copy': { previous: 'Pay', current: undefined } });
  assert.equal(flags.details('checkout-copy', 'x').errorCode, 'FLAG_NOT_FOUND');
  assert.equal(flags.version, 5);
});

test('set() with details: a variation, a reason, a rule, or an error code', () => {
  const flags = createTestClient();
  flags.set('plan', 'gold', { variation: 2, variant: 'Gold', reason: 'TARGETING_MATCH', ruleId: 'r1', ruleIndex: 0 });
  assert.deepEqual(flags.details('plan', ''),
    { value: 'gold', variation: 2, variant: 'Gold', reason: 'TARGETING_MATCH', ruleId: 'r1', ruleIndex: 0 });
  flags.set('plan', 'ignored', { errorCode: 'PARSE_ERROR' });
  assert.deepEqual(flags.details('plan', 'dflt'),
    { value: 'dflt', variation: null, variant: null, reason: 'ERROR', errorCode: 'PARSE_ERROR' });
  assert.equal(flags.value('plan', 'dflt'), 'dflt');
  assert.deepEqual(flags.all(), {});
});

test('values from a function of the context, again at each identify, with change events', async () => {
  const flags = createTestClient((context) => ({ vip: context.key === 'vip-1', copy: `hi ${context.key}` }),
    { context: { key: 'u1' } });
  assert.equal(flags.value('vip', true), false);
  const heard = [];
  flags.on('change:vip', (current) => heard.push(current));
  assert.equal(await flags.identify({ key: 'vip-1' }), true);
  assert.equal(flags.value('vip', false), true);
  assert.equal(flags.value('copy', ''), 'hi vip-1');
  assert.deepEqual(flags.context, { key: 'vip-1' });
  assert.deepEqual(heard, [true]);
});

test('a values function that throws, and listeners that throw or reject, are logged, not thrown', async () => {
  const lines = [];
  const logger = { error: (m) => lines.push(m), warn: (m) => lines.push(m) };
  const rejections = [];
  const onRejection = (e) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  try {
    const flags = createTestClient(() => { throw new Error('bad values'); }, { logger });
    assert.deepEqual(flags.all(), {});
    flags.on('change', () => { throw new Error('sync boom'); });
    flags.on('change:a', async () => { throw new Error('async boom'); });
    flags.set('a', 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(flags.value('a', 0), 1);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  assert.deepEqual(rejections, []);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.ok(['bad values', 'sync boom', 'async boom'].every((m) => lines.some((l) => l.includes(m))));
});

test('identify() with a context JSON cannot represent resolves false and serves defaults', async () => {
  const flags = createTestClient({ a: true }, { logger: null });
  const ctx = { key: 'x' };
  ctx.self = ctx;
  assert.equal(await flags.identify(ctx), false);
  assert.equal(flags.value('a', false), false);
});

test('offline: serves the bootstrap, makes no request, identify keeps the values', async () => {
  let requests = 0;
  const bootstrap = { version: 7, flags: { banner: { value: true, variation: 0, variant: 'On', reason: 'DEFAULT' } } };
  const flags = createClient({ offline: true, bootstrap, context: { key: 'u1' }, baseUrl: 'http://127.0.0.1:1',
    fetch: () => { requests++; return Promise.reject(new Error('no')); } });
  assert.equal(await flags.ready(), true);
  assert.deepEqual(flags.details('banner', false), { value: true, variation: 0, variant: 'On', reason: 'DEFAULT' });
  assert.equal(flags.version, 7);
  assert.equal(await flags.identify({ key: 'u2' }), true);
  assert.equal(flags.value('banner', false), true);
  assert.equal(requests, 0);
  const empty = createClient({ offline: true });
  assert.equal(await empty.ready(), true);
  assert.equal(empty.details('banner', 1).errorCode, 'FLAG_NOT_FOUND');
});

test('test and offline clients hold no timer or connection: a test process exits by itself', () => {
  const script = `
    import { createClient, createTestClient } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
    const t = createTestClient({ a: true });
    t.set('a', false);
    const o = createClient({ offline: true, bootstrap: { version: 1, flags: {} } });
    await t.ready(); await o.ready(); await t.identify({ key: 'x' });
    console.log(t.value('a', true));
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(run.signal, null, 'killed: the process did not exit by itself');
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout.trim(), 'false');
});

test("the docs' example test (docs/sdk-js.md, Test your own code) runs and passes as written", () => {
  const doc = readFileSync(new URL('../../../docs/sdk-js.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('## Test your own code'));
  const code = section.match(/```js\n([\s\S]*?)```/)[1];
  assert.match(code, /from '@launchsequence\/js'/);
  const dir = mkdtempSync(join(tmpdir(), 'launchseq-doc-'));
  try {
    const file = join(dir, 'example.test.mjs');
    const sdk = JSON.stringify(new URL('../src/index.js', import.meta.url).href);
    writeFileSync(file, code.replace("'@launchsequence/js'", sdk));
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // a test runner of its own, not a child reporting to this one
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', file],
      { encoding: 'utf8', timeout: 20000, env });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /# pass 1\b/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
