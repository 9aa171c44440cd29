// @launchsequence/js: the Launch Sequence SDK for browsers and Node 18+.
//
// Thin by design: the server evaluates, this module keeps the evaluated values of one context
// live over Server-Sent Events. No runtime dependencies and no Node-only imports, so the same
// file loads in a page and in Node. Nothing here throws into the host application: every
// public method and every callback is guarded, and failures are logged once.

const SDK_HEADERS = { 'X-LaunchSequence-SDK': 'js/0.1.0' };

/** @type {Record<string, number>} */
const DEFAULTS = {
  initialRetryDelay: 1000,
  maxRetryDelay: 30000,
  resetRetryAfter: 60000,
  streamTimeout: 60000,
  requestTimeout: 10000,
  readyTimeout: 5000,
};

// --- small pieces ----------------------------------------------------------------------------

const isNode = () =>
  typeof process !== 'undefined' && process !== null && !!(process.versions && process.versions.node);

function trimSlash(url) {
  return String(url || '').replace(/\/+$/, '');
}

/** base64url of UTF-8 JSON, as `GET /sdk/v1/client/stream?context=` expects. Throws for a
 * context that JSON cannot represent (a cycle, a BigInt); the client checks first. */
export function encodeContext(context) {
  return base64url(JSON.stringify(context));
}

function base64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date), or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * Exponential backoff with jitter: attempt 0 waits about `initial`, each next attempt doubles
 * up to `max`; the wait is drawn from [delay/2, delay] so that many clients never reconnect
 * in lockstep after a server restart.
 */
export function backoffDelay(attempt, initial = DEFAULTS.initialRetryDelay,
  max = DEFAULTS.maxRetryDelay, random = Math.random) {
  const delay = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(delay / 2 + (random() * delay) / 2);
}

/**
 * An incremental Server-Sent Events parser (the WHATWG rules): feed it text chunks, it calls
 * `onEvent({event, data, id})` per dispatched event and `onRetry(ms)` per `retry:` field.
 * Comments (`: heartbeat`) are ignored, but every chunk counts as activity for the caller.
 */
export function createSseParser(onEvent, onRetry = () => {}) {
  let buffer = '';
  let data = [];
  let event = '';
  let lastId = '';
  let first = true;
  let pendingCR = false;

  function line(text) {
    if (text === '') {
      if (data.length) onEvent({ event: event || 'message', data: data.join('\n'), id: lastId });
      data = [];
      event = '';
      return;
    }
    if (text[0] === ':') return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') { if (!value.includes('\0')) lastId = value; }
    else if (field === 'retry') { if (/^\d+$/.test(value)) onRetry(Number(value)); }
  }

  return {
    push(chunk) {
      if (first && chunk.length) {
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
        first = false;
      }
      if (pendingCR && chunk[0] === '\n') chunk = chunk.slice(1);
      pendingCR = false;
      buffer += chunk;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c === '\n' || c === '\r') {
          line(buffer.slice(start, i));
          if (c === '\r') {
            if (i + 1 === buffer.length) pendingCR = true;
            else if (buffer[i + 1] === '\n') i++;
          }
          start = i + 1;
        }
      }
      buffer = buffer.slice(start);
    },
    get lastEventId() { return lastId; },
  };
}

function makeLog(logger) {
  const sink = logger === undefined ? (typeof console !== 'undefined' ? console : null) : logger;
  const emit = (level, message) => {
    try {
      if (!sink) return;
      const fn = sink[level] || sink.warn || sink.log;
      if (typeof fn === 'function') fn.call(sink, `[launchsequence] ${message}`);
    } catch (_) { /* a logger must not break us either */ }
  };
  const seen = new Set();
  return {
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    debug: (m) => emit('debug', m),
    /** Logs a problem once until `clear` says it went away (no log flood while offline). */
    once(code, message, level = 'warn') {
      if (seen.has(code)) return;
      seen.add(code);
      emit(level, message);
    },
    clear(code) { if (code) seen.delete(code); else seen.clear(); },
  };
}

/** A one-line description of anything thrown; never throws itself. */
function errorText(e, fallback = 'unknown error') {
  try {
    const text = e && typeof e === 'object' && 'message' in e ? e.message : e;
    return text == null || text === '' ? fallback : String(text);
  } catch (_) { return fallback; }
}

class HttpError extends Error {
  constructor(status, retryAfter) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** One JSON POST; `bodyText` is already JSON. Rejects with HttpError on a non-2xx answer. */
async function postJson(fetchImpl, url, key, bodyText, timeout, signal) {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (signal) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  const timer = timeout > 0 ? setTimeout(() => controller.abort(), timeout) : null;
  try {
    const res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}`, ...SDK_HEADERS },
      body: bodyText,
      signal: controller.signal,
    });
    if (!res.ok) {
      try { await res.body?.cancel(); } catch (_) { /* ignore */ }
      throw new HttpError(res.status, parseRetryAfter(res.headers.get('retry-after')));
    }
    return await res.json();
  } finally {
    if (timer) clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}

// --- the cache of last values ----------------------------------------------------------------

const memoryStore = new Map();
const MEMORY_STORAGE = {
  getItem: (k) => (memoryStore.has(k) ? memoryStore.get(k) : null),
  setItem: (k, v) => { memoryStore.set(k, String(v)); },
  removeItem: (k) => { memoryStore.delete(k); },
};

function isStorage(s) {
  return !!s && typeof s.getItem === 'function' && typeof s.setItem === 'function';
}

function defaultStorage() {
  if (isNode()) return MEMORY_STORAGE;
  try {
    const ls = globalThis.localStorage;
    if (isStorage(ls)) return ls;
  } catch (_) { /* access can throw (privacy modes, sandboxed frames) */ }
  return MEMORY_STORAGE;
}

function contextCacheId(context, contextJson) {
  return typeof context.key === 'string' ? context.key : contextJson;
}

// --- values as the server sends them ---------------------------------------------------------

function validState(s) {
  return !!s && typeof s === 'object' && !!s.flags && typeof s.flags === 'object' && !Array.isArray(s.flags);
}

function validEntry(e) {
  return !!e && typeof e === 'object' && !Array.isArray(e) && ('value' in e || !!e.error_code);
}

/**
 * The usable entries of a `{flags}` map, in an object without a prototype so that a flag key
 * such as `constructor` never finds an inherited property. Malformed entries are left out.
 */
function cleanFlags(flags) {
  const out = Object.create(null);
  for (const k of Object.keys(flags)) if (validEntry(flags[k])) out[k] = flags[k];
  return out;
}

function sameEntry(a, b) {
  if (!a || !b) return a === b;
  try {
    return a.variation === b.variation && a.reason === b.reason && a.error_code === b.error_code &&
      JSON.stringify(a.value) === JSON.stringify(b.value);
  } catch (_) { return false; }
}

/**
 * The details of one entry for a caller's default. `mark` ('CACHED' or 'STALE') replaces the
 * reason of a served value that may be out of date; errors keep reason 'ERROR'.
 */
function detailsOf(entry, defaultValue, mark = null) {
  if (!entry) {
    return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' };
  }
  if (entry.error_code) {
    return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: entry.error_code };
  }
  // No variation and no error: the flag serves the application's default (its off variation or
  // default is unset), with reason DISABLED or DEFAULT.
  const value = entry.variation == null && entry.value == null ? defaultValue : entry.value;
  if (defaultValue !== undefined && defaultValue !== null && value !== null &&
      (typeof value !== typeof defaultValue || Array.isArray(value) !== Array.isArray(defaultValue))) {
    return { value: defaultValue, variation: entry.variation ?? null, variant: entry.variant ?? null,
      reason: 'ERROR', errorCode: 'TYPE_MISMATCH' };
  }
  const out = { value, variation: entry.variation ?? null, variant: entry.variant ?? null,
    reason: mark || entry.reason };
  if (entry.rule_id != null) { out.ruleId = entry.rule_id; out.ruleIndex = entry.rule_index; }
  if (entry.metadata) out.metadata = entry.metadata;
  return out;
}

// --- the client-side client ------------------------------------------------------------------

/**
 * A client for one context, keeping its evaluated values live. See docs/sdk-js.md.
 * @param {import('./index.d.ts').ClientOptions} options
 */
export function createClient(options) {
  return new LaunchSequenceClient(options);
}

class LaunchSequenceClient {
  constructor(options) {
    // Every field first, so that every method works whatever goes wrong below.
    this._log = makeLog(undefined);
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
    this._listeners = new Map();
    this._flags = Object.create(null);
    this._version = 0;
    this._mark = null; // 'CACHED' or 'STALE' while the values served may be out of date
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

  value(key, defaultValue) {
    try { return detailsOf(this._flags[key], defaultValue).value; } catch (_) { return defaultValue; }
  }

  details(key, defaultValue) {
    try { return detailsOf(this._flags[key], defaultValue, this._mark); } catch (_) {
      return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: 'GENERAL' };
    }
  }

  all() {
    const out = {};
    try {
      for (const [k, e] of Object.entries(this._flags)) if (!e.error_code) out[k] = e.value;
    } catch (_) { /* ignore */ }
    return out;
  }

  get context() { return this._context; }
  get version() { return this._version; }
  /** Whether the values served may be out of date: `details()` answers `CACHED` or `STALE`. */
  get isStale() { return this._mark !== null; }

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

  on(event, callback) {
    if (typeof callback !== 'function') return this;
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(callback);
    return this;
  }

  off(event, callback) {
    const set = this._listeners.get(event);
    if (!set) return this;
    if (callback === undefined) this._listeners.delete(event);
    else set.delete(callback);
    return this;
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

  _emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        const result = cb(...args);
        // an async listener's rejection would be an unhandled rejection (fatal in Node)
        if (result && typeof result.then === 'function') {
          result.then(undefined, (e) => this._listenerFailed(event, e));
        }
      } catch (e) {
        this._listenerFailed(event, e);
      }
    }
  }

  _listenerFailed(event, e) {
    this._log.once(`listener:${event}`, `a '${event}' listener threw: ${errorText(e)}`, 'error');
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

  /**
   * Replace every value (a put, an evaluation, a bootstrap, the cache) and announce what
   * changed. `mark` says how fresh they are: null, or 'CACHED'.
   */
  _apply(state, persist = true, mark = null) {
    const next = cleanFlags(state.flags);
    const changes = {};
    for (const k of new Set([...Object.keys(this._flags), ...Object.keys(next)])) {
      if (!sameEntry(this._flags[k], next[k])) {
        changes[k] = { previous: this._flags[k]?.value, current: next[k]?.value };
      }
    }
    this._flags = next;
    this._mark = mark;
    if (typeof state.version === 'number') this._version = state.version;
    if (persist) this._writeCache();
    this._announce(changes);
  }

  _patch(payload) {
    if (typeof payload.version === 'number' && payload.version < this._version) return;
    const next = Object.assign(Object.create(null), this._flags);
    const changes = {};
    const flags = payload.flags && typeof payload.flags === 'object' ? payload.flags : {};
    for (const [k, entry] of Object.entries(flags)) {
      if (!validEntry(entry)) continue;
      if (!sameEntry(next[k], entry)) changes[k] = { previous: next[k]?.value, current: entry.value };
      next[k] = entry;
    }
    for (const k of Array.isArray(payload.deleted) ? payload.deleted : []) {
      if (Object.prototype.hasOwnProperty.call(next, k)) {
        changes[k] = { previous: next[k]?.value, current: undefined };
        delete next[k];
      }
    }
    this._flags = next;
    if (typeof payload.version === 'number') this._version = payload.version;
    this._writeCache();
    this._announce(changes);
  }

  _announce(changes) {
    const keys = Object.keys(changes);
    if (!keys.length) return;
    for (const k of keys) this._emit(`change:${k}`, changes[k].current, changes[k].previous);
    this._emit('change', changes);
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

// --- the test client -------------------------------------------------------------------------

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

/** The stream through `fetch`: Node, and browsers without EventSource. */
function openFetchStream(fetchImpl, url, key, idleTimeout, handlers) {
  const controller = new AbortController();
  let done = false;
  let idleTimer = null;
  const finish = (err) => {
    if (done) return;
    done = true;
    if (idleTimer) clearTimeout(idleTimer);
    try { controller.abort(); } catch (_) { /* ignore */ }
    handlers.error(err);
  };
  const touch = () => {
    if (!(idleTimeout > 0)) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => finish(new Error(`no data for ${idleTimeout} ms`)), idleTimeout);
  };
  (async () => {
    touch();
    const res = await fetchImpl(url, {
      headers: { Accept: 'text/event-stream', Authorization: `Bearer ${key}`, ...SDK_HEADERS },
      cache: 'no-store',
      signal: controller.signal,
    });
    if (!res.ok || !res.body) {
      try { await res.body?.cancel(); } catch (_) { /* ignore */ }
      throw new HttpError(res.status, parseRetryAfter(res.headers.get('retry-after')));
    }
    handlers.open();
    const parser = createSseParser((ev) => { if (!done) handlers.event(ev); });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    while (!done) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      touch();
      parser.push(decoder.decode(value, { stream: true }));
    }
    throw new Error('stream ended');
  })().catch((e) => finish(e));
  return {
    close() {
      done = true;
      if (idleTimer) clearTimeout(idleTimer);
      try { controller.abort(); } catch (_) { /* ignore */ }
    },
  };
}

/** The stream through the browser's EventSource; reconnection stays ours (backoff, probe). */
function openEventSource(url, handlers) {
  const es = new EventSource(url);
  let opened = false;
  let done = false;
  const onEvent = (name) => (e) => { if (!done) handlers.event({ event: name, data: e.data, id: e.lastEventId }); };
  es.addEventListener('open', () => { opened = true; handlers.open(); });
  es.addEventListener('put', onEvent('put'));
  es.addEventListener('patch', onEvent('patch'));
  es.addEventListener('error', () => {
    if (done) return;
    done = true;
    es.close();
    const err = new Error(opened ? 'stream closed' : 'stream refused');
    err.probe = !opened;
    handlers.error(err);
  });
  return { close() { done = true; es.close(); } };
}

// --- the server-side client ------------------------------------------------------------------

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

  async _call(context, flags) {
    if (this._closed) throw new Error('client closed');
    if (!this._key || !this._fetch) throw new Error('not configured');
    const body = { context };
    if (flags) body.flags = flags;
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
      const flags = await this._call(context, [key]);
      return detailsOf(flags[key], defaultValue);
    } catch (e) {
      return { value: defaultValue, variation: null, variant: null, reason: 'ERROR',
        errorCode: e instanceof InvalidContext ? 'INVALID_CONTEXT' : 'GENERAL' };
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

export default { createClient, createServerClient, createTestClient };
