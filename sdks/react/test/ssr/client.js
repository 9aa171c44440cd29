// The browser side of the SSR fixture: hydrate what the server rendered, with the same
// provider props (the bootstrap included) that the server embedded in the page.

import { createElement as h } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { LaunchSequenceProvider } from '@launchsequence/react';
import { App } from './app.js';

const props = JSON.parse(document.getElementById('launchsequence-props').textContent);
window.__hydrationErrors = [];
hydrateRoot(document.getElementById('root'), h(LaunchSequenceProvider, props, h(App)), {
  onRecoverableError: (error) => window.__hydrationErrors.push(String(error)),
});
window.__hydrated = true;
