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

/** base64url of UTF-8 JSON, as `GET /sdk/v1/client/stream?context=` expects. */
export function encodeContext(context) {
  const bytes = new TextEncoder().encode(JSON.stringify(context));
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

class HttpError extends Error {
  constructor(status, retryAfter) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function postJson(fetchImpl, url, key, body, timeout, signal) {
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
      body: JSON.stringify(body),
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

function defaultStorage() {
  if (isNode()) return MEMORY_STORAGE;
  try {
    const ls = globalThis.localStorage;
    if (ls && typeof ls.getItem === 'function') return ls;
  } catch (_) { /* access can throw (privacy modes, sandboxed frames) */ }
  return MEMORY_STORAGE;
}

function contextCacheId(context) {
  if (context && typeof context === 'object' && typeof context.key === 'string') return context.key;
  try { return JSON.stringify(context); } catch (_) { return ''; }
}

function validState(s) {
  return !!s && typeof s === 'object' && s.flags && typeof s.flags === 'object' && !Array.isArray(s.flags);
}

function sameEntry(a, b) {
  if (!a || !b) return a === b;
  return a.variation === b.variation && a.reason === b.reason && a.error_code === b.error_code &&
    JSON.stringify(a.value) === JSON.stringify(b.value);
}

function detailsOf(entry, defaultValue) {
  if (!entry) {
    return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' };
  }
  if (entry.error_code) {
    return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: entry.error_code };
  }
  const value = entry.value;
  if (defaultValue !== undefined && defaultValue !== null && value !== null &&
      (typeof value !== typeof defaultValue || Array.isArray(value) !== Array.isArray(defaultValue))) {
    return { value: defaultValue, variation: entry.variation ?? null, variant: entry.variant ?? null,
      reason: 'ERROR', errorCode: 'TYPE_MISMATCH' };
  }
  const out = { value, variation: entry.variation ?? null, variant: entry.variant ?? null, reason: entry.reason };
  if (entry.rule_id != null) { out.ruleId = entry.rule_id; out.ruleIndex = entry.rule_index; }
  return out;
}

// --- the client-side client ------------------------------------------------------------------

/**
 * A client for one context, keeping its evaluated values live. See docs/sdk-js.md.
 * @param {import('./index.d.ts').ClientOptions} options
 */
export function createClient(options) {
  return new LaunchSequenceClient(options || {});
}

class LaunchSequenceClient {
  constructor(options) {
    this._log = makeLog(options.logger);
    this._opts = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) {
      if (typeof options[k] === 'number' && options[k] >= 0) this._opts[k] = options[k];
    }
    this._clientKey = String(options.clientKey || '');
    this._baseUrl = trimSlash(options.baseUrl || (typeof location !== 'undefined' ? location.origin : ''));
    this._fetch = options.fetch || (typeof fetch === 'function' ? fetch.bind(globalThis) : null);
    this._streaming = options.streaming !== false;
    this._transport = options.transport || 'auto';
    this._storage = options.storage === false ? null : options.storage || defaultStorage();
    this._context = options.context && typeof options.context === 'object' ? options.context : {};
    this._listeners = new Map();
    this._flags = {};
    this._version = 0;
    this._closed = false;
    this._failed = false;
    this._generation = 0;
    this._attempt = 0;
    this._retryTimer = null;
    this._conn = null;
    this._ready = false;
    this._readyResolve = null;
    this._readyPromise = new Promise((resolve) => { this._readyResolve = resolve; });

    if (!this._clientKey) return this._fail('no clientKey given; serving defaults');
    if (!this._fetch) return this._fail('no fetch() in this environment; serving defaults');

    if (validState(options.bootstrap)) {
      this._apply(options.bootstrap, false);
      this._markReady(true);
    } else {
      const cached = this._readCache();
      if (cached) this._apply(cached, false);
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
    try { return detailsOf(this._flags[key], defaultValue); } catch (e) {
      return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: 'GENERAL' };
    }
  }

  all() {
    const out = {};
    try {
      for (const [k, e] of Object.entries(this._flags)) if (e && !e.error_code) out[k] = e.value;
    } catch (_) { /* ignore */ }
    return out;
  }

  get context() { return this._context; }
  get version() { return this._version; }

  identify(newContext) {
    try {
      if (this._closed || this._failed) return Promise.resolve(false);
      this._context = newContext && typeof newContext === 'object' ? newContext : {};
      const cached = this._readCache();
      if (cached) this._apply(cached, false);
      this._stopConnection();
      this._attempt = 0;
      const generation = ++this._generation;
      return this._evaluate(generation).then((ok) => {
        if (generation === this._generation && !this._closed && !this._failed && this._streaming) {
          this._connect(generation);
        }
        return ok;
      }, () => false);
    } catch (e) {
      this._log.error(`identify failed: ${e && e.message}`);
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
    if (this._closed) return;
    this._closed = true;
    this._generation++;
    this._stopConnection();
    if (this._readyTimer) clearTimeout(this._readyTimer);
    this._markReady(false);
    this._listeners.clear();
  }

  // internals

  _emit(event, ...args) {
    const set = this._listeners.get(event);
    if (!set) return;
    for (const cb of [...set]) {
      try { cb(...args); } catch (e) {
        this._log.once(`listener:${event}`, `a '${event}' listener threw: ${e && e.message}`, 'error');
      }
    }
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
    this._markReady(false);
    this._emit('failed', message);
  }

  _cacheKey() {
    return `launchsequence:${this._clientKey}:${contextCacheId(this._context)}`;
  }

  _readCache() {
    if (!this._storage) return null;
    try {
      const raw = this._storage.getItem(this._cacheKey());
      const state = raw ? JSON.parse(raw) : null;
      return validState(state) ? state : null;
    } catch (_) { return null; }
  }

  _writeCache() {
    if (!this._storage) return;
    try {
      this._storage.setItem(this._cacheKey(), JSON.stringify({ version: this._version, flags: this._flags }));
    } catch (e) {
      this._log.once('cache', `cannot cache values: ${e && e.message}`);
    }
  }

  /** Replace every value (a put, an evaluation, a bootstrap) and announce what changed. */
  _apply(state, persist = true) {
    const next = { ...state.flags };
    const changes = {};
    for (const k of new Set([...Object.keys(this._flags), ...Object.keys(next)])) {
      if (!sameEntry(this._flags[k], next[k])) {
        changes[k] = { previous: this._flags[k]?.value, current: next[k]?.value };
      }
    }
    this._flags = next;
    if (typeof state.version === 'number') this._version = state.version;
    if (persist) this._writeCache();
    this._announce(changes);
  }

  _patch(payload) {
    if (typeof payload.version === 'number' && payload.version < this._version) return;
    const next = { ...this._flags };
    const changes = {};
    for (const [k, entry] of Object.entries(payload.flags || {})) {
      if (!sameEntry(next[k], entry)) changes[k] = { previous: next[k]?.value, current: entry?.value };
      next[k] = entry;
    }
    for (const k of payload.deleted || []) {
      if (k in next) {
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

  _start() {
    const generation = ++this._generation;
    if (this._streaming) this._connect(generation);
    else this._evaluate(generation);
  }

  /** One `POST /sdk/v1/client/evaluate`; true when values arrived. */
  async _evaluate(generation) {
    try {
      const body = await postJson(this._fetch, `${this._baseUrl}/sdk/v1/client/evaluate`,
        this._clientKey, { context: this._context }, this._opts.requestTimeout);
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

  _stopConnection() {
    if (this._retryTimer) { clearTimeout(this._retryTimer); this._retryTimer = null; }
    if (this._conn) {
      const conn = this._conn;
      this._conn = null;
      try { conn.close(); } catch (_) { /* ignore */ }
    }
  }

  _connect(generation) {
    if (generation !== this._generation || this._closed || this._failed) return;
    this._stopConnection();
    const url = `${this._baseUrl}/sdk/v1/client/stream?key=${encodeURIComponent(this._clientKey)}` +
      `&context=${encodeContext(this._context)}`;
    const handlers = {
      open: () => {
        if (generation !== this._generation) return;
        this._connectedAt = Date.now();
        this._log.clear('network');
      },
      event: (ev) => {
        if (generation !== this._generation) return;
        let payload;
        try { payload = JSON.parse(ev.data); } catch (_) {
          this._log.once('parse', `unreadable '${ev.event}' event ignored`);
          return;
        }
        if (ev.event === 'put' && validState(payload)) {
          this._apply(payload);
          this._markReady(true);
        } else if (ev.event === 'patch' && payload && typeof payload === 'object') {
          this._patch(payload);
        }
      },
      error: (err) => {
        if (generation !== this._generation) return;
        this._conn = null;
        this._handleFailure(err, generation);
      },
    };
    const useEventSource = this._transport === 'eventsource' ||
      (this._transport === 'auto' && !isNode() && typeof EventSource === 'function');
    try {
      this._conn = useEventSource
        ? openEventSource(url, handlers)
        : openFetchStream(this._fetch, url, this._clientKey, this._opts.streamTimeout, handlers);
    } catch (e) {
      this._handleFailure(e, generation);
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
      this._log.once('network', `evaluation failed (${err && err.message}); serving cached or default values`);
      return;
    }
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
        this._clientKey, { context: this._context }, this._opts.requestTimeout);
      if (generation !== this._generation || this._closed) return;
      if (validState(body)) { this._apply(body); this._markReady(true); }
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
      delay = Math.max(delay, err.retryAfter);
    }
    this._log.once('network', `stream interrupted (${(err && err.message) || 'closed'}); ` +
      `serving last values and reconnecting with backoff`);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._connect(generation);
    }, delay);
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
  return new LaunchSequenceServerClient(options || {});
}

class LaunchSequenceServerClient {
  constructor(options) {
    this._log = makeLog(options.logger);
    this._key = String(options.serverKey || '');
    this._baseUrl = trimSlash(options.baseUrl);
    this._timeout = typeof options.timeout === 'number' ? options.timeout : 2000;
    this._fetch = options.fetch || (typeof fetch === 'function' ? fetch.bind(globalThis) : null);
    this._controller = new AbortController();
    this._closed = false;
    if (!this._key) this._log.once('no-key', 'no serverKey given; every call answers its default', 'error');
  }

  async _call(context, flags) {
    if (this._closed) throw new Error('client closed');
    if (!this._key || !this._fetch) throw new Error('not configured');
    const body = { context };
    if (flags) body.flags = flags;
    try {
      const answer = await postJson(this._fetch, `${this._baseUrl}/sdk/v1/evaluate`, this._key, body,
        this._timeout, this._controller.signal);
      if (!validState(answer)) throw new Error('unexpected answer');
      this._log.clear();
      return answer;
    } catch (e) {
      const status = e && e.status;
      const what = status === 401 || status === 403
        ? `the server key was refused (HTTP ${status})`
        : `evaluation failed (${e && e.name === 'AbortError' ? 'timeout' : e && e.message})`;
      this._log.once(`fail:${status || 'net'}`, `${what}; answering defaults`);
      throw e;
    }
  }

  async details(key, context, defaultValue) {
    try {
      const answer = await this._call(context, [key]);
      return detailsOf(answer.flags[key], defaultValue);
    } catch (e) {
      return { value: defaultValue, variation: null, variant: null, reason: 'ERROR', errorCode: 'GENERAL' };
    }
  }

  async evaluate(key, context, defaultValue) {
    return (await this.details(key, context, defaultValue)).value;
  }

  async all(context) {
    const out = {};
    try {
      const answer = await this._call(context, null);
      for (const [k, e] of Object.entries(answer.flags)) if (e && !e.error_code) out[k] = e.value;
    } catch (_) { /* the empty answer is the default */ }
    return out;
  }

  close() {
    this._closed = true;
    try { this._controller.abort(); } catch (_) { /* ignore */ }
  }
}

export default { createClient, createServerClient };
