// The evaluated values of one context and their change events: what every client serves.

import { cleanFlags, detailsOf, errorDetails, sameEntry, validEntry } from './entries.js';
import { errorText, makeLog } from './log.js';

/**
 * Holds `{flags, version}` and tells listeners what changed. Reading never throws: a value
 * that cannot be served answers the caller's default. Subclasses bring the values in
 * (`_apply`, `_patch`) and may persist them (`_writeCache`).
 */
export class FlagValues {
  constructor() {
    this._log = makeLog(undefined);
    this._listeners = new Map();
    this._flags = Object.create(null);
    this._version = 0;
    this._mark = null; // 'CACHED' or 'STALE' while the values served may be out of date
  }

  value(key, defaultValue) {
    try { return detailsOf(this._flags[key], defaultValue).value; } catch (_) { return defaultValue; }
  }

  details(key, defaultValue) {
    try { return detailsOf(this._flags[key], defaultValue, this._mark); } catch (_) {
      return errorDetails(defaultValue, 'GENERAL');
    }
  }

  all() {
    const out = {};
    try {
      for (const [k, e] of Object.entries(this._flags)) if (!e.error_code) out[k] = e.value;
    } catch (_) { /* ignore */ }
    return out;
  }

  get version() { return this._version; }
  /** Whether the values served may be out of date: `details()` answers `CACHED` or `STALE`. */
  get isStale() { return this._mark !== null; }

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
      if (k in next) { // `next` has no prototype: only its own keys are in it
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

  /** Keeps the values somewhere (the client cache); nothing here. */
  _writeCache() {}
}
