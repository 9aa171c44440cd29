// Compiled by types.test.js (tsc --noEmit, strict): every export is declared and typed as a
// user expects; each @ts-expect-error line must be an error, or tsc fails.

import { createElement } from 'react';
import { createTestClient } from '@launchsequence/js';
import type { FlagState } from '@launchsequence/js';
import {
  LaunchSequenceProvider, fetchBootstrap, useFlag, useFlagDetail, useFlags,
  useLaunchSequenceClient, useLaunchSequenceStatus,
} from '@launchsequence/react';
import type { LaunchSequenceProviderProps, LaunchSequenceStatus } from '@launchsequence/react';

export function Component(): string {
  const on: boolean = useFlag('banner', false); // boolean, not the literal `false`
  const color: string = useFlag('color', 'red');
  const limit: number = useFlag('limit', 10);
  const config: { size: number } = useFlag('config', { size: 1 });
  const detail = useFlagDetail('banner', false);
  const reason: string = detail.reason;
  const enabled: boolean = detail.value;
  const all: Record<string, unknown> = useFlags();
  const status: LaunchSequenceStatus = useLaunchSequenceStatus();
  const error: string | null = status.error;
  const ready: boolean = status.ready && !status.stale;
  const client = useLaunchSequenceClient();
  void client.identify({ key: 'u2' });
  // @ts-expect-error a boolean flag read with a boolean default is not a string
  const wrong: string = useFlag('banner', false);
  return `${on}${color}${limit}${config.size}${reason}${enabled}${Object.keys(all)}${error}${ready}${wrong}`;
}

export async function page(): Promise<unknown> {
  const bootstrap: FlagState | undefined = await fetchBootstrap({
    clientKey: 'ls_cli_x', baseUrl: 'http://127.0.0.1:8000', context: { key: 'u1' }, timeout: 500,
  });
  const props: LaunchSequenceProviderProps = {
    clientKey: 'ls_cli_x', baseUrl: 'http://127.0.0.1:8000', context: { key: 'u1' }, bootstrap,
    options: { streaming: true, logger: null },
  };
  // @ts-expect-error the provider's options do not take the client key again
  const bad: LaunchSequenceProviderProps = { options: { clientKey: 'x' } };
  return [
    createElement(LaunchSequenceProvider, props),
    createElement(LaunchSequenceProvider, { client: createTestClient({ banner: true }) }),
    bad,
  ];
}
