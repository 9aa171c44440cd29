// Flag entries as the server sends them, and the details a caller gets from one.

export function validState(s) {
  return !!s && typeof s === 'object' && !!s.flags && typeof s.flags === 'object' && !Array.isArray(s.flags);
}

export function validEntry(e) {
  return !!e && typeof e === 'object' && !Array.isArray(e) && ('value' in e || !!e.error_code);
}

/**
 * The usable entries of a `{flags}` map, in an object without a prototype so that a flag key
 * such as `constructor` never finds an inherited property. Malformed entries are left out.
 */
export function cleanFlags(flags) {
  const out = Object.create(null);
  for (const k of Object.keys(flags)) if (validEntry(flags[k])) out[k] = flags[k];
  return out;
}

export function sameEntry(a, b) {
  if (!a || !b) return a === b;
  try {
    return a.variation === b.variation && a.reason === b.reason && a.error_code === b.error_code &&
      JSON.stringify(a.value) === JSON.stringify(b.value);
  } catch (_) { return false; }
}

/** The details that answer the caller's default with an error code. */
export function errorDetails(defaultValue, errorCode, variation = null, variant = null) {
  return { value: defaultValue, variation, variant, reason: 'ERROR', errorCode };
}

/**
 * The details of one entry for a caller's default. `mark` ('CACHED' or 'STALE') replaces the
 * reason of a served value that may be out of date; errors keep reason 'ERROR'. `checked`: the
 * server already compared the default with the flag's type (it knows the type; a `json` flag
 * takes any default), so no guess from the value's JavaScript type is made here.
 */
export function detailsOf(entry, defaultValue, mark = null, checked = false) {
  if (!entry) return errorDetails(defaultValue, 'FLAG_NOT_FOUND');
  if (entry.error_code) return errorDetails(defaultValue, entry.error_code);
  // No variation and no error: the flag serves the application's default (its off variation or
  // default is unset), with reason DISABLED or DEFAULT.
  const value = entry.variation == null && entry.value == null ? defaultValue : entry.value;
  if (!checked && defaultValue != null && value !== null &&
      (typeof value !== typeof defaultValue || Array.isArray(value) !== Array.isArray(defaultValue))) {
    return errorDetails(defaultValue, 'TYPE_MISMATCH');
  }
  const out = { value, variation: entry.variation ?? null, variant: entry.variant ?? null,
    reason: mark || entry.reason };
  if (entry.rule_id != null) { out.ruleId = entry.rule_id; out.ruleIndex = entry.rule_index; }
  if (entry.metadata) out.metadata = entry.metadata;
  return out;
}
