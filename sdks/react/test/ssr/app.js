// The page of the SSR fixture: two flags read by two components. Each render is counted in
// `globalThis.__renders` when the browser test defined it (never on the server).

import { createElement as h } from 'react';
import { useFlag, useLaunchSequenceStatus } from '@launchsequence/react';

function counted(name) {
  const renders = globalThis.__renders;
  if (renders) renders[name] = (renders[name] || 0) + 1;
}

function Banner() {
  counted('banner');
  const on = useFlag('banner', false);
  return h('p', { id: 'banner' }, on ? 'New banner' : 'Old banner');
}

function Color() {
  counted('color');
  return h('p', { id: 'color' }, useFlag('color', 'none'));
}

function Status() {
  counted('status');
  const { ready, stale } = useLaunchSequenceStatus();
  return h('p', { id: 'status' }, `ready=${ready} stale=${stale}`);
}

export function App() {
  return h('main', null, h(Banner), h(Color), h(Status));
}
