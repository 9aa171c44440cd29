// The client's timing options, when not given.

/** @type {Record<string, number>} */
export const DEFAULTS = {
  initialRetryDelay: 1000,
  maxRetryDelay: 30000,
  resetRetryAfter: 60000,
  streamTimeout: 60000,
  requestTimeout: 10000,
  readyTimeout: 5000,
};
