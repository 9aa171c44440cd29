// The client-side client: one context's evaluated values, kept live over the stream.

import { DEFAULTS } from './defaults.js';
import { base64url } from './encoding.js';
import { validState } from './entries.js';
import { postJson, trimSlash } from './http.js';
import { errorText, makeLog } from './log.js';
import { backoffDelay } from './retry.js';
import { isNode } from './runtime.js';
import { contextCacheId, defaultStorage, isStorage } from './storage.js';
import { openEventSource, openFetchStream } from './transports.js';
import { FlagValues } from './values.js';

/**
 * A client for one context, keeping its evaluated values live. See docs/sdk-js.md.
 * @param {import('./index.d.ts').ClientOptions} options
 */
export function createClient(options) {
  return new LaunchSequenceClient(options);
}

export class LaunchSequenceClient extends FlagValues {
  constructor(options) {
    super();
    // Every field first, so that every method works whatever goes wrong below.
    this._opts = { ...DEFAULTS };
    this._clientKey = '';
    this._baseUrl = '';
    this._fetch = null;
    this._streaming = true;
    this._offline = false;
    this._transport = 'auto';
    this._storage = null;
    this._context = {};
    this._contextJson = '{}';
    this._source = null;
    this._live = false; // a `put` arrived on the stream now open
    this._closed = false;
    this._failed = false;
    this._generation = 0;
    this._attempt = 0;
    this._retryTimer = null;
    this._readyTimer = null;
    this._conn = null;
    this._ready = false;
    this._readyResolve = null;
    this._readyPromise = new Promise((resolve) => { this._readyResolve = resolve; });
    try {
      this._init(options && typeof options === 'object' ? options : {});
    } catch (e) {
      this._fail(`cannot start (${errorText(e)}); serving defaults`);
    }
  }

  _init(options) {
    this._log = makeLog(options.logger);
    for (const k of Object.keys(DEFAULTS)) {
      const v = options[k];
      // setTimeout treats a delay above 2^31-1 ms as 1 ms: clamp, never surprise
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) this._opts[k] = Math.min(v, 0x7fffffff);
    }
    this._offline = options.offline === true;
    const contextOk = this._setContext(options.context);
    const bootstrap = options.bootstrap;
    const bootstrapOk = validState(bootstrap);
    if (bootstrap != null && !bootstrapOk) {
      this._log.once('bootstrap', 'bootstrap ignored: expected {version, flags: {key: {value, ...}}}');
    }

    if (this._offline) {
      // No network, no timers, no storage: for tests and for running without a server.
      if (bootstrapOk) this._apply(bootstrap, false, null);
      this._markReady(true);
      return;
    }

    this._clientKey = String(options.clientKey || '');
    this._baseUrl = trimSlash(options.baseUrl || (typeof location !== 'undefined' ? location.origin : ''));
    this._fetch = typeof options.fetch === 'function' ? options.fetch
      : typeof fetch === 'function' ? fetch.bind(globalThis) : null;
    this._streaming = options.streaming !== false;
    this._transport = options.transport || 'auto';
    this._storage = options.storage === false ? null
      : isStorage(options.storage) ? options.storage : defaultStorage();

    if (!this._clientKey) return this._fail('no clientKey given; serving defaults');
    // A server key is secret: never send it from a web page, nor in a stream URL (logged).
    if (this._clientKey.startsWith('ls_srv_')) {
      this._clientKey = '';
      return this._fail('clientKey is a server key (ls_srv_...), which is secret and must not be ' +
        "in a web page: use the environment's client key (ls_cli_...); serving defaults");
    }
    if (!this._fetch) return this._fail('no fetch() in this environment; serving defaults');

    if (bootstrapOk) {
      this._apply(bootstrap, false, null);
      this._markReady(true);
    } else if (contextOk) {
      const cached = this._readCache();
      if (cached) this._apply(cached, false, 'CACHED');
    }
    if (!contextOk) {
      this._markReady(false); // nothing will arrive until identify() gets a usable context
      return;
    }
    if (this._opts.readyTimeout > 0 && !this._ready) {
      this._readyTimer = setTimeout(() => {
        this._log.once('ready-timeout', `not ready after ${this._opts.readyTimeout} ms; serving cached values or defaults`);
        this._markReady(false);
      }, this._opts.readyTimeout);
    }
    this._start();
  }

  // public API: never throws

  ready() { return this._readyPromise; }

  get context() { return this._context; }
  identify(newContext) {
    try {
      if (this._closed || this._failed) return Promise.resolve(false);
      const generation = ++this._generation; // answers for the previous context are dropped
      this._stopConnection();
      this._attempt = 0;
      if (!this._setContext(newContext)) {
        this._apply({ flags: {} }, false, null); // the previous context's values are not its
        return Promise.resolve(false);
      }
      if (this._offline) {
        if (this._source) this._apply({ flags: this._sourceFlags() }, false, null);
        return Promise.resolve(true);
      }
      const cached = this._readCache();
      if (cached) this._apply(cached, false, 'CACHED');
      return this._evaluate(generation).then((ok) => {
        if (generation === this._generation && !this._closed && !this._failed && this._streaming) {
          this._connect(generation);
        }
        return ok;
      }).catch((e) => {
        this._log.once('identify', `identify failed: ${errorText(e)}`, 'error');
        return false;
      });
    } catch (e) {
      this._log.once('identify', `identify failed: ${errorText(e)}`, 'error');
      return Promise.resolve(false);
    }
  }

  close() {
    try {
      if (this._closed) return;
      this._closed = true;
      this._generation++;
      this._stopConnection();
      this._goStale('the client was closed', false); // nothing keeps the values current now
      if (this._readyTimer) clearTimeout(this._readyTimer);
      this._markReady(false);
      this._listeners.clear();
    } catch (_) { /* close must not throw either */ }
  }

  // internals

  /** Takes a context and its JSON once; false (logged) when JSON cannot represent it. */
  _setContext(context) {
    this._context = context && typeof context === 'object' && !Array.isArray(context) ? context : {};
    let json = null;
    let why = 'not an object';
    try { json = JSON.stringify(this._context); } catch (e) { why = errorText(e); }
    this._contextJson = typeof json === 'string' ? json : null;
    if (this._contextJson === null) {
      this._log.once('context', `the context cannot be turned into JSON (${why}); serving defaults ` +
        'until identify() is given one that can', 'error');
      return false;
    }
    this._log.clear('context');
    return true;
  }

  _markReady(ok) {
    if (this._ready) return;
    this._ready = true;
    if (this._readyTimer) clearTimeout(this._readyTimer);
    this._readyResolve(ok);
    if (ok) this._emit('ready');
  }

  _fail(message) {
    this._failed = true;
    this._log.once('permanent', message, 'error');
    this._stopConnection();
    this._goStale(message); // never updated again
    this._markReady(false);
    this._emit('failed', message);
  }

  _cacheKey() {
    return `launchsequence:${this._clientKey}:${contextCacheId(this._context, this._contextJson)}`;
  }

  _readCache() {
    if (!this._storage || this._contextJson === null) return null;
    try {
      const raw = this._storage.getItem(this._cacheKey());
      const state = raw ? JSON.parse(raw) : null;
      return validState(state) ? state : null;
    } catch (_) { return null; }
  }

  _writeCache() {
    if (!this._storage || this._contextJson === null) return;
    try {
      this._storage.setItem(this._cacheKey(), JSON.stringify({ version: this._version, flags: this._flags }));
    } catch (e) {
      this._log.once('cache', `cannot cache values: ${errorText(e)}`);
    }
  }

  /** The test client's values for the current context (see createTestClient). */
  _sourceFlags() {
    return {};
  }

  _start() {
    const generation = ++this._generation;
    if (this._streaming) this._connect(generation);
    else this._evaluate(generation);
  }

  /** One `POST /sdk/v1/client/evaluate`; true when values arrived. Never rejects. */
  async _evaluate(generation) {
    try {
      const body = await postJson(this._fetch, `${this._baseUrl}/sdk/v1/client/evaluate`,
        this._clientKey, `{"context":${this._contextJson}}`, this._opts.requestTimeout);
      if (generation !== this._generation || this._closed) return false;
      if (!validState(body)) throw new Error('unexpected answer');
      this._apply(body);
      this._log.clear('network');
      this._markReady(true);
      return true;
    } catch (e) {
      if (generation !== this._generation || this._closed) return false;
      this._handleFailure(e, null);
      return false;
    }
  }

  /** The connection is being replaced (identify, close): values that were live are stale. */
  _lostStream() {
    if (this._live) {
      this._live = false;
      this._mark = 'STALE';
    }
  }

  /**
   * Nothing keeps the values current any more (the stream failed or went silent, the key was
   * refused, the client closed): values that were not already marked answer `STALE` until a
   * `put` arrives on an open stream, bootstrap and fetched values included. The `stale` event
   * says so once per outage (the log line is the caller's).
   */
  _goStale(message, tell = true) {
    this._live = false;
    if (this._mark !== null || this._offline || !Object.keys(this._flags).length) return;
    this._mark = 'STALE';
    if (tell) this._emit('stale', message);
  }

  _stopConnection() {
    if (this._retryTimer) { clearTimeout(this._retryTimer); this._retryTimer = null; }
    if (this._conn) {
      const conn = this._conn;
      this._conn = null;
      this._lostStream();
      try { conn.close(); } catch (_) { /* ignore */ }
    }
  }

  _connect(generation) {
    try {
      if (generation !== this._generation || this._closed || this._failed) return;
      if (this._contextJson === null) return;
      this._stopConnection();
      const url = `${this._baseUrl}/sdk/v1/client/stream?key=${encodeURIComponent(this._clientKey)}` +
        `&context=${base64url(this._contextJson)}`;
      // These run from the transport's own callbacks (EventSource's in a browser): never let
      // anything escape from them into the page.
      const guard = (fn) => (arg) => {
        if (generation !== this._generation) return;
        try { fn(arg); } catch (e) { this._log.once('internal', `stream event failed: ${errorText(e)}`, 'error'); }
      };
      const handlers = {
        open: guard(() => {
          this._connectedAt = Date.now();
          this._log.clear('network');
        }),
        event: guard((ev) => {
          let payload;
          try { payload = JSON.parse(ev.data); } catch (_) {
            this._log.once('parse', `unreadable '${ev.event}' event ignored`);
            return;
          }
          if (ev.event === 'put' && validState(payload)) {
            const wasStale = this._mark === 'STALE';
            this._apply(payload);
            this._live = true;
            this._markReady(true);
            if (wasStale) this._emit('live');
          } else if (ev.event === 'patch' && payload && typeof payload === 'object') {
            this._patch(payload);
          }
        }),
        error: guard((err) => {
          this._conn = null;
          this._handleFailure(err, generation);
        }),
      };
      const useEventSource = typeof EventSource === 'function' && (this._transport === 'eventsource' ||
        (this._transport === 'auto' && !isNode()));
      this._conn = useEventSource
        ? openEventSource(url, handlers)
        : openFetchStream(this._fetch, url, this._clientKey, this._opts.streamTimeout, handlers);
    } catch (e) {
      try { this._handleFailure(e, generation); } catch (_) { /* nothing left to try */ }
    }
  }

  /** A stream or request failed: stop for good on 401/403, else retry with backoff. */
  _handleFailure(err, generation) {
    const status = err && err.status;
    if (status === 401 || status === 403) {
      this._fail(`the client key was refused (HTTP ${status}); stopped, serving ${this._ready ? 'last' : 'default'} values`);
      return;
    }
    if (generation === null) {
      this._log.once('network', `evaluation failed (${errorText(err)}); serving cached or default values`);
      return;
    }
    this._goStale(`the stream failed (${errorText(err, 'closed')})`);
    if (err && err.probe) {
      // EventSource hides the status: ask the evaluate endpoint what is wrong (and refresh).
      this._probe(generation);
      return;
    }
    this._scheduleReconnect(generation, err);
  }

  async _probe(generation) {
    try {
      const body = await postJson(this._fetch, `${this._baseUrl}/sdk/v1/client/evaluate`,
        this._clientKey, `{"context":${this._contextJson}}`, this._opts.requestTimeout);
      if (generation !== this._generation || this._closed) return;
      // Fresh values, and still no stream to keep them current: STALE until one is open.
      if (validState(body)) { this._apply(body, true, 'STALE'); this._markReady(true); }
      this._scheduleReconnect(generation, new Error('stream closed'));
    } catch (e) {
      if (generation !== this._generation || this._closed) return;
      if (e && (e.status === 401 || e.status === 403)) this._handleFailure(e, generation);
      else this._scheduleReconnect(generation, e);
    }
  }

  _scheduleReconnect(generation, err) {
    if (generation !== this._generation || this._closed || this._failed) return;
    if (this._connectedAt && Date.now() - this._connectedAt >= this._opts.resetRetryAfter) this._attempt = 0;
    this._connectedAt = 0;
    let delay = backoffDelay(this._attempt++, this._opts.initialRetryDelay, this._opts.maxRetryDelay);
    if (err && (err.status === 429 || err.status === 503) && err.retryAfter != null) {
      delay = Math.min(Math.max(delay, err.retryAfter), 0x7fffffff);
    }
    this._log.once('network', `stream interrupted (${errorText(err, 'closed')}); ` +
      'serving last values and reconnecting with backoff');
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._connect(generation);
    }, delay);
  }
}
