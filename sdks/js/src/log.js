// Logging that never throws and never floods.

export function makeLog(logger) {
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
export function errorText(e, fallback = 'unknown error') {
  try {
    const text = e && typeof e === 'object' && 'message' in e ? e.message : e;
    return text == null || text === '' ? fallback : String(text);
  } catch (_) { return fallback; }
}
