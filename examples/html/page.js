// The JavaScript SDK straight against a Launch Sequence server, with nothing but a client key.
// The page may live on any origin: the server answers CORS on /sdk/v1/client/*.
//
// The import is relative to the repository (serve the repository's root, see README.md); when
// you copy this page elsewhere, import the build your Launch Sequence server serves instead:
// 'https://flags.example.com/sdk/js/0.1.0/launchsequence.mjs' (docs/sdk-js.md).
import { createClient } from '../../sdks/js/src/index.js';

const params = new URLSearchParams(location.search);
const baseUrl = params.get('url');
const clientKey = params.get('key');
const flag = params.get('flag') || 'banner';
const user = params.get('user') || 'anonymous';

const $ = (id) => document.getElementById(id);
$('flag-key').textContent = flag;

if (!baseUrl || !clientKey) {
  $('usage').hidden = false;
  $('flag-state').textContent = 'unknown';
  $('status').textContent = 'no url or key given';
} else {
  const flags = createClient({ clientKey, baseUrl, context: { key: user } });

  const render = () => {
    const on = flags.value(flag, false);
    $('banner').hidden = !on;
    $('flag-state').textContent = on ? 'on' : 'off';
  };

  const live = () => { $('status').textContent = 'live'; };
  flags.on('change', () => { render(); live(); }); // values from the server (a put or a patch)
  flags.on('ready', live);
  flags.on('failed', (message) => { $('status').textContent = `stopped: ${message}`; });
  flags.ready().then((ok) => {
    render();
    if (!ok && $('status').textContent === 'connecting') {
      $('status').textContent = 'not connected yet: serving defaults';
    }
  });
  window.launchsequence = flags; // handy in the browser console
}
