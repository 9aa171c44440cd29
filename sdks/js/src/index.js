// @launchsequence/js: the Launch Sequence SDK for browsers and Node 18+.
//
// Thin by design: the server evaluates, this package keeps the evaluated values of one context
// live over Server-Sent Events. No runtime dependencies and no Node-only imports: the modules
// import only each other by relative path, so they load unbundled in a page and in Node, and
// bundle into one file (the CommonJS build and the browser builds, see scripts/build.mjs).
// Nothing here throws into the host application: every public method and every callback is
// guarded, and failures are logged once.
//
// Where things are: client.js (the client-side client) on values.js (values and change
// events) and transports.js (fetch and EventSource streams); testclient.js; serverclient.js;
// the small pieces in encoding.js, retry.js, sse.js, http.js, storage.js, entries.js, log.js.

import { createClient } from './client.js';
import { createServerClient } from './serverclient.js';
import { createTestClient } from './testclient.js';

export { createClient, createServerClient, createTestClient };
export { encodeContext } from './encoding.js';
export { backoffDelay, parseRetryAfter } from './retry.js';
export { createSseParser } from './sse.js';

export default { createClient, createServerClient, createTestClient };
