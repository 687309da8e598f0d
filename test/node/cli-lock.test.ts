// Overlapping runs on one certificate set, in Node and in Deno (with the narrowest permissions, so Deno cannot look up
// PIDs and tells a dead holder by its lock going stale): the second run waits for the first and then finds nothing
// to do; a second run that cannot wait long enough fails with one line naming the first run's PID; a lock left by a
// killed run is taken over; --renew-all locks each set on its own, so a set someone else holds fails alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { startAcmeProxy, type AcmeProxy } from '../_acme-proxy.ts';
import { RUNTIMES, denoPermissions, runCli, runCliUntil, tempDir, type CliResult } from './_cli.ts';

const NAMES = ['lock.example', 'www.lock.example'];
/** A run that cannot wait for the lock waits this long in these tests (a real one waits 30 s). */
const SHORT_WAIT_MS = '300';

let pebble: Pebble;
let proxy: AcmeProxy;
const work = tempDir('acme-cli-lock-');

before(async () => {
  // No reused authorizations: a renewal with -t must print its lines (and wait for them).
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' } });
  proxy = await startAcmeProxy(pebble, { renewalInfo: false, profiles: false, caaIdentities: false });
});
after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  work.remove();
});

for (const runtime of RUNTIMES) {
  describe(`[${runtime}] one run per certificate set`, () => {
    const tree = join(work.dir, runtime);
    const certs = join(tree, NAMES[0]!);
    // -m's layout under the tree, so that --renew-all can walk it; one account key for every set.
    const argv = (args: string[], names = NAMES) => ['--directory', proxy.directoryUrl, '-f', join(tree, 'account.pem'), '-c', join(tree, names[0]!),
      '-k', join(tree, 'private', names[0]!, 'privkey.pem'), '--no-caa-check', '--key-type', 'ec256', ...args, ...names];
    const standalone = () => ['--standalone', `127.0.0.1:${pebble.httpPort}`];
    const options = (command: string[], env: Record<string, string> = {}) => ({
      runtime, caFile: pebble.tlsCaFile, env,
      permissions: [...denoPermissions(command), '--allow-env=ACME_CLIENT_TEST_PAUSE_AT,ACME_CLIENT_TEST_LOCK_WAIT_MS'],
    });
    const run = (args: string[], env: Record<string, string> = {}, onLine?: (line: string) => Promise<string>, names = NAMES) =>
      runCli(argv(args, names), { ...options(argv(args, names), env), ...(onLine && { onLine }) });
    const pausedRun = (args: string[], point: string) => runCliUntil(argv(args), point, options(argv(args)));
    const serial = () => readFileSync(join(certs, 'cert.pem'), 'utf8');

    before(async () => {
      mkdirSync(join(tree, NAMES[0]!), { recursive: true });
      mkdirSync(join(tree, 'other.example'));
      for (const names of [NAMES, ['other.example']]) {
        const issued = await run(['-nN', ...standalone()], {}, undefined, names);
        assert.equal(issued.code, 0, issued.stderr);
      }
    });

    test(`[${runtime}] a daily run that starts while -F renews waits for it, then finds nothing due: one order, one writer`, async () => {
      const orders = proxy.orders.length;
      let daily: Promise<CliResult> | undefined;
      const startDaily = (): Promise<void> => {
        const command = argv(['-v']);
        let waiting: () => void = () => {};
        const waits = new Promise<void>((resolve) => (waiting = resolve));
        daily = runCli(command, {
          ...options(command),
          onSpawn: (child) => child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('waiting for process') && waiting()),
        });
        return Promise.race([waits, daily.then((ended) => Promise.reject(new Error(`the daily run did not wait: exit ${ended.code}: ${ended.stderr}`)))]);
      };
      // -t keeps the renewal alive, holding the lock, until its lines come back; the daily run starts meanwhile.
      const renewal = await run(['-F', '-t', 'dns-01'], {}, async (line) => {
        if (!daily) await startDaily();
        const [, name, keyAuthorization] = line.split(' ') as [string, string, string];
        await pebble.setTxt(`_acme-challenge.${name}`, createHash('sha256').update(keyAuthorization).digest('base64url'));
        return line;
      });
      assert.equal(renewal.code, 0, renewal.stderr);
      const result = await daily!;
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^acme-client: waiting for process \\d+, which holds ${join(certs, '.acme-client.lock')}\n`));
      assert.equal(proxy.orders.length - orders, 1, 'only the renewal ordered');
    });

    test(`[${runtime}] a second run that cannot wait long enough fails with one line naming the PID that holds the set; nothing written`, async () => {
      const orders = proxy.orders.length;
      const before = serial();
      const first = pausedRun(['-F', ...standalone()], 'order-done');
      const pid = await first.paused;
      try {
        const second = await run(['-F', ...standalone()], { ACME_CLIENT_TEST_LOCK_WAIT_MS: SHORT_WAIT_MS });
        assert.equal(second.code, 1);
        assert.match(second.stderr, new RegExp(`^acme-client: Cannot lock ${join(certs, '.acme-client.lock')}: acme-client process ${pid} has held it since `
          + '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(waited 0 s\\)\\n$'));
        assert.equal(proxy.orders.length - orders, 1, 'only the first run ordered');
        // --renew-all locks each set on its own: the held set fails alone, the other is looked at as usual.
        const all = await runCli(['--directory', proxy.directoryUrl, '-f', join(tree, 'account.pem'), '--no-caa-check', '--renew-all', tree],
          options(['--directory', proxy.directoryUrl, '-f', join(tree, 'account.pem'), '--renew-all', tree], { ACME_CLIENT_TEST_LOCK_WAIT_MS: SHORT_WAIT_MS }));
        assert.equal(all.code, 1, all.stderr);
        assert.match(all.stdout, new RegExp(`^lock\\.example: FAILED: Cannot lock .*: acme-client process ${pid} has held it since .*\\nother\\.example: unchanged \\(due .*\\)\\n$`));
      } finally {
        first.kill();
        await first.result;
      }
      assert.equal(serial(), before);
    });

    test(`[${runtime}] a lock attempt's file is removed by the run that holds the lock, whatever its writer; other temporary files of a live writer stay`, async () => {
      // A run killed while it took the lock leaves its attempt; this process's PID stands for a writer that may be
      // alive, which Deno without --allow-run cannot tell from a dead one.
      const attempt = join(certs, `.acme-client-tmp-${process.pid}-0badf00d-.acme-client.lock`);
      const staged = join(certs, `.acme-client-tmp-${process.pid}-0badf00d-cert.pem`);
      writeFileSync(attempt, '{}\n');
      writeFileSync(staged, 'not yet a certificate\n');
      try {
        const daily = await run(['-v']);
        assert.equal(daily.code, 2, daily.stderr);
        assert.match(daily.stderr, new RegExp(`^acme-client: removed ${attempt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, left by a run that was stopped$`, 'm'));
        assert.equal(existsSync(attempt), false);
        assert.equal(existsSync(staged), true, 'a live writer keeps its temporary file');
      } finally {
        rmSync(staged, { force: true });
      }
    });

    test(`[${runtime}] the lock of a killed run is taken over${runtime === 'deno' ? ' once it goes stale (Deno cannot look up PIDs without --allow-run)' : ' at once'}`, async () => {
      const first = pausedRun(['-F', ...standalone()], 'certificate-done');
      const pid = await first.paused;
      first.kill();
      await first.result;
      assert.match(readFileSync(join(certs, '.acme-client.lock'), 'utf8'), new RegExp(`"pid":${pid}`));
      const daily = await run(['-v']);
      assert.equal(daily.code, 2, daily.stderr);
      assert.match(daily.stderr, new RegExp(`^acme-client: took over the lock of process ${pid}, which is gone$`, 'm'));
      assert.deepEqual(readdirSync(certs).filter((name) => name.startsWith('.acme-client')), []);
    });
  });
}
