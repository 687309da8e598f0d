// Every engine, loaded the same way in every runtime, for tests that run each one.
import type { CryptoEngine } from '../../core/engine.ts';
import { loadEngine } from '../../core/engine.ts';
import type { NodeRsaModule } from '../../core/engine-node-rsa.ts';
import { loadNodeRsaEngine } from '../../core/engine-node-rsa.ts';

/**
 * Node and Deno resolve `node-rsa` to its Node build, which the engine refuses (its randomness is node:crypto);
 * browsers get the browser build through the bundler. The tests load the browser build by path everywhere.
 */
export function loadBrowserNodeRsa(): Promise<CryptoEngine> {
  return loadNodeRsaEngine(() => import('../../node_modules/node-rsa/dist/index.browser.js') as unknown as Promise<NodeRsaModule>);
}

export async function allEngines(): Promise<{ webcrypto: CryptoEngine; noble: CryptoEngine; nodeRsa: CryptoEngine }> {
  const [webcrypto, noble, nodeRsa] = await Promise.all([loadEngine('webcrypto'), loadEngine('noble'), loadBrowserNodeRsa()]);
  return { webcrypto, noble, nodeRsa };
}
