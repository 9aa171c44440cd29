// The language-neutral vectors (spec/vectors/*.json) through this SDK. The SDK does not
// evaluate locally (it is a thin client: the server evaluates with the engine), so each
// vector's snapshot is written into a real server through the admin API's import (one project
// per vector, salts as the vector gives them, or the flag key as the engine defaults), and
// every evaluation of the vector is asked through `createServerClient().details()` and
// compared with what the vector expects: value, variation, variant, reason, error code, rule.
//
// A vector that cannot be written through the admin API is named below with the reason; every
// other vector must import and pass.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServerClient } from '../src/index.js';
import { REPO_ROOT, TestServer } from './harness.js';

const VECTORS = join(REPO_ROOT, 'spec', 'vectors');
const server = new TestServer();

/** Why a vector does not apply to an SDK that evaluates through the server, or null. */
function notApplicable(vector) {
  if ('compile_error' in vector) return 'a snapshot the compiler refuses: the admin API refuses it at write time';
  if (vector.strict === false) return 'a lenient-compile case: the admin API only stores what the strict compiler accepts';
  if ((vector.evaluations || []).some((e) => 'now' in e)) return 'fixes the clock of the evaluation: a server evaluates at its own time';
  const flags = Object.values(snapshotOf(vector).flags);
  if (flags.some((f) => 'set_aside' in f)) return 'a flag the server set aside: cannot be written through the API';
  if (JSON.stringify(vector).includes('"$now"')) return 'reads the clock (`$now`): a server evaluates at its own time';
  if (Object.keys(snapshotOf(vector).flags).some((k) => !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(k))) {
    return 'a flag key the admin API does not take (lowercase letters, digits, ".", "_", "-")';
  }
  if (flags.some((f) => typeof f.salt === 'string' && !/^[!-~]{1,32}$/.test(f.salt))) {
    return 'a salt the admin API does not take (it takes 1 to 32 printable ASCII characters)';
  }
  return null;
}

function snapshotOf(vector) {
  if ('flag' in vector) return { flags: { [vector.flag.key]: vector.flag }, segments: {} };
  return vector.snapshot;
}

/** The vector's snapshot as an import document of one environment, `production`. */
function documentOf(vector, projectKey) {
  const snap = snapshotOf(vector);
  const flags = Object.entries(snap.flags).map(([key, f]) => ({
    key,
    name: key,
    type: f.type,
    variations: f.variations,
    salt: f.salt ?? key,
    metadata: f.metadata ?? {},
    environments: {
      production: {
        on: f.on,
        off_variation: f.off_variation ?? null,
        prerequisites: f.prerequisites ?? [],
        targets: f.targets ?? [],
        rules: f.rules ?? [],
        fallthrough: f.fallthrough ?? null,
        client_side: f.client_side ?? false,
      },
    },
  }));
  const segments = Object.entries(snap.segments || {}).map(([key, s]) => ({
    key, included: s.included ?? [], excluded: s.excluded ?? [], rules: s.rules ?? [],
  }));
  return {
    format: 'launchsequence-project', version: 1,
    project: { key: projectKey, name: projectKey },
    environments: [{ key: 'production', name: 'Production' }],
    flags, segments: { production: segments },
  };
}

/** JSON equality as the engine's vector runner has it: 1 equals 1.0, true is not 1. */
function same(actual, expected) {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length
      && expected.every((e, i) => same(actual[i], e));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  const a = Object.keys(actual).sort(); const e = Object.keys(expected).sort();
  return a.length === e.length && e.every((k, i) => a[i] === k && same(actual[k], expected[k]));
}

const FIELDS = [ // the vector's name -> the SDK's
  ['value', 'value'], ['variation', 'variation'], ['variant', 'variant'], ['reason', 'reason'],
  ['error_code', 'errorCode'], ['rule_id', 'ruleId'], ['rule_index', 'ruleIndex'],
];

const files = readdirSync(VECTORS).filter((n) => n.endsWith('.json')).sort();
const vectors = files.map((name) => ({ name, vector: JSON.parse(readFileSync(join(VECTORS, name), 'utf8')) }));

before(async () => { await server.setup(); });
after(() => server.cleanup());

test('every applicable vector answers through the SDK what it expects', async () => {
  const skipped = [];
  const failures = [];
  let checked = 0;
  for (const [index, { name, vector }] of vectors.entries()) {
    const why = notApplicable(vector);
    if (why) { skipped.push(`${name}: ${why}`); continue; }
    const project = `v${index}`;
    try {
      await server.api('POST', `/api/v1/orgs/${server.org}/import?project=${project}`, documentOf(vector, project));
    } catch (err) {
      failures.push(`${name}: import refused: ${err.message}`);
      continue;
    }
    const { key } = await server.api('POST',
      `/api/v1/orgs/${server.org}/projects/${project}/environments/production/sdk-keys`,
      { kind: 'server', grace_seconds: 0 });
    const ls = createServerClient({ serverKey: key, baseUrl: server.baseUrl, logger: null, timeout: 10000 });
    const items = [...(vector.evaluations || []).map((e) => [e.flag, e.context, e.default ?? null, e.expected])];
    for (const all of vector.evaluate_all || []) {
      for (const [flag, expected] of Object.entries(all.expected)) items.push([flag, all.context, null, expected]);
    }
    for (const [i, [flag, context, dflt, expected]] of items.entries()) {
      const got = await ls.details(flag, context, dflt);
      checked += 1;
      for (const [theirs, ours] of FIELDS) {
        const want = theirs in expected ? expected[theirs] : undefined;
        const have = got[ours];
        const ok = want === undefined ? (theirs === 'value' || theirs === 'variation' || theirs === 'variant'
          || theirs === 'reason' || have === undefined || have === null) : same(have ?? null, want);
        if (!ok) {
          failures.push(`${name} #${i} ${flag} ${JSON.stringify(context)}: ${ours} is ${JSON.stringify(have)}, expected ${JSON.stringify(want)}`);
        }
      }
    }
    ls.close();
  }
  console.log(`vectors: ${vectors.length}; evaluations checked through the SDK: ${checked}; not applicable: ${skipped.length}`);
  for (const line of skipped) console.log(`  not applicable: ${line}`);
  assert.deepEqual(failures, []);
  assert.ok(checked >= 250, `only ${checked} evaluations checked`);
});
