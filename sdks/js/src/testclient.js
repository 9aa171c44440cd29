// The test client: the client's API with no server.

import { LaunchSequenceClient } from './client.js';
import { errorText } from './log.js';

/**
 * A client with no server for testing code that uses the SDK: it serves `values` (or what
 * `values(context)` answers, again at each identify) and `set`/`delete` change them at once,
 * firing the same change events as a live update. See docs/sdk-js.md.
 * @param {Record<string, unknown> | ((context: object) => Record<string, unknown>)} [values]
 * @param {import('./index.d.ts').TestClientOptions} [options]
 */
export function createTestClient(values, options) {
  return new LaunchSequenceTestClient(values, options);
}

function testEntry(value, details) {
  const d = details && typeof details === 'object' ? details : {};
  const entry = { value, variation: d.variation ?? null, variant: d.variant ?? null, reason: d.reason || 'STATIC' };
  if (d.errorCode) { entry.value = null; entry.reason = 'ERROR'; entry.error_code = d.errorCode; }
  if (d.ruleId != null) { entry.rule_id = d.ruleId; entry.rule_index = d.ruleIndex ?? null; }
  return entry;
}

function testFlags(values) {
  const flags = {};
  if (values && typeof values === 'object') for (const k of Object.keys(values)) flags[k] = testEntry(values[k]);
  return flags;
}

class LaunchSequenceTestClient extends LaunchSequenceClient {
  constructor(values, options) {
    const o = options && typeof options === 'object' ? options : {};
    super({ offline: true, context: o.context, logger: o.logger });
    try {
      if (typeof values === 'function') {
        this._source = values;
        this._apply({ version: 1, flags: this._sourceFlags() }, false, null);
      } else {
        this._apply({ version: 1, flags: testFlags(values) }, false, null);
      }
    } catch (e) {
      this._log.once('test-values', `test values ignored: ${errorText(e)}`, 'error');
    }
  }

  _sourceFlags() {
    try {
      return testFlags(this._source(this._context));
    } catch (e) {
      this._log.once('test-values', `the test values function threw: ${errorText(e)}`, 'error');
      return {};
    }
  }

  /** `set(key, value, details?)` or `set({key: value, ...})`: applied at once, like a patch. */
  set(keyOrValues, value, details) {
    try {
      const flags = keyOrValues && typeof keyOrValues === 'object'
        ? testFlags(keyOrValues)
        : { [String(keyOrValues)]: testEntry(value, details) };
      this._patch({ version: this._version + 1, flags });
    } catch (e) {
      this._log.once('test-set', `set failed: ${errorText(e)}`, 'error');
    }
    return this;
  }

  /** Removes flags: they answer the caller's default with FLAG_NOT_FOUND. */
  delete(...keys) {
    try {
      this._patch({ version: this._version + 1, deleted: keys.map(String) });
    } catch (e) {
      this._log.once('test-set', `delete failed: ${errorText(e)}`, 'error');
    }
    return this;
  }
}
