// Run by test/node/deno-pebble.test.ts: Deno's CAA resolver and the pre-check with it, one JSON line per name.
// Usage: deno run --allow-net=ADDR:PORT test/deno/_caa-check.ts ADDR:PORT CA_IDENTITY NAME...
import { denoCaaResolver } from '../../adapters/deno.ts';
import { checkCaa } from '../../core/caa.ts';
import { normalizeIdentifiers } from '../../core/names.ts';

const [server, identity, ...names] = Deno.args;
const resolver = denoCaaResolver(server);
const settle = (promise: Promise<unknown>) => promise.then((value) => ({ value }), (error: Error) => ({ error: `${error.name}: ${error.message}` }));
for (const name of names) {
  const records = await settle(resolver.caa(name));
  const check = await settle(checkCaa({ identifiers: normalizeIdentifiers([name]), caaIdentities: [identity!], resolver }));
  console.log(JSON.stringify({ name, records, check }));
}
