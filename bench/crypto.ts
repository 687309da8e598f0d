// Crypto timings in the runtime this runs in: key generation and signing per engine and key type (medians), with
// `openssl genrsa 4096` timed in the same run beside RSA-4096. Prints a markdown table; progress goes to stderr.
//   Node: npx tsx bench/crypto.ts [--quick]
//   Deno: node_modules/.bin/deno run --allow-read --allow-run bench/crypto.ts [--quick]
// --quick skips node-rsa's RSA-3072/4096 key generation, which takes minutes in pure JS.

import type { CryptoEngine, KeyType, SignatureAlgorithm } from '../core/engine.ts';
import { loadEngine } from '../core/engine.ts';
import type { NodeRsaModule } from '../core/engine-node-rsa.ts';
import { loadNodeRsaEngine } from '../core/engine-node-rsa.ts';
import { algorithmOf } from '../core/keys.ts';

interface DenoLike {
  args: string[];
  version: { deno: string };
  Command: new (cmd: string, options: { args: string[]; stdout: 'null'; stderr: 'null' }) => { output(): Promise<{ success: boolean }> };
}
const deno = (globalThis as { Deno?: DenoLike }).Deno;
const args = deno ? deno.args : process.argv.slice(2);
const quick = args.includes('--quick');
const runtime = deno ? `Deno ${deno.version.deno}` : `Node ${process.version}`;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timeRuns(runs: number, fn: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}

async function openssl(args: string[]): Promise<void> {
  if (deno) {
    const { success } = await new deno.Command('openssl', { args, stdout: 'null', stderr: 'null' }).output();
    if (!success) throw new Error(`openssl ${args.join(' ')} failed`);
    return;
  }
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync('openssl', args, { stdio: 'ignore' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed`);
}

// Runs per measurement: RSA key generation is slow and its time varies with the prime search, so fewer runs there.
const KEYGEN_RUNS: Record<KeyType, number> = { rsa2048: 9, rsa3072: 5, rsa4096: 5, ec256: 25, ec384: 25 };
const NODE_RSA_KEYGEN_RUNS: Partial<Record<KeyType, number>> = quick ? { rsa2048: 3 } : { rsa2048: 3, rsa3072: 2, rsa4096: 1 };
const SIGN_RUNS = 30;

interface Row { engine: string; what: string; runs: number; times: number[] }
const rows: Row[] = [];

function record(engine: string, what: string, times: number[]): void {
  rows.push({ engine, what, runs: times.length, times });
  console.error(`${engine} ${what}: median ${median(times).toFixed(2)} ms over ${times.length}`);
}

async function benchEngine(engine: CryptoEngine, types: KeyType[], keygenRuns: Partial<Record<KeyType, number>>): Promise<void> {
  const data = new TextEncoder().encode('{"protected":"…","payload":"…"} — about the size of an ACME request'.repeat(4));
  for (const type of types) {
    const runs = keygenRuns[type];
    if (!runs) continue;
    const keys: Awaited<ReturnType<CryptoEngine['generateKey']>>[] = [];
    record(engine.name, `${type} keygen`, await timeRuns(runs, async () => keys.push(await engine.generateKey(type))));
    const algorithm: SignatureAlgorithm = algorithmOf(type);
    const key = keys[0]!;
    await engine.sign(algorithm, key, data); // the first signature also imports the key, which later ones reuse
    record(engine.name, `${algorithm} sign (${type})`, await timeRuns(SIGN_RUNS, () => engine.sign(algorithm, key, data)));
    if (type === 'rsa4096' && engine.name === 'webcrypto') {
      record('openssl', 'genrsa 4096', await timeRuns(KEYGEN_RUNS.rsa4096, () => openssl(['genrsa', '4096'])));
    }
  }
}

async function benchDigest(engine: CryptoEngine): Promise<void> {
  const megabyte = new Uint8Array(1 << 20).fill(7);
  record(engine.name, 'SHA-256 of 1 MiB', await timeRuns(10, () => engine.digest('SHA-256', megabyte)));
}

const webcrypto = await loadEngine('webcrypto');
const noble = await loadEngine('noble');
// Node and Deno resolve `node-rsa` to its Node build, which the engine refuses; a browser bundle gets this file.
const nodeRsa = await loadNodeRsaEngine(() => import('../node_modules/node-rsa/dist/index.browser.js') as unknown as Promise<NodeRsaModule>);

const ALL: KeyType[] = ['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096'];
await benchEngine(webcrypto, ALL, KEYGEN_RUNS);
await benchEngine(noble, ['ec256', 'ec384'], KEYGEN_RUNS);
await benchEngine(nodeRsa, ['rsa2048', 'rsa3072', 'rsa4096'], NODE_RSA_KEYGEN_RUNS);
await benchDigest(webcrypto);
await benchDigest(noble);

const format = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(1) : ms.toFixed(3));
console.log(`\n### Crypto engines, ${runtime} (${new Date().toISOString().slice(0, 10)}), ms\n`);
console.log('| engine | operation | runs | median | min | max |');
console.log('|---|---|---:|---:|---:|---:|');
for (const row of rows) {
  console.log(`| ${row.engine} | ${row.what} | ${row.runs} | ${format(median(row.times))} | ${format(Math.min(...row.times))} | ${format(Math.max(...row.times))} |`);
}
