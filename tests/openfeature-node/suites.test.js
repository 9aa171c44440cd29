// OpenFeature's own specification suites (its Gherkin files, as written) against a real server,
// through the published Node providers: @openfeature/server-sdk + @openfeature/ofrep-provider
// (server key) and @openfeature/web-sdk + @openfeature/ofrep-web-provider (client key).
//
// The feature files and test-flags.json are read from <repo>/../shared/openfeature-spec (never
// copied here); the flags are written into the server as tests/support/openfeature_suites.py
// translates them (the Python suites use the same translation). Scenarios that cannot apply to
// a remote provider are skipped with the reason, as in tests/http/test_openfeature_suites.py.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AstBuilder, GherkinClassicTokenMatcher, Parser, compile } from '@cucumber/gherkin';
import { IdGenerator } from '@cucumber/messages';
import { TestServer } from '../../sdks/js/test/harness.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = join(REPO, '.venv', 'bin', 'python');
const FEATURES = ['evaluation.feature', 'evaluation_v2.feature', 'metadata.feature'];

// The flags as the Python side translates them, and where the suites are.
const translated = JSON.parse(execFileSync(PYTHON, ['-m', 'tests.support.openfeature_suites'], { cwd: REPO }));
const SPEC = translated.dir;
if (!SPEC && process.env.CI === 'true') throw new Error('../shared/openfeature-spec is missing');
const FLAGS = SPEC ? JSON.parse(readFileSync(join(SPEC, 'test-flags.json'), 'utf8')) : {};

function pickles() {
  const out = [];
  for (const name of FEATURES) {
    const newId = IdGenerator.uuid();
    const parser = new Parser(new AstBuilder(newId), new GherkinClassicTokenMatcher());
    const document = parser.parse(readFileSync(join(SPEC, name), 'utf8'));
    for (const pickle of compile(document, name, newId)) out.push({ feature: name, pickle });
  }
  return out;
}

const NOT_FOR_A_REMOTE_PROVIDER = {
  'a not ready provider': 'needs a provider that never becomes ready (an SDK state)',
  'a fatal provider': 'needs a provider in the FATAL state (an SDK state)',
  'evaluation options containing specific hooks': "tests the SDK's hooks, not a provider",
  'an evaluation context with modifiable data': "tests the SDK's immutability, not a provider",
};

/** Why a scenario cannot apply to a remote provider, or null (as the Python suites decide). */
function notApplicable(pickle) {
  const all = JSON.stringify(pickle.steps.map((s) => s.text));
  for (const { text } of pickle.steps) {
    if (NOT_FOR_A_REMOTE_PROVIDER[text]) return NOT_FOR_A_REMOTE_PROVIDER[text];
    const status = /^an? (\w+) provider$/.exec(text);
    if (status && status[1] !== 'stable') return `needs a provider in the ${status[1]} SDK state`;
    if (text.startsWith('the flag was evaluated with details') && all.includes('CACHED')) {
      return 'CACHED is the SDK\'s cache answering; a remote provider asks every time';
    }
    for (const m of text.matchAll(/flag with key "([^"]+)"/g)) {
      if (!(m[1] in FLAGS) && !m[1].startsWith('non-existent') && !m[1].startsWith('missing')) {
        return `its flag '${m[1]}' is not in test-flags.json`;
      }
    }
  }
  return null;
}

const TYPES = { boolean: 'Boolean', string: 'String', integer: 'Integer', float: 'Float', object: 'Object' };

function typed(kind, text) {
  if (text === null || text === undefined || text === 'null') return null;
  if (kind === 'Boolean') return text === 'true';
  if (kind === 'Integer' || kind === 'Float') return Number(text);
  if (kind === 'Object') return JSON.parse(text.replaceAll('\\"', '"'));
  return text;
}

const METHODS = { Boolean: 'Boolean', String: 'String', Integer: 'Number', Float: 'Number', Object: 'Object' };

/** One scenario's steps, on a provider adapter: evaluate(kind, key, default, context), status(). */
async function run(pickle, adapter) {
  const s = { kind: 'String', key: '', fallback: null, context: {}, details: null };
  const evaluate = async () => { s.details = await adapter.evaluate(s.kind, s.key, s.fallback, s.context); };
  const done = () => { assert.ok(s.details, 'nothing was evaluated'); return s.details; };
  const steps = [
    [/^a stable provider$/, () => {}],
    [/^an? (\w+)-flag with key "([^"]*)" and a fallback value "(.*)"$/, (k, key, d) => {
      s.kind = k; s.key = key; s.fallback = typed(k, d);
    }],
    [/^a context containing a key "(\w+)", with type "(\w+)" and with value "(.*)"$/, (n, k, v) => {
      s.context[n] = typed(k, v);
    }],
    [/^a context containing a key "(\w+)" with null value$/, (n) => { s.context[n] = null; }],
    [/^the flag was evaluated with details( asynchronously)?$/, evaluate],
    [/^the evaluation should complete without blocking$/, () => {}],
    [/^the resolved details value should be "(.*)"$/, (v) => assert.deepEqual(done().value, typed(s.kind, v))],
    [/^the reason should be "(\w+)"$/, (r) => assert.equal(done().reason, r, JSON.stringify(done()))],
    [/^the error-code should be "(\w+)"$/, (c) => assert.equal(done().errorCode, c, JSON.stringify(done()))],
    [/^the flag key should be "(.*)"$/, (k) => assert.equal(done().flagKey, k)],
    [/^the variant should be "([^"]*)"$/, (v) => assert.equal(done().variant, v, JSON.stringify(done()))],
    [/^the provider status should be "(\w+)"$/, (st) => assert.equal(adapter.status(), st)],
    [/^the resolved metadata should contain$/, (rows) => {
      for (const [key, kind, value] of rows.slice(1)) assert.deepEqual(done().flagMetadata[key], typed(kind, value));
    }],
    [/^the resolved metadata is empty$/, () => assert.deepEqual(done().flagMetadata, {})],
    // evaluation.feature (v1)
    [/^an? (\w+) flag with key "([^"]*)" is evaluated with (?:details and )?(?:default value "?([^"]*)"?|a null default value)$/,
      async (k, key, d) => {
        s.kind = TYPES[k]; s.key = key; s.fallback = d === undefined ? {} : typed(s.kind, d);
        await evaluate();
      }],
    [/^the resolved (\w+) value should be "?([^"]*)"?$/, (k, v) => assert.deepEqual(done().value, typed(TYPES[k], v))],
    [/^the resolved (\w+) details value should be "?([^",]*)"?, the variant should be "(\w+)", and the reason should be "(\w+)"$/,
      (k, v, variant, reason) => {
        assert.deepEqual(done().value, typed(TYPES[k], v));
        assert.equal(done().variant, variant);
        assert.equal(done().reason, reason);
      }],
    [/^the resolved object (?:details )?value should be contain fields "(\w+)", "(\w+)", and "(\w+)", with values "(\w+)", "([^"]*)" and (\d+), respectively$/,
      (a, b, c, va, vb, vc) => assert.deepEqual(done().value, { [a]: va === 'true', [b]: vb, [c]: Number(vc) })],
    [/^the variant should be "(\w+)", and the reason should be "(\w+)"$/, (variant, reason) => {
      assert.equal(done().variant, variant);
      assert.equal(done().reason, reason);
    }],
    [/^a non-existent string flag with key "([^"]*)" is evaluated with details and a fallback value "([^"]*)"$/,
      async (key, d) => { s.kind = 'String'; s.key = key; s.fallback = d; await evaluate(); }],
    [/^a string flag with key "([^"]*)" is evaluated as an integer, with details and a fallback value (\d+)$/,
      async (key, d) => { s.kind = 'Integer'; s.key = key; s.fallback = Number(d); await evaluate(); }],
    [/^the default (\w+) value should be returned$/, () => assert.deepEqual(done().value, s.fallback)],
    [/^the reason should indicate an error and the error code should indicate an? [\w ]+ with "(\w+)"$/, (c) => {
      assert.equal(done().reason, 'ERROR');
      assert.equal(done().errorCode, c);
    }],
  ];
  for (const step of pickle.steps) {
    const found = steps.find(([re]) => re.test(step.text));
    if (!found) throw new Error(`no step definition for ${JSON.stringify(step.text)}`);
    const args = found[0].exec(step.text).slice(1);
    const table = step.argument?.dataTable;
    if (table) args.push(table.rows.map((r) => r.cells.map((c) => c.value)));
    await found[1](...args);
  }
}

const SCENARIOS = SPEC ? pickles() : [];
const server = new TestServer();
let serverKey = '';

before(async () => {
  if (!SPEC) return;
  await server.setup();
  for (const [body, config] of translated.flags) {
    await server.createFlag(body.key, body);
    await server.api('PUT', server.projectPath(`/flags/${body.key}/environments/production`), config);
  }
  serverKey = await server.serverKey();
});

after(async () => {
  if (SPEC) await server.cleanup();
});

test('the suites are there', (t) => {
  if (!SPEC) { t.skip('../shared/openfeature-spec is not beside this clone'); return; }
  assert.ok(SCENARIOS.length > 80);
});

function suite(name, makeAdapter, knownDefect = () => null) {
  describe(name, () => {
    let adapter;
    before(async () => { if (SPEC) adapter = await makeAdapter(); });
    after(async () => { if (adapter) await adapter.close(); });
    const seen = {};
    for (const { feature, pickle } of SCENARIOS) {
      const id = `${feature}:${pickle.name}`;
      seen[id] = (seen[id] || 0) + 1;
      const reason = notApplicable(pickle);
      const title = seen[id] > 1 ? `${id}#${seen[id]}` : id;
      const defect = knownDefect(pickle);
      if (reason) {
        test(title, { skip: `not applicable to a remote provider: ${reason}` }, () => {});
      } else if (defect) {
        // Run, reported as TODO: a defect of the published provider, not of the server.
        test(title, { todo: defect }, () => run(pickle, adapter));
      } else {
        test(title, () => run(pickle, adapter));
      }
    }
  });
}

suite('server-sdk + ofrep-provider', async () => {
  const { OpenFeature } = await import('@openfeature/server-sdk');
  const { OFREPProvider } = await import('@openfeature/ofrep-provider');
  const provider = new OFREPProvider({ baseUrl: server.baseUrl, headers: [['Authorization', `Bearer ${serverKey}`]] });
  await OpenFeature.setProviderAndWait('server-suites', provider);
  const client = OpenFeature.getClient('server-suites');
  return {
    evaluate: (kind, key, fallback, context) => client[`get${METHODS[kind]}Details`](key, fallback, context),
    status: () => client.providerStatus,
    close: () => OpenFeature.close(),
  };
}, (pickle) => (pickle.steps.some((s) => s.text === 'the reason should be "DISABLED"')
  ? '@openfeature/ofrep-provider 0.1.3 (the latest; on @openfeature/ofrep-core 0.1.x) refuses '
    + "OFREP's code default (an answer without `value`) as malformed"
  : null));

suite('web-sdk + ofrep-web-provider', async () => {
  const { OpenFeature } = await import('@openfeature/web-sdk');
  const { OFREPWebProvider } = await import('@openfeature/ofrep-web-provider');
  const provider = new OFREPWebProvider({
    baseUrl: server.baseUrl,
    headers: [['Authorization', `Bearer ${server.clientKey}`]],
    pollInterval: 600_000,
  });
  await OpenFeature.setContext('web-suites', {});
  await OpenFeature.setProviderAndWait('web-suites', provider);
  const client = OpenFeature.getClient('web-suites');
  let current = '{}';
  return {
    // A web provider evaluates for one context at a time: a new context is set (and fetched)
    // before the flag is read.
    evaluate: async (kind, key, fallback, context) => {
      if (JSON.stringify(context) !== current) {
        current = JSON.stringify(context);
        await OpenFeature.setContext('web-suites', context);
      }
      return client[`get${METHODS[kind]}Details`](key, fallback);
    },
    status: () => client.providerStatus,
    close: () => OpenFeature.close(),
  };
});
