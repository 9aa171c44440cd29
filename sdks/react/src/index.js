// @launchsequence/react: React bindings over @launchsequence/js.
//
// A provider holds one client (the application's, or one it creates from options) in a small
// store; the hooks read it through useSyncExternalStore, each keeping its last answer so that
// a component re-renders only when what it reads changed. On the server and while hydrating,
// the hooks read the `bootstrap` values through an offline client (no network, no timers),
// so the first client render is exactly what the server rendered. See docs/sdk-react.md.

import { createContext, createElement, useContext, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { createClient } from '@launchsequence/js';

const json = (value) => {
  try { return JSON.stringify(value); } catch (_) { return undefined; }
};

/** Equal as a snapshot: the same value, or objects with the same JSON text. */
function same(a, b) {
  if (Object.is(a, b)) return true;
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false;
  const text = json(a);
  return text !== undefined && text === json(b);
}

const validState = (s) => !!s && typeof s === 'object' && !!s.flags && typeof s.flags === 'object' &&
  !Array.isArray(s.flags);

const EVENTS = ['change', 'ready', 'live', 'stale', 'failed'];
const NONE = {}; // no answer kept yet

/**
 * The provider's store. `initial` answers the server render and hydration: the bootstrap values
 * (or the application's own client when no bootstrap is given). `client` answers after that.
 */
function createStore(client, bootstrap) {
  const initial = client && !bootstrap ? client
    : createClient({ offline: true, bootstrap: validState(bootstrap) ? bootstrap : undefined, logger: null });
  const listeners = new Set();
  const status = { ready: validState(bootstrap), stale: false, error: null };
  const store = {
    client: client || initial,
    initial,
    status,
    initialStatus: status,
    identify: null,
    subscribe(callback) {
      listeners.add(callback);
      return () => listeners.delete(callback);
    },
    notify() {
      for (const callback of [...listeners]) callback();
    },
    /**
     * Serve `c` and follow its events until the returned function is called, which also closes
     * `c` when `owned` (the provider created it). `ready`: its values are known already.
     */
    use(c, owned, ready) {
      let attached = true;
      let error = null;
      const update = () => {
        if (!attached) return;
        const s = store.status;
        const stale = !!c.isStale;
        if (s.ready !== ready || s.stale !== stale || s.error !== error) store.status = { ready, stale, error };
        store.notify();
      };
      const handlers = {
        change: () => { if (!c.isStale) ready = true; update(); },
        ready: () => { ready = true; update(); },
        live: () => { ready = true; update(); },
        stale: update,
        failed: (message) => { error = String(message); update(); },
      };
      for (const e of EVENTS) c.on(e, handlers[e]);
      c.ready().then((ok) => { if (ok) ready = true; update(); });
      store.client = c;
      store.identify = (context) => {
        const done = c.identify(context);
        update(); // values from the cache, if any, are already in place
        done.then((ok) => { if (ok) ready = true; update(); });
      };
      update();
      return () => {
        attached = false;
        store.identify = null;
        for (const e of EVENTS) c.off(e, handlers[e]);
        if (owned) c.close();
      };
    },
  };
  return store;
}

const StoreContext = createContext(null);
let fallbackStore = null; // serves defaults to hooks used outside a provider

function useStore() {
  return useContext(StoreContext) || (fallbackStore = fallbackStore || createStore(null, null));
}

/**
 * Provides flag values to the hooks below it: from `client`, or from a client it creates with
 * `clientKey`, `baseUrl`, `context`, `bootstrap` and `options` (and closes on unmount). A new
 * `context` (compared by its JSON) is sent to the client with `identify`.
 */
export function LaunchSequenceProvider(props) {
  const { client, clientKey, baseUrl, context, children } = props;
  const [store] = useState(() => {
    const s = createStore(client, props.bootstrap);
    s.bootContext = json(context || {});
    return s;
  });
  const latest = useRef(props);
  latest.current = props;
  const contextJson = json(context || {});

  useEffect(() => {
    if (client) return store.use(client, false, validState(latest.current.bootstrap));
    if (!clientKey) return undefined;
    const p = latest.current;
    // The bootstrap describes the first context only; a later one starts from the server.
    const bootstrap = json(p.context || {}) === store.bootContext && validState(p.bootstrap) ? p.bootstrap : undefined;
    const created = createClient({ ...p.options, clientKey, baseUrl, context: p.context, bootstrap });
    return store.use(created, true, !!bootstrap);
  }, [store, client, clientKey, baseUrl]);

  useEffect(() => {
    const c = store.client;
    if (context !== undefined && store.identify && json(c.context) !== contextJson) store.identify(context);
  }, [store, client, clientKey, baseUrl, contextJson]);

  return createElement(StoreContext.Provider, { value: store }, children);
}

/** `read(client)` through the store, answering the previous result while it is `same`. */
function useRead(read) {
  const store = useStore();
  const last = useRef(NONE);
  const pick = (c) => {
    const value = read(c);
    if (last.current !== NONE && same(last.current, value)) return last.current;
    last.current = value;
    return value;
  };
  return useSyncExternalStore(store.subscribe, () => pick(store.client), () => pick(store.initial));
}

/** The flag's value, or `defaultValue`; re-renders only when that value changes. */
export function useFlag(key, defaultValue) {
  return useRead((c) => c.value(key, defaultValue));
}

/** The value with its variation and reason (`CACHED` or `STALE` when it may be out of date). */
export function useFlagDetail(key, defaultValue) {
  return useRead((c) => c.details(key, defaultValue));
}

/** Every flag's value; re-renders when any of them changes. */
export function useFlags() {
  return useRead((c) => c.all());
}

/** `{ready, stale, error}`: values known, values possibly out of date, a permanent failure. */
export function useLaunchSequenceStatus() {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, () => store.status, () => store.initialStatus);
}

/** The client serving the values (before the provider's effect ran: the offline bootstrap one). */
export function useLaunchSequenceClient() {
  const store = useStore();
  return useSyncExternalStore(store.subscribe, () => store.client, () => store.initial);
}

/**
 * On the server: what `POST /sdk/v1/client/evaluate` answers for `context` with the client
 * key (client-side flags only, as the page will see them), to pass as `bootstrap`. Resolves
 * `undefined` on any failure (the page then renders defaults and fetches live); never rejects.
 */
export async function fetchBootstrap({ clientKey, baseUrl, context = {}, timeout = 2000, fetch: f = globalThis.fetch }) {
  try {
    const res = await f(`${String(baseUrl).replace(/\/+$/, '')}/sdk/v1/client/evaluate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${clientKey}` },
      body: JSON.stringify({ context }),
      signal: AbortSignal.timeout(timeout),
    });
    const body = res.ok ? await res.json() : null;
    return validState(body) ? body : undefined;
  } catch (_) {
    return undefined;
  }
}
