// The kill -9 campaign for one runtime (cli-crash.test.ts runs it in Node, cli-crash-deno.test.ts in Deno, each file
// within the suite's time per file), against Pebble behind test/_acme-proxy.ts (which records every account
// key and every CSR the CA accepted, even when the client never read the answer). A first run (-nN) and a renewal
// (-F -b) are stopped with SIGKILL at every named moment (ACME_CLIENT_TEST_PAUSE_AT: the CLI stops itself there and
// the test kills it), between the renames included, and at seeded random times. After each kill: every file is
// whole, and every key the CA knows is on disk. Then the CLI runs again (the same first run; for renewals, the daily
// run that finds nothing due) and must leave one consistent set and no file of a killed run.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { startAcmeProxy, type AcmeProxy } from '../_acme-proxy.ts';
import { denoPermissions, runCli, runCliUntil, tempDir, type CliResult, type Runtime } from './_cli.ts';
import { processTree, whenReleased } from './_proc.ts';
import { pemDecodeAll } from '../../core/encoding.ts';
import { parseCsr } from '../../core/csr.ts';
import { importKey } from '../../core/key-pem.ts';
import { certificateMatchesKey, parseCertificate } from '../../core/x509.ts';
import type { PublicJwk } from '../../core/engine.ts';

const NAMES = ['crash.example', 'www.crash.example'];
/** The moments of a first run, in order; renamed-N is after the Nth rename (cert, chain, fullchain, renewal-info.json). */
const FIRST_RUN_POINTS = ['account-key-written', 'account-done', 'order-done', 'domain-key-written', 'certificate-done', 'set-staged',
  'journal-written', 'renamed-1', 'renamed-2', 'renamed-3', 'renamed-4', 'set-replaced'];
/** A renewal with -b renames three backups first, then the four files. */
const RENEWAL_POINTS = ['account-key-written', 'account-done', 'order-done', 'domain-key-written', 'certificate-done', 'set-staged',
  'journal-written', ...Array.from({ length: 7 }, (_, i) => `renamed-${i + 1}`), 'set-replaced'];
const TIMED_KILLS = 3;
const SEED = 20261207;

/** mulberry32: the timed kills land at the same fractions of a run every time. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sameKey = (a: JsonWebKey | PublicJwk, b: JsonWebKey | PublicJwk) =>
  (['kty', 'crv', 'x', 'y', 'n', 'e'] as const).every((member) => (a as JsonWebKey)[member] === (b as JsonWebKey)[member]);

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? filesBelow(join(dir, name)) : [join(dir, name)]));
}

/** Campaign totals, printed per runtime and kind of run. */
interface Counts { kills: number; completedFirst: number; wholeFiles: number; knownKeys: number; recoveries: number }

/** Registers the campaign's tests for `runtime`, with a Pebble of their own. */
export function crashCampaign(runtime: Runtime): void {
  let pebble: Pebble;
  let proxy: AcmeProxy;
  const work = tempDir('acme-cli-crash-');

  before(async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
    proxy = await startAcmeProxy(pebble, { renewalInfo: false, profiles: false, caaIdentities: false });
  });
  after(async () => {
    await proxy?.stop();
    await pebble?.stop();
    work.remove();
  });

  /** One certificate set: its folder, and a run of the CLI on it that can be stopped at a moment or after a delay. */
  function setOf(name: string) {
    const dir = join(work.dir, runtime, name);
    const certs = join(dir, 'certs');
    mkdirSync(certs, { recursive: true });
    const argv = (args: string[]) => ['--directory', proxy.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'),
      '--no-caa-check', '--key-type', 'ec256', '--standalone', `127.0.0.1:${pebble.httpPort}`, ...args, ...NAMES];
    const options = (command: string[]) => ({
      runtime,
      caFile: pebble.tlsCaFile,
      // --allow-run lets Deno look up the killed run's PID, so its lock is taken over at once instead of after
      // LOCK_STALE_MS; cli-lock.test.ts shows the takeover without it.
      permissions: [...denoPermissions(command), '--allow-env=ACME_CLIENT_TEST_PAUSE_AT', '--allow-run'],
    });
    /** A run stopped with SIGKILL at a checkpoint, or after a delay if it has not ended by then. */
    const run = async (args: string[], stop: { at?: string; afterMs?: number } = {}): Promise<CliResult & { killed: boolean }> => {
      const command = argv(args);
      // The next run starts once the killed run's children have ended, as they do once they read the end of their input.
      if (stop.at) {
        const paused = runCliUntil(command, stop.at, options(command));
        const tree = processTree(await paused.paused);
        paused.kill();
        const result = await paused.result;
        await whenReleased(tree);
        return { ...result, killed: true };
      }
      let killedTree: number[] | undefined;
      const result = await runCli(command, {
        ...options(command),
        onSpawn(child) {
          if (stop.afterMs === undefined) return;
          setTimeout(() => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            killedTree = processTree(child.pid!);
            child.kill('SIGKILL');
          }, stop.afterMs);
        },
      });
      if (killedTree) await whenReleased(killedTree);
      return { ...result, killed: killedTree !== undefined };
    };
    return { dir, certs, run };
  }

  /** Every file whole, and every key the CA learned of since `seen` on disk; returns how many of each it checked. */
  async function checkAfterKill(dir: string, seen: { accounts: number; csrs: number }): Promise<{ files: number; keys: number }> {
    let files = 0;
    for (const file of filesBelow(dir)) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      if (name.startsWith('.acme-client-tmp-')) continue; // a killed write's own file; the next run must remove it
      const text = readFileSync(file, 'utf8');
      if (name.endsWith('.json') || name.endsWith('.lock')) JSON.parse(text);
      else if (text.includes('PRIVATE KEY')) await importKey(text);
      else {
        const blocks = pemDecodeAll(text);
        assert.ok(blocks.length > 0 || name.startsWith('chain'), `${file} holds no PEM block`);
        for (const block of blocks) parseCertificate(block.der);
      }
      files++;
    }
    let keys = 0;
    const onDisk = async (file: string) => (await importKey(readFileSync(join(dir, file), 'utf8'))).publicJwk;
    for (const jwk of proxy.accountKeys.slice(seen.accounts)) {
      assert.ok(sameKey(await onDisk('account.pem'), jwk), 'the account key the CA registered is account.pem');
      keys++;
    }
    for (const csr of proxy.finalizedCsrs.slice(seen.csrs)) {
      assert.ok(sameKey(await onDisk('domain.pem'), (await parseCsr(Buffer.from(csr, 'base64url'))).publicJwk), 'the key the CA certified is domain.pem');
      keys++;
    }
    return { files, keys };
  }

  /** One consistent set for the domain key, and nothing of a killed run left anywhere. */
  async function checkConsistent(dir: string, certs: string): Promise<void> {
    const read = (file: string) => readFileSync(join(certs, file), 'utf8');
    assert.equal(read('fullchain.pem'), read('cert.pem') + read('chain.pem'));
    const certificate = parseCertificate(pemDecodeAll(read('cert.pem'))[0]!.der);
    assert.ok(certificateMatchesKey(certificate, (await importKey(readFileSync(join(dir, 'domain.pem'), 'utf8'))).publicJwk), 'cert.pem is for domain.pem');
    assert.deepEqual([...certificate.dnsNames].sort(), [...NAMES].sort());
    assert.deepEqual(filesBelow(dir).filter((file) => file.includes('/.acme-client')), []);
  }

  /** Kills one run as `stop` says, checks, runs again with `rerun`, checks; adds to `counts`. */
  async function killAndRecover(
    t: TestContext, set: ReturnType<typeof setOf>, args: string[], stop: { at?: string; afterMs?: number }, rerun: string[], counts: Counts,
  ): Promise<CliResult> {
    const seen = { accounts: proxy.accountKeys.length, csrs: proxy.finalizedCsrs.length };
    const killed = await set.run(args, stop);
    if (killed.killed) counts.kills++;
    else counts.completedFirst++;
    const { files, keys } = await checkAfterKill(set.dir, seen);
    counts.wholeFiles += files;
    counts.knownKeys += keys;
    const again = await set.run(rerun);
    assert.ok(again.code === 0 || again.code === 2, `after a kill ${stop.at ?? `at ${stop.afterMs} ms`}: exit ${again.code}: ${again.stderr}`);
    if (/completed the change/.test(again.stderr)) counts.recoveries++;
    await checkConsistent(set.dir, set.certs);
    t.diagnostic(`${stop.at ?? `${stop.afterMs} ms`}: ${killed.killed ? 'killed' : 'finished first'}; rerun exit ${again.code}`);
    return again;
  }

  const report = (t: TestContext, kind: string, counts: Counts) =>
    t.diagnostic(`${runtime} ${kind}: ${counts.kills} kills (${counts.completedFirst} runs finished first), ${counts.wholeFiles} files whole, `
      + `${counts.knownKeys} keys the CA knew found on disk, ${counts.recoveries} interrupted changes completed`);

  describe(`[${runtime}] kill -9 campaign`, () => {
    test(`[${runtime}] a first run (-nN) killed at every moment and at seeded times: keys the CA knows are on disk, and the rerun issues`, async (t) => {
      const counts: Counts = { kills: 0, completedFirst: 0, wholeFiles: 0, knownKeys: 0, recoveries: 0 };
      const started = Date.now();
      const timing = setOf('first-timing');
      const full = await timing.run(['-nN']);
      assert.equal(full.code, 0, full.stderr);
      const runMs = Date.now() - started;
      for (const at of FIRST_RUN_POINTS) await killAndRecover(t, setOf(`first-${at}`), ['-nN'], { at }, ['-nN'], counts);
      const next = random(SEED);
      for (let i = 0; i < TIMED_KILLS; i++) {
        await killAndRecover(t, setOf(`first-timed-${i}`), ['-nN'], { afterMs: Math.floor(next() * runMs) }, ['-nN'], counts);
      }
      assert.equal(counts.kills >= FIRST_RUN_POINTS.length, true);
      report(t, 'first run', counts);
    });

    test(`[${runtime}] a renewal (-F -b) killed at every moment and at seeded times: the daily run completes the change (exit 0, says so) or finds a whole set`, async (t) => {
      const counts: Counts = { kills: 0, completedFirst: 0, wholeFiles: 0, knownKeys: 0, recoveries: 0 };
      const set = setOf('renewal');
      const issued = await set.run(['-nN']);
      assert.equal(issued.code, 0, issued.stderr);
      const started = Date.now();
      const timed = await set.run(['-F', '-b']);
      assert.equal(timed.code, 0, timed.stderr);
      const runMs = Date.now() - started;
      for (const at of RENEWAL_POINTS) {
        const before = readFileSync(join(set.certs, 'cert.pem'), 'utf8');
        const daily = await killAndRecover(t, set, ['-F', '-b'], { at }, [], counts);
        const between = at === 'journal-written' || at.startsWith('renamed-') || at === 'set-replaced';
        // Once the journal is written, the next run carries the change out: a new certificate, and it says so.
        assert.equal(daily.code, between ? 0 : 2, `${at}: ${daily.stderr}`);
        if (between) {
          assert.match(daily.stderr, new RegExp(`^acme-client: completed the change of cert-\\d+\\.pem, chain-\\d+\\.pem, fullchain-\\d+\\.pem, cert\\.pem, chain\\.pem, `
            + `fullchain\\.pem, renewal-info\\.json in ${set.certs} that process \\d+ began\\n$`));
          assert.notEqual(readFileSync(join(set.certs, 'cert.pem'), 'utf8'), before);
        } else {
          assert.equal(readFileSync(join(set.certs, 'cert.pem'), 'utf8'), before);
        }
      }
      const next = random(SEED + 1);
      for (let i = 0; i < TIMED_KILLS; i++) await killAndRecover(t, set, ['-F', '-b'], { afterMs: Math.floor(next() * runMs) }, [], counts);
      report(t, 'renewal', counts);
    });

    test(`[${runtime}] a set that does not belong together (an old fullchain.pem; a domain key the certificate is not for) is renewed by the daily run, which says why`, async () => {
      const set = setOf('mismatch');
      const issued = await set.run(['-nN']);
      assert.equal(issued.code, 0, issued.stderr);
      const oldFullchain = readFileSync(join(set.certs, 'fullchain.pem'), 'utf8');
      const renewed = await set.run(['-F']);
      assert.equal(renewed.code, 0, renewed.stderr);
      // What an older acme-client left when killed between its renames: a new cert.pem beside an old fullchain.pem.
      writeFileSync(join(set.certs, 'fullchain.pem'), oldFullchain);
      const repaired = await set.run([]);
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.equal(repaired.stderr, `acme-client: ${join(set.certs, 'fullchain.pem')} is not ${join(set.certs, 'cert.pem')} followed by `
        + `${join(set.certs, 'chain.pem')}; renewing to repair the set\n`);
      await checkConsistent(set.dir, set.certs);
      // A new domain key (say, replaced by hand) that the certificate is not for: -N is not needed, the key is there.
      writeFileSync(join(set.dir, 'domain.pem'), execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']));
      const rekeyed = await set.run([]);
      assert.equal(rekeyed.code, 0, rekeyed.stderr);
      assert.match(rekeyed.stderr, /is not for the domain key .*domain\.pem; renewing to repair the set\n$/);
      await checkConsistent(set.dir, set.certs);
      assert.equal((await set.run([])).code, 2);
    });
  });
}
