// The two ways a stream reaches the client: fetch (Node, and browsers without EventSource)
// and the browser's EventSource.

import { refusal } from './http.js';
import { createSseParser } from './sse.js';
import { SDK_HEADERS } from './version.js';

/** The stream through `fetch`: Node, and browsers without EventSource. */
export function openFetchStream(fetchImpl, url, key, idleTimeout, handlers) {
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
    if (!res.ok || !res.body) throw await refusal(res);
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
export function openEventSource(url, handlers) {
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
