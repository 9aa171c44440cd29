// A DOM for react-dom in Node (happy-dom), installed as globals before react-dom loads: import
// this module first. Only what react-dom reads is made global; Node's own Event, fetch and
// timers stay (the SDK streams with Node's fetch, as in a server or a test runner).

import { Window } from 'happy-dom';

export const window = new Window({ url: 'http://127.0.0.1/' });
for (const name of ['window', 'document', 'navigator', 'HTMLElement', 'HTMLIFrameElement', 'MutationObserver']) {
  if (name === 'window') globalThis.window = window;
  else if (name === 'navigator' && globalThis.navigator) continue;
  else globalThis[name] = window[name];
}

export async function closeDom() {
  await window.happyDOM.abort();
  window.close();
}
