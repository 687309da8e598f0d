// Benchmark: a 3-name certificate with a fresh EC account over http-01 from a local Pebble, 5 times with our built
// CLI (--standalone) and 5 times with npm acme-client 5.4 as the peer; then the daily cron run that finds nothing
// due (exit 2) against a bare `node -e 0`, both inside the CA's Retry-After (renewal-info.json decides, no request)
// and after it (one ARI request to Pebble behind test/_acme-proxy.ts). Prints markdown tables with medians and the
// targets of issue 3.
// Run: `npx tsx bench/issuance.ts` after `npx tsx build.ts`; `--cron-only` measures the daily cron run alone;
// `--beside FILE` also measures another build's acme-client.cjs the same way (say, the one-process build before issue
// 11, from a worktree of that commit), between ours and the peer.
//
// Pebble runs with PEBBLE_VA_NOSLEEP=1 and PEBBLE_WFE_NONCEREJECT=0: with Pebble's default of 5 % rejected nonces,
// request counts vary from run to run by chance, which would blur the comparison.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { startPebble, type Pebble } from '../test/_pebble.ts';
import { startAcmeProxy, type AcmeProxy } from '../test/_acme-proxy.ts';
import { pemDecode } from '../core/encoding.ts';
import { certificateIdentifier } from '../core/renewal.ts';
import { parseCertificate } from '../core/x509.ts';
import { processTree } from '../test/node/_proc.ts';

const RUNS = 5;
const CRON_RUNS = 15;
const NAMES = ['a.example', 'b.example', 'c.example'];
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/acme-client.cjs');
// Inside node_modules, so that the bundled peer still resolves acme-client and its dependencies.
const helperDir = join(root, 'node_modules/.cache/acme-bench');

interface Sample {
  wallMs: number;
  requests: number;
  rssMiB: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * The peak RSS (VmHWM) of each process in the tree below `pid`, sampled every few milliseconds until `stop()`, and
 * summed: our CLI splits an issuance over three processes (cli/privsep.ts), which a preloaded probe cannot all see,
 * since the children run under Node's permission model and as another user.
 */
function treePeakRss(pid: number): { stop(): number } {
  const peaks = new Map<number, number>();
  const sample = () => {
    for (const member of processTree(pid)) {
      try {
        const kib = Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${member}/status`, 'utf8'))?.[1] ?? 0);
        peaks.set(member, Math.max(peaks.get(member) ?? 0, kib));
      } catch {
        // It ended between the listing and the read.
      }
    }
  };
  const timer = setInterval(sample, 5);
  return {
    stop() {
      clearInterval(timer);
      return [...peaks.values()].reduce((sum, kib) => sum + kib, 0) / 1024;
    },
  };
}

/**
 * Runs one process, with the probe preloaded, or (`tree`) with its process tree's summed peak RSS sampled from /proc and
 * its requests counted from the -vv trace; wall time is from spawn to exit, as a shell would see it.
 */
function measure(args: string[], env: NodeJS.ProcessEnv, probe: boolean, tree = false): Promise<Sample & { code: number; stderr: string }> {
  const probeFile = join(helperDir, `probe-${process.pid}.json`);
  rmSync(probeFile, { force: true });
  const nodeArgs = probe && !tree ? ['--require', join(helperDir, 'probe.cjs'), ...args] : args;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, nodeArgs, { env: { ...env, BENCH_PROBE_FILE: probeFile }, stdio: ['ignore', 'ignore', 'pipe'] });
    // Sampled from the parent's exit backwards would miss the children, which end first: sample while all run.
    const rss = tree ? treePeakRss(child.pid!) : undefined;
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = performance.now() - started;
      if (rss) {
        resolve({ wallMs, requests: stderr.match(/^acme-client: → /gm)?.length ?? 0, rssMiB: rss.stop(), code: code ?? -1, stderr });
        return;
      }
      const counts = probe && existsSync(probeFile) ? JSON.parse(readFileSync(probeFile, 'utf8')) as { requests: number; maxRssKiB: number } : { requests: 0, maxRssKiB: 0 };
      resolve({ wallMs, requests: counts.requests, rssMiB: counts.maxRssKiB / 1024, code: code ?? -1, stderr });
    });
  });
}

async function bundleHelpers(): Promise<void> {
  mkdirSync(helperDir, { recursive: true });
  const common = { outdir: helperDir, bundle: true, packages: 'external', platform: 'node', target: 'node20', logLevel: 'warning' } as const;
  await esbuild.build({ ...common, entryPoints: { peer: join(root, 'bench/peer-acme-client.ts') }, outExtension: { '.js': '.mjs' }, format: 'esm' });
  // CommonJS and preloaded with --require: an ES module preload would start Node's ES module loader in every
  // process, adding its memory to the figures of a CommonJS entry such as ours.
  await esbuild.build({ ...common, entryPoints: { probe: join(root, 'bench/_probe.ts') }, outExtension: { '.js': '.cjs' }, format: 'cjs' });
}

/**
 * RUNS timed runs of `command`, bare, as a user runs it; then one more that counts: under the probe (requests at
 * node:https, peak RSS), or for a `split` client, whose network process is out of the probe's reach, with -vv's trace
 * counting the requests and the peak RSS summed over its processes. Sampling /proc every few milliseconds takes CPU
 * from the processes measured, so no timed run carries it.
 */
async function issuance(pebble: Pebble, label: string, command: (outDir: string) => string[], split = false): Promise<Sample[]> {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: pebble.tlsCaFile, BENCH_CA_HOST: new URL(pebble.directoryUrl).host };
  const once = async (run: number, counting: boolean) => {
    const outDir = mkdtempSync(join(tmpdir(), 'acme-bench-'));
    try {
      const [file, ...args] = command(outDir);
      const sample = await measure(counting && split ? [file!, '-vv', ...args] : [file!, ...args], env, counting && !split, counting && split);
      if (sample.code !== 0) throw new Error(`${label} run ${run} failed (exit ${sample.code}): ${sample.stderr.trim()}`);
      if (counting && sample.requests === 0) throw new Error(`${label}: no request to the CA was counted; does the probe still see node:https, does -vv still trace?`);
      return sample;
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  };
  const samples: Sample[] = [];
  for (let run = 1; run <= RUNS; run++) samples.push(await once(run, false));
  const { requests, rssMiB } = await once(RUNS + 1, true);
  return samples.map((sample) => ({ ...sample, requests, rssMiB }));
}

const ours = (pebble: Pebble, directoryUrl = pebble.directoryUrl, entry = cli) => (outDir: string) => {
  mkdirSync(join(outDir, 'certs'));
  return [entry, '-nN', '--key-type', 'ec256', '--directory', directoryUrl, '--standalone', `127.0.0.1:${pebble.httpPort}`,
    '-c', join(outDir, 'certs'), '-f', join(outDir, 'account.pem'), '-k', join(outDir, 'domain.pem'), ...NAMES];
};
const peer = (pebble: Pebble) => (outDir: string) => [join(helperDir, 'peer.mjs'), pebble.directoryUrl, String(pebble.httpPort), outDir, ...NAMES];

interface CronSamples {
  bare: Sample[];
  /** Inside the CA's Retry-After: renewal-info.json decides. */
  cached: Sample[];
  /** After it: one GET of the certificate's renewalInfo. */
  asked: Sample[];
}

/**
 * The exit-2 run and `node -e 0`, interleaved so that load on the machine hits both alike. The CA (Pebble behind the
 * ARI proxy) puts the window 30 days ahead with Retry-After 6 hours; an "asked" run first moves renewal-info.json's
 * next check into the past, as the day after would.
 */
async function cronPath(pebble: Pebble, proxy: AcmeProxy): Promise<CronSamples> {
  const dir = mkdtempSync(join(tmpdir(), 'acme-bench-cron-'));
  try {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: pebble.tlsCaFile, BENCH_CA_HOST: new URL(proxy.directoryUrl).host };
    const first = await measure(ours(pebble, proxy.directoryUrl)(dir), env, false);
    if (first.code !== 0) throw new Error(`cron setup failed: ${first.stderr}`);
    const certificate = parseCertificate(pemDecode(readFileSync(join(dir, 'certs', 'cert.pem'), 'utf8'), ['CERTIFICATE']).der);
    const now = Date.now();
    proxy.setRenewalInfo(certificateIdentifier(certificate), { start: new Date(now + 30 * 86_400_000), end: new Date(now + 32 * 86_400_000), retryAfterSeconds: 6 * 3600 });
    const stateFile = join(dir, 'certs', 'renewal-info.json');
    const expire = () => writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), nextCheck: new Date(Date.now() - 1000).toISOString() }));
    // The same command a crontab would hold, minus -nN.
    const cron = [cli, '--directory', proxy.directoryUrl, '-c', join(dir, 'certs'), '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'), ...NAMES];
    // A run that asks does so through a network process of its own: its peak RSS is summed over the processes, as
    // an issuance's is, and its requests are counted at the proxy, out of the probe's reach.
    const cronRun = async (ask: boolean, probe: boolean) => {
      if (ask) expire();
      const since = proxy.requests.length;
      const sample = await measure(cron, env, probe && !ask, probe && ask);
      if (sample.code !== 2) throw new Error(`cron run exited ${sample.code}, not 2: ${sample.stderr}`);
      if (ask) sample.requests = proxy.requests.length - since;
      return sample;
    };
    const result: CronSamples = { bare: [], cached: [], asked: [] };
    for (let run = 0; run < CRON_RUNS; run++) {
      result.bare.push(await measure(['-e', '0'], env, false));
      result.asked.push(await cronRun(true, false));
      result.cached.push(await cronRun(false, false));
    }
    // Peak RSS and request counts from the probe in separate runs, so its own load time stays out of the wall times.
    const probed = (sample: Sample, { rssMiB, requests }: Sample) => Object.assign(sample, { rssMiB, requests });
    for (let run = 0; run < RUNS; run++) {
      result.bare[run]!.rssMiB = (await measure(['-e', '0'], env, true)).rssMiB;
      probed(result.asked[run]!, await cronRun(true, true));
      probed(result.cached[run]!, await cronRun(false, true));
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const besideAt = process.argv.indexOf('--beside');
const beside = besideAt > 0 ? process.argv[besideAt + 1] : undefined;
if (!existsSync(cli)) {
  console.error(`bench: ${cli} is missing; run "npx tsx build.ts" first`);
  process.exit(1);
}
/** Our CLI against npm acme-client, 5 issuances each. */
async function compareIssuance(): Promise<void> {
  const oursSamples = await issuance(pebble, 'acme-client (ours)', ours(pebble, pebble.directoryUrl, cli), true);
  const besideSamples = beside ? await issuance(pebble, `acme-client (${beside})`, ours(pebble, pebble.directoryUrl, beside), true) : undefined;
  const peerSamples = await issuance(pebble, 'npm acme-client', peer(pebble));

  const summary = (samples: Sample[]) => ({
    wall: median(samples.map((s) => s.wallMs)) / 1000,
    requests: median(samples.map((s) => s.requests)),
    rss: median(samples.map((s) => s.rssMiB)),
  });
  const a = summary(oursSamples);
  const b = summary(peerSamples);
  const ratio = (x: number, y: number) => (y ? `${(x / y).toFixed(2)}×` : '-');
  console.log(`\nIssuance: 3 names, fresh EC P-256 account and key, http-01, Pebble with PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0; medians of ${RUNS}\n`);
  console.log('| client | wall s | HTTP requests to the CA | peak RSS MB (ours: summed over its processes) |');
  console.log('|---|---|---|---|');
  console.log(`| acme-client (this, --standalone) | ${a.wall.toFixed(3)} | ${a.requests} | ${a.rss.toFixed(1)} |`);
  if (besideSamples) {
    const c = summary(besideSamples);
    console.log(`| ${beside} | ${c.wall.toFixed(3)} | ${c.requests} | ${c.rss.toFixed(1)} |`);
  }
  console.log(`| npm acme-client 5.4.0 (auto, http-01) | ${b.wall.toFixed(3)} | ${b.requests} | ${b.rss.toFixed(1)} |`);
  console.log(`| ratio this/peer | ${ratio(a.wall, b.wall)} | ${ratio(a.requests, b.requests)} | ${ratio(a.rss, b.rss)} |`);
  console.log(`| target | ≤ 0.5 | ≤ 15 | ≤ 60 |`);
  if (besideSamples) console.log(`\nEvery run of ${beside}: ${besideSamples.map((s) => s.wallMs.toFixed(0)).join(' ')} ms`);
  console.log(`\nEvery run, wall s: this ${oursSamples.map((s) => s.wallMs.toFixed(0)).join(' ')} ms; peer ${peerSamples.map((s) => s.wallMs.toFixed(0)).join(' ')} ms`);
}

await bundleHelpers();
const pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
const proxy = await startAcmeProxy(pebble);
try {
  if (!process.argv.includes('--cron-only')) await compareIssuance();
  const { bare, cached, asked } = await cronPath(pebble, proxy);

  const wallOf = (samples: Sample[]) => median(samples.map((s) => s.wallMs));
  const rssOf = (samples: Sample[]) => median(samples.slice(0, RUNS).map((s) => s.rssMiB));
  const requestsOf = (samples: Sample[]) => median(samples.slice(0, RUNS).map((s) => s.requests));
  const bareWall = wallOf(bare);
  console.log(`\nCron path: certificate present and not due (exit 2); wall medians of ${CRON_RUNS} interleaved runs, RSS and requests medians of ${RUNS}\n`);
  console.log('| process | wall ms | over node -e 0 (target ≤ 15 ms) | requests to the CA | peak RSS MB |');
  console.log('|---|---|---|---|---|');
  console.log(`| node -e 0 | ${bareWall.toFixed(1)} | - | - | ${rssOf(bare).toFixed(1)} |`);
  for (const [label, samples] of [['acme-client, inside Retry-After (renewal-info.json decides)', cached], ['acme-client, asking ARI (local Pebble + proxy)', asked]] as const) {
    console.log(`| ${label} | ${wallOf(samples).toFixed(1)} | +${(wallOf(samples) - bareWall).toFixed(1)} | ${requestsOf(samples)} | ${rssOf(samples).toFixed(1)} |`);
  }
} finally {
  await proxy.stop();
  await pebble.stop();
}
