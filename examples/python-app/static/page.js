// Starts the JavaScript SDK from the values the server embedded in the page, then keeps the
// page current: no request before the first paint, no flash, live changes over SSE.
import { createClient } from '/static/sdk/index.js';

const readJson = (id) => JSON.parse(document.getElementById(id).textContent);
const config = readJson('launchsequence');

const flags = createClient({
  clientKey: config.clientKey,
  baseUrl: config.baseUrl,
  context: config.context,
  bootstrap: readJson('flags'), // {version, flags}: what the Python SDK's bootstrap() returned
});

function render() {
  const on = flags.value(config.flag, false);
  document.getElementById('banner').hidden = !on;
  const state = document.getElementById('flag-state');
  if (state.textContent !== (on ? 'on' : 'off')) state.textContent = on ? 'on' : 'off';
}

render(); // the bootstrapped value: the one the server rendered, so nothing moves
flags.on(`change:${config.flag}`, render);
window.launchsequence = flags; // handy in the browser console
