// Benchmark: the fault campaign of issue 10. Pebble behind test/_fault-proxy.ts (a separate process); 20 issuances of
// 3 names with 10 % of requests faulted (a reset, a 503 without Retry-After, a 502 with an HTML body, an answer lost
// after Pebble acted, a body cut in half; seeds 1 to 20), beside 20 fault-free runs through the same proxy. Prints
// the successes out of 20 and the requests against the fault-free runs, then 20 runs with half of all nonces rejected.
// Run: `npx tsx bench/faults.ts` after `npx tsx build.ts`.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPebble } from '../test/_pebble.ts';
import { faultCampaign, inParallel, issueAt, startFaultProxy } from '../test/_fault-lanes.ts';
import { closeServer, serveWebroot, type WebrootServer } from '../test/node/_cli.ts';

const RUNS = 20;
const RATE = 0.1;
const PARALLEL = 8;
const NAMES = ['a.example', 'b.example', 'c.example'];
const work = mkdtempSync(join(tmpdir(), 'acme-bench-faults-'));
const www = join(work, 'www');
mkdirSync(www);
let runs = 0;
const runIn = (caFile: string) => () => ({ caFile, www, dir: join(work, `run-${++runs}`), names: NAMES });

const pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
let server: WebrootServer | undefined = await serveWebroot(www, pebble.httpPort);
const proxy = await startFaultProxy(pebble);
try {
  const started = performance.now();
  const campaign = await faultCampaign(proxy, { runs: RUNS, rate: RATE, parallel: PARALLEL, run: runIn(pebble.tlsCaFile) });
  const seconds = (performance.now() - started) / 1000;
  const cleanOk = campaign.clean.filter((run) => run.result.code === 0).length;
  console.log(`\nFault campaign: ${NAMES.length} names, new EC keys, http-01; ${RUNS} runs with ${RATE * 100} % of requests faulted (seeds 1-${RUNS}) beside ${RUNS} fault-free runs, ${PARALLEL} at a time, ${seconds.toFixed(0)} s in all\n`);
  console.log('| runs | issued | HTTP requests to the CA | faults injected | requests vs fault-free |');
  console.log('|---|---|---|---|---|');
  console.log(`| fault-free | ${cleanOk}/${RUNS} | ${campaign.cleanRequests} | 0 | 1.00× |`);
  console.log(`| 10 % faulted | ${campaign.succeeded}/${RUNS} | ${campaign.faultedRequests} | ${campaign.faults} | ${(campaign.faultedRequests / campaign.cleanRequests).toFixed(2)}× |`);
  console.log('| target | ≥ 19/20 | | | ≤ 2.00× |');
  for (const run of campaign.faulted.filter((r) => r.result.code !== 0)) console.log(`failed: ${run.result.stderr.trim()}`);
  await closeServer(server);
  server = undefined;

  const rejecting = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '50' } });
  const rejectingServer = await serveWebroot(www, rejecting.httpPort);
  try {
    const results = await inParallel(RUNS, PARALLEL, () => issueAt(rejecting.directoryUrl, runIn(rejecting.tlsCaFile)()));
    console.log(`\nPEBBLE_WFE_NONCEREJECT=50 (half of all nonces rejected): ${results.filter((r) => r.result.code === 0).length}/${RUNS} issued (target 20/20)`);
  } finally {
    await closeServer(rejectingServer);
    await rejecting.stop();
  }
} finally {
  if (server) await closeServer(server);
  await proxy.stop();
  await pebble.stop();
  rmSync(work, { recursive: true, force: true });
}
