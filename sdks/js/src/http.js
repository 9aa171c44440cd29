// One JSON request with a key, a timeout and an abort signal.

import { parseRetryAfter } from './retry.js';
import { SDK_HEADERS } from './version.js';

/** The base URL without trailing slashes. */
export function trimSlash(url) {
  return String(url || '').replace(/\/+$/, '');
}

/** A non-2xx answer: its status and, when sent, Retry-After in ms. */
export class HttpError extends Error {
  constructor(status, retryAfter) {
    super(`HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** The HttpError of an answer refused with `res.status`, after dropping its body. */
export async function refusal(res) {
  try { await res.body?.cancel(); } catch (_) { /* ignore */ }
  return new HttpError(res.status, parseRetryAfter(res.headers.get('retry-after')));
}

/** One JSON POST; `bodyText` is already JSON. Rejects with HttpError on a non-2xx answer. */
export async function postJson(fetchImpl, url, key, bodyText, timeout, signal) {
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
    if (!res.ok) throw await refusal(res);
    return await res.json();
  } finally {
    if (timer) clearTimeout(timer);
    if (signal) signal.removeEventListener('abort', onAbort);
  }
}
