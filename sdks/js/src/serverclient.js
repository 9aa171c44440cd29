// The server-side client: one evaluate request per call, with the secret server key.

import { cleanFlags, detailsOf, errorDetails, validState } from './entries.js';
import { postJson, trimSlash } from './http.js';
import { errorText, makeLog } from './log.js';

/**
 * A server-side client for Node: every call is one `POST /sdk/v1/evaluate` with the server
 * key; any failure (network, timeout, HTTP error) answers the default.
 * @param {import('./index.d.ts').ServerClientOptions} options
 */
export function createServerClient(options) {
  return new LaunchSequenceServerClient(options && typeof options === 'object' ? options : {});
}

class InvalidContext extends Error {}

class LaunchSequenceServerClient {
  constructor(options) {
    this._log = makeLog(options.logger);
    this._key = String(options.serverKey || '');
    this._baseUrl = trimSlash(options.baseUrl);
    const t = options.timeout;
    this._timeout = typeof t === 'number' && Number.isFinite(t) && t >= 0 ? Math.min(t, 0x7fffffff) : 2000;
    this._fetch = typeof options.fetch === 'function' ? options.fetch
      : typeof fetch === 'function' ? fetch.bind(globalThis) : null;
    this._controller = new AbortController();
    this._closed = false;
    if (!this._key) this._log.once('no-key', 'no serverKey given; every call answers its default', 'error');
  }

  async _call(context, flags, defaults) {
    if (this._closed) throw new Error('client closed');
    if (!this._key || !this._fetch) throw new Error('not configured');
    const body = { context };
    if (flags) body.flags = flags;
    // The server checks a default against the flag's type (which only it knows).
    if (defaults) body.defaults = defaults;
    let bodyText;
    try { bodyText = JSON.stringify(body); } catch (e) {
      this._log.once('context', `a context cannot be turned into JSON (${errorText(e)}); answering defaults`);
      throw new InvalidContext(errorText(e));
    }
    try {
      const answer = await postJson(this._fetch, `${this._baseUrl}/sdk/v1/evaluate`, this._key, bodyText,
        this._timeout, this._controller.signal);
      if (!validState(answer)) throw new Error('unexpected answer');
      this._log.clear();
      return cleanFlags(answer.flags);
    } catch (e) {
      const status = e && e.status;
      const what = status === 401 || status === 403
        ? `the server key was refused (HTTP ${status})`
        : `evaluation failed (${e && e.name === 'AbortError' ? 'timeout' : errorText(e)})`;
      this._log.once(`fail:${status || 'net'}`, `${what}; answering defaults`);
      throw e;
    }
  }

  async details(key, context, defaultValue) {
    try {
      const given = defaultValue != null;
      const flags = await this._call(context, [key], given ? { [key]: defaultValue } : null);
      return detailsOf(flags[key], defaultValue, null, given);
    } catch (e) {
      return errorDetails(defaultValue, e instanceof InvalidContext ? 'INVALID_CONTEXT' : 'GENERAL');
    }
  }

  async evaluate(key, context, defaultValue) {
    return (await this.details(key, context, defaultValue)).value;
  }

  async all(context) {
    const out = {};
    try {
      const flags = await this._call(context, null);
      for (const [k, e] of Object.entries(flags)) if (!e.error_code) out[k] = e.value;
    } catch (_) { /* the empty answer is the default */ }
    return out;
  }

  close() {
    this._closed = true;
    try { this._controller.abort(); } catch (_) { /* ignore */ }
  }
}
