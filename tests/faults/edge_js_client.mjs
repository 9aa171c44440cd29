// The JavaScript SDK pointed at an edge: prints one JSON line when ready (the flag's value),
// then one per change of it; exits after the first change, or with code 2 after 40 s.
import { createClient } from '../../sdks/js/src/index.js';

const [baseUrl, clientKey, flag] = process.argv.slice(2);
const client = createClient({ clientKey, baseUrl, context: { key: 'js-user' }, logger: null });
const ready = await client.ready();
console.log(JSON.stringify({ ready, value: client.value(flag, null) }));
client.on(`change:${flag}`, (value) => {
  console.log(JSON.stringify({ change: value }));
  client.close();
  process.exit(0);
});
setTimeout(() => { client.close(); process.exit(2); }, 40_000);
