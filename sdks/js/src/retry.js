// When to try again: Retry-After and exponential backoff with jitter.

import { DEFAULTS } from './defaults.js';

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
