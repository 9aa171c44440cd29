// The cache of last values: localStorage in a browser, memory in Node, or the caller's.

import { isNode } from './runtime.js';

const memoryStore = new Map();
const MEMORY_STORAGE = {
  getItem: (k) => (memoryStore.has(k) ? memoryStore.get(k) : null),
  setItem: (k, v) => { memoryStore.set(k, String(v)); },
  removeItem: (k) => { memoryStore.delete(k); },
};

export function isStorage(s) {
  return !!s && typeof s.getItem === 'function' && typeof s.setItem === 'function';
}

export function defaultStorage() {
  if (isNode()) return MEMORY_STORAGE;
  try {
    const ls = globalThis.localStorage;
    if (isStorage(ls)) return ls;
  } catch (_) { /* access can throw (privacy modes, sandboxed frames) */ }
  return MEMORY_STORAGE;
}

export function contextCacheId(context, contextJson) {
  return typeof context.key === 'string' ? context.key : contextJson;
}
