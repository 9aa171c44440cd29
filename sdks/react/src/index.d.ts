// Type declarations for @launchsequence/react.

import type { ReactElement, ReactNode } from 'react';
import type {
  ClientOptions,
  Context,
  EvaluationDetails,
  FlagState,
  LaunchSequenceClient,
} from '@launchsequence/js';

export interface LaunchSequenceProviderProps {
  /** A client you created (and will close); the provider only reads it. */
  client?: LaunchSequenceClient;
  /** Without `client`: the environment's client key; the provider creates the client and
   * closes it on unmount. */
  clientKey?: string;
  /** The server's URL. Default: the page's origin. */
  baseUrl?: string;
  /** The context to evaluate for. A new one (compared by its JSON) re-evaluates (`identify`). */
  context?: Context;
  /** The values the server rendered with: the server render and hydration use exactly these. */
  bootstrap?: FlagState;
  /** Any other option of `createClient` (streaming, storage, logger, timeouts); read once. */
  options?: Omit<Partial<ClientOptions>, 'clientKey' | 'baseUrl' | 'context' | 'bootstrap'>;
  children?: ReactNode;
}

export function LaunchSequenceProvider(props: LaunchSequenceProviderProps): ReactElement;

/** The flag's value, or `defaultValue` when it is missing, errored or of another type.
 * Re-renders only when this flag's value changes. */
export function useFlag(key: string, defaultValue: boolean): boolean;
export function useFlag(key: string, defaultValue: string): string;
export function useFlag(key: string, defaultValue: number): number;
export function useFlag<T>(key: string, defaultValue: T): T;

/** The value with its variation, variant and reason (`CACHED` or `STALE` when it may be out of
 * date); re-renders when any of these changes. */
export function useFlagDetail(key: string, defaultValue: boolean): EvaluationDetails<boolean>;
export function useFlagDetail(key: string, defaultValue: string): EvaluationDetails<string>;
export function useFlagDetail(key: string, defaultValue: number): EvaluationDetails<number>;
export function useFlagDetail<T>(key: string, defaultValue: T): EvaluationDetails<T>;

/** Every flag's value (flags with an error are left out); re-renders when any changes. */
export function useFlags(): Record<string, unknown>;

export interface LaunchSequenceStatus {
  /** Values are known: from `bootstrap`, from the server, or from a test client. */
  readonly ready: boolean;
  /** The values served may be out of date (from the cache, or nothing keeps them current). */
  readonly stale: boolean;
  /** Why the client stopped for good (e.g. the client key was refused), else null. */
  readonly error: string | null;
}

export function useLaunchSequenceStatus(): LaunchSequenceStatus;

/** The client serving the values; before the provider's effect ran (the server render and
 * hydration), an offline client holding `bootstrap`. */
export function useLaunchSequenceClient(): LaunchSequenceClient;

export interface FetchBootstrapOptions {
  /** The environment's client key: the page sees exactly what this key may see. */
  clientKey: string;
  baseUrl: string;
  context?: Context;
  /** Milliseconds before giving up (default 2000). */
  timeout?: number;
  fetch?: typeof fetch;
}

/** Server side: the values to pass as `bootstrap`, or `undefined` on any failure. */
export function fetchBootstrap(options: FetchBootstrapOptions): Promise<FlagState | undefined>;
