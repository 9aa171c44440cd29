// Type declarations for @launchsequence/js.

/** A context: `key` identifies it (targeting, rollouts, the cache); any other attributes. */
export interface Context {
  key?: string;
  [attribute: string]: unknown;
}

/**
 * OpenFeature's reasons. The server answers the first five and `STATIC` (a flag with no
 * targeting); the client answers `CACHED` for values from its cache not yet confirmed by the
 * server, `STALE` for values served while nothing keeps them current (the stream failed or went
 * silent, the key was refused, the client was closed), and the test client `STATIC` unless told
 * otherwise.
 */
export type Reason =
  | 'DISABLED' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT' | 'ERROR'
  | 'CACHED' | 'STALE' | 'STATIC' | (string & {});

export type ErrorCode =
  | 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'PARSE_ERROR' | 'TARGETING_KEY_MISSING'
  | 'INVALID_CONTEXT' | 'GENERAL' | (string & {});

/** One flag's evaluated entry, as the server sends it. */
export interface FlagEntry {
  value: unknown;
  variation: number | null;
  variant: string | null;
  reason: Reason;
  error_code?: ErrorCode;
  rule_id?: string;
  rule_index?: number;
  /** The flag's metadata (owner, team, ticket, ...), when it has some. */
  metadata?: Record<string, string | number | boolean>;
}

/** What `POST /sdk/v1/client/evaluate` answers and the Python SDK's `bootstrap()` returns. */
export interface FlagState {
  version: number;
  flags: Record<string, FlagEntry>;
}

export interface EvaluationDetails<T> {
  value: T;
  variation: number | null;
  variant: string | null;
  reason: Reason;
  errorCode?: ErrorCode;
  ruleId?: string;
  ruleIndex?: number;
  /** The flag's metadata, when it has some. */
  metadata?: Record<string, string | number | boolean>;
}

/** Any object with these methods; `console` fits. `null` silences the SDK. */
export interface Logger {
  debug?(message: string): void;
  warn?(message: string): void;
  error?(message: string): void;
  log?(message: string): void;
}

/** `localStorage` fits; so does any object with these methods. */
export interface CacheStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem?(key: string): void;
}

export interface ClientOptions {
  /** The environment's client key (`ls_cli_...`); public, safe in a page. */
  clientKey: string;
  /** The server's URL, e.g. `https://flags.example.com`. Default: the page's origin. */
  baseUrl?: string;
  /** The context to evaluate for, read once here (change it with `identify`). Default `{}`. */
  context?: Context;
  /** Values to start from, served synchronously and making the client ready at once. */
  bootstrap?: FlagState;
  /** Keep values live over the stream (default true); false fetches once (and per identify). */
  streaming?: boolean;
  /** `auto` (default): EventSource in a browser that has it, else fetch. */
  transport?: 'auto' | 'eventsource' | 'fetch';
  /** Where last values are kept: default localStorage in a browser, memory in Node; false: none. */
  storage?: CacheStorage | false;
  /** Default `console`; `null` logs nothing. Each distinct problem is logged once. */
  logger?: Logger | null;
  /** A fetch implementation (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** First reconnect delay in ms (default 1000); doubles per failure. */
  initialRetryDelay?: number;
  /** Largest reconnect delay in ms (default 30000). */
  maxRetryDelay?: number;
  /** A stream connected this long (ms, default 60000) resets the backoff. */
  resetRetryAfter?: number;
  /** Reconnect when the stream is silent this long (ms, default 60000; the server beats every 15 s). */
  streamTimeout?: number;
  /** Timeout of an evaluate request (ms, default 10000). */
  requestTimeout?: number;
  /** `ready()` resolves false after this long (ms, default 5000); 0 waits for ever. */
  readyTimeout?: number;
  /** No network, no timers, no cache: serve `bootstrap` (or nothing); `ready()` resolves true. */
  offline?: boolean;
}

/** `offline: true` needs no client key. */
export interface OfflineClientOptions extends Partial<ClientOptions> {
  offline: true;
}

export interface FlagChange {
  previous: unknown;
  current: unknown;
}

export interface LaunchSequenceClient {
  /** Resolves true once values are known (at once with bootstrap or offline); false on
   * permanent failure, on close, after `readyTimeout`, or at once for a context that cannot be
   * turned into JSON. Never rejects. */
  ready(): Promise<boolean>;
  /** The flag's value, or `defaultValue` when it is missing, errored or of another type. */
  value<T>(key: string, defaultValue: T): T;
  /** The value with its variation and reason; the reason is `CACHED` or `STALE` when the value
   * may be out of date (see docs/sdk-js.md). */
  details<T>(key: string, defaultValue: T): EvaluationDetails<T>;
  /** Every flag's value (flags with an error are left out). */
  all(): Record<string, unknown>;
  /** Switch to another context: resolves true when its values arrived, false when they could
   * not be fetched or the context cannot be turned into JSON (then defaults are served). */
  identify(context: Context): Promise<boolean>;
  readonly context: Context;
  readonly version: number;
  /** Whether the values served may be out of date: `details()` answers `CACHED` or `STALE`. */
  readonly isStale: boolean;
  on(event: 'change', callback: (changes: Record<string, FlagChange>) => void): this;
  on(event: `change:${string}`, callback: (current: unknown, previous: unknown) => void): this;
  on(event: 'ready', callback: () => void): this;
  on(event: 'failed', callback: (message: string) => void): this;
  /** The values stopped being kept current (they answer `STALE`); once per outage. */
  on(event: 'stale', callback: (message: string) => void): this;
  /** A stream is open again and its values are current after `stale`. */
  on(event: 'live', callback: () => void): this;
  /** Without `callback`, removes every listener of `event`. */
  off(event: string, callback?: (...args: any[]) => void): this;
  /** Stops the stream and timers; values stay readable, with reason `STALE`. */
  close(): void;
}

export function createClient(options: ClientOptions | OfflineClientOptions): LaunchSequenceClient;

/** What `set` may say besides the value; a test value's reason is `STATIC` unless given. */
export interface TestValueDetails {
  variation?: number | null;
  variant?: string | null;
  reason?: Reason;
  /** Makes the flag an error: callers get their default with this code. */
  errorCode?: ErrorCode;
  ruleId?: string;
  ruleIndex?: number;
}

export interface TestClientOptions {
  /** The starting context (passed to the values function). Default `{}`. */
  context?: Context;
  /** Default `console`; `null` logs nothing. */
  logger?: Logger | null;
}

/** A client with no server, for testing your own code: the same API, plus these. */
export interface LaunchSequenceTestClient extends LaunchSequenceClient {
  /** Changes one flag's value at once and fires `change:<key>` and `change` as a live update does. */
  set(key: string, value: unknown, details?: TestValueDetails): this;
  /** Changes several flags at once (one `change` event). */
  set(values: Record<string, unknown>): this;
  /** Removes flags: they answer the caller's default with `FLAG_NOT_FOUND`. */
  delete(...keys: string[]): this;
}

/**
 * A client serving `values` (or what `values(context)` answers, again at each `identify`), with
 * no server, no timers and no cache. `ready()` resolves true at once.
 */
export function createTestClient(
  values?: Record<string, unknown> | ((context: Context) => Record<string, unknown>),
  options?: TestClientOptions,
): LaunchSequenceTestClient;

export interface ServerClientOptions {
  /** The environment's server key (`ls_srv_...`): secret, server side only. */
  serverKey: string;
  baseUrl: string;
  /** Per-request timeout in ms (default 2000); past it, the default is answered. */
  timeout?: number;
  logger?: Logger | null;
  fetch?: typeof fetch;
}

export interface LaunchSequenceServerClient {
  evaluate<T>(key: string, context: Context, defaultValue: T): Promise<T>;
  details<T>(key: string, context: Context, defaultValue: T): Promise<EvaluationDetails<T>>;
  /** Every flag's value for the context; `{}` on failure. */
  all(context: Context): Promise<Record<string, unknown>>;
  close(): void;
}

export function createServerClient(options: ServerClientOptions): LaunchSequenceServerClient;

/** base64url of the context's UTF-8 JSON, as the client stream URL carries it. */
export function encodeContext(context: Context): string;
export function parseRetryAfter(value: string | null | undefined, now?: number): number | null;
export function backoffDelay(attempt: number, initial?: number, max?: number, random?: () => number): number;

export interface SseEvent { event: string; data: string; id: string }
export function createSseParser(
  onEvent: (event: SseEvent) => void,
  onRetry?: (ms: number) => void,
): { push(chunk: string): void; readonly lastEventId: string };

declare const _default: {
  createClient: typeof createClient;
  createServerClient: typeof createServerClient;
  createTestClient: typeof createTestClient;
};
export default _default;
