// The built acme-client against Pebble behind test/_fault-proxy.ts, a separate process that breaks requests on a
// plan: every fault kind at every step, 20 seeded runs with 10 % of requests faulted, half of all nonces rejected,
// and a CA that goes down mid-run. In Node, and in Deno for the fault kinds, a few seeded runs and the outage.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { FAULT_KINDS, STEPS, faultCampaign, inParallel, issueAt, issueThroughLane, startFaultProxy, type FaultPlan, type FaultProxy, type LaneRun } from '../_fault-lanes.ts';
import { closeServer, opensslRead, runCli, serveWebroot, snapshotTree, tempDir, type Runtime, type WebrootServer } from './_cli.ts';

const NAME = 'faults.example';
let pebble: Pebble;
let proxy: FaultProxy;
let webServer: WebrootServer;
const work = tempDir('acme-faults-');
const www = join(work.dir, 'www');
let runs = 0;

before(async () => {
  // No badNonce of Pebble's own (5 % by default): every retry in these runs is one the proxy caused.
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  mkdirSync(www);
  webServer = await serveWebroot(www, pebble.httpPort);
  proxy = await startFaultProxy(pebble);
});

after(async () => {
  await proxy?.stop();
  await closeServer(webServer);
  await pebble.stop();
  work.remove();
});

/** One issuance of NAME with new keys through a lane with `plan`, in a directory of its own. */
function issue(runtime: Runtime, plan: FaultPlan): Promise<LaneRun> {
  return issueThroughLane(proxy, plan, { runtime, ...runOptions() });
}

function runOptions() {
  return { caFile: pebble.tlsCaFile, www, dir: join(work.dir, `run-${++runs}`), names: [NAME] };
}

function assertIssued({ result, certs }: LaneRun, what: string): void {
  assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  assert.deepEqual(opensslRead(join(certs, 'cert.pem')).names, [NAME], what);
}

// The runs mostly wait on Pebble and on CPU time the machine shares out per process, so the tests run side by side.
describe('acme-client against a faulty CA', { concurrency: true }, () => {
  for (const runtime of ['node', 'deno'] as const) {
    describe(`[${runtime}] each fault kind at each step`, { concurrency: true }, () => {
      test(`[${runtime}] one fault of each kind at every step (${STEPS.join(', ')}): every run still issues`, async () => {
        const results = await inParallel(FAULT_KINDS.length, FAULT_KINDS.length, (i) =>
          issue(runtime, { at: STEPS.map((step) => ({ step, kind: FAULT_KINDS[i]! })) }));
        results.forEach((issued, i) => {
          assertIssued(issued, FAULT_KINDS[i]!);
          assert.deepEqual(new Set(issued.stats.faults.map((fault) => fault.step)), new Set(STEPS), `${FAULT_KINDS[i]}: one fault at every step`);
        });
      });

      test(`[${runtime}] the CA goes down at newOrder: exit 1 within the retry time, one line naming request, CA and cause, nothing written`, async () => {
        const dir = join(work.dir, `down-${runtime}`);
        mkdirSync(join(dir, 'certs'), { recursive: true });
        for (const key of ['account.pem', 'domain.pem']) {
          execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, key)]);
        }
        const lane = await proxy.lane({ downFrom: 'newOrder' });
        const before = snapshotTree(dir);
        const started = Date.now();
        const result = await runCli(['--directory', lane.directoryUrl, '--retry-time', '3', '-C', www, '-c', join(dir, 'certs'), '-f', join(dir, 'account.pem'),
          '-k', join(dir, 'domain.pem'), NAME], { runtime, caFile: pebble.tlsCaFile });
        const seconds = (Date.now() - started) / 1000;
        assert.equal(result.code, 1, result.stderr);
        const host = new URL(lane.directoryUrl).host.replace(/\./g, '\\.');
        // The order's answer is lost; the run ends there when that try alone used up the retry time (a loaded
        // machine), or at the nonce that its retry asks a CA that is gone by then.
        assert.match(result.stderr, new RegExp(`^acme-client: Cannot (get a nonce from https://${host}/nonce-plz to )?create order: the connection to ${host} `
          + 'was (reset|refused) \\(\\d+ tr(y|ies) in \\d+ s(; the 3 s this run waits for a CA are spent)?\\)\\n$'));
        // Within the issue's two minutes even on a loaded machine; the faults themselves may cost 3 s.
        assert.ok(seconds < 120, `${seconds} s`);
        assert.deepEqual(snapshotTree(dir), before);
      });
    });
  }

  test('[node] 20 seeded runs with 10 % of requests faulted: at least 19 issue, with at most twice the requests of 20 fault-free runs', async () => {
    // Faulted and fault-free runs side by side, so that the machine's load weighs on both alike.
    const campaign = await faultCampaign(proxy, { runs: 20, rate: 0.1, parallel: 10, run: runOptions });
    const { clean, succeeded, faultedRequests, cleanRequests } = campaign;
    const failures = campaign.faulted.filter((issued) => issued.result.code !== 0).map((issued) => issued.result.stderr.trim());
    console.log(`10 % faulted: ${succeeded}/20 issued, ${faultedRequests} requests (${campaign.faults} faulted) against ${cleanRequests} for 20 fault-free runs`);
    assert.ok(succeeded >= 19, failures.join('\n'));
    for (const issued of clean) {
      assertIssued(issued, 'fault-free');
      // Without faults, no request is made twice: only the order is polled, until it is ready and until it is valid.
      // A request the proxy itself failed to pass on (a loaded machine) is a fault like any other.
      if (issued.stats.upstreamErrors > 0) continue;
      const { order = 0, ...once } = issued.stats.steps;
      assert.deepEqual(once, Object.fromEntries(STEPS.filter((step) => step !== 'order').map((step) => [step, 1])), JSON.stringify(issued.stats));
      assert.ok(order >= 1, JSON.stringify(issued.stats.steps));
    }
    assert.ok(faultedRequests <= 2 * cleanRequests, `${faultedRequests} requests against ${cleanRequests}`);
  });

  test('[node] with half of all nonces rejected (PEBBLE_WFE_NONCEREJECT=50), 20 of 20 runs issue', async () => {
    const rejecting = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '50' } });
    const server = await serveWebroot(www, rejecting.httpPort);
    try {
      const results = await inParallel(20, 10, () => issueAt(rejecting.directoryUrl, { ...runOptions(), caFile: rejecting.tlsCaFile }));
    assert.deepEqual(results.filter(({ result }) => result.code !== 0).map(({ result }) => result.stderr), []);
    } finally {
      await closeServer(server);
      await rejecting.stop();
    }
  });
});
