// Privilege separation (cli/privsep.ts), checked from outside through /proc while a real run against Pebble is
// paused by a test-only hook, in Node and in Deno, as root: the process connected to the CA runs as nobody and has
// neither private key in its memory in any encoding, nor the external account binding's MAC key; only the key
// process holds them, and it has no connection to the CA; the network process is refused a key file and a write; a
// child that dies fails the run with one line, leaves nothing running and changes nothing. The key process's refusals
// run against the real child over its pipes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { RUNTIMES, closeServer, runCli, serveWebroot, snapshotTree, tempDir, type Runtime, type WebrootServer } from './_cli.ts';
import { commandLine, findInMemory, keyNeedles, processTree, processesConnectedTo, uidOf } from './_proc.ts';
import { startNodeChild } from '../../cli/node-children.ts';
import { RpcClient, lineChannel } from '../../core/_line-rpc.ts';
import { publicKeyFromSpki } from '../../core/spki.ts';

const NAMES = ['priv.example', 'www.priv.example'];
const NOBODY = 65534;
/** The CA requires external account binding, so that the tests see where its MAC key goes. */
const EAB_KEY = randomBytes(32).toString('base64url');
let pebble: Pebble;
let webServer: WebrootServer;
const work = tempDir('acme-privsep-');
const www = join(work.dir, 'www');

before(async () => {
  pebble = await startPebble({ eabKeys: { 'kid-1': EAB_KEY } });
  mkdirSync(www);
  webServer = await serveWebroot(www, pebble.httpPort);
});

after(async () => {
  await closeServer(webServer);
  await pebble.stop();
  work.remove();
});

function setup(runtime: Runtime, name: string) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const argv = (args: string[]) => ['--directory', pebble.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'),
    '-C', www, '--key-type', 'ec256', '--eab-kid', 'kid-1', '--eab-hmac-key', EAB_KEY, ...args, ...NAMES];
  const run = (args: string[], hook?: string, onStderr?: (stderr: string, pid: number) => void) =>
    runCli(argv(args), { runtime, caFile: pebble.tlsCaFile, ...(hook && { env: { ACME_CLIENT_TEST_HOOK: hook } }), ...(onStderr && { onStderr }) });
  return { dir, certs, run };
}

const caPort = () => Number(new URL(pebble.directoryUrl).port);
const isKeyProcess = (pid: number) => / (?:\S*key-child\.cjs|\S*deno-child\.ts key) /.test(` ${commandLine(pid)} `);

/**
 * Inspects a run that the "pause" hook stops with a certificate in hand: its process tree, the one process connected
 * to the CA, and which processes hold any part of the keys in the files `keyFiles()` names (read once they exist).
 * seen() asserts what every split run must show, and returns the rest for the test's own assertions.
 */
/** `pauses`: how many jobs pause with their certificate before the tree is read; each set's keys are on disk by then. */
function pausedRun(keyFiles: () => Record<string, string>, pauses = 1) {
  let seen: { commands: string[]; connected: number[]; netUid: number; holders: Record<number, string[]>; keyPid: number; macHolders: number[]; netEnvironment: string[] } | undefined;
  let inspectError: unknown;
  const onStderr = (stderr: string, pid: number) => {
    if (seen || inspectError || stderr.split('test hook: paused').length - 1 < pauses) return;
    try {
      const tree = processTree(pid);
      const connected = processesConnectedTo(tree, caPort());
      const needles = Object.assign({}, ...Object.entries(keyFiles()).map(([name, file]) => keyNeedles(name, readFileSync(file, 'utf8'))));
      const holders: Record<number, string[]> = {};
      for (const member of tree) {
        const found = findInMemory(member, needles);
        if (found.length) holders[member] = found;
      }
      // The parent holds the MAC key as its command line does; the key process adds the binding; the network process never sees the key.
      const macHolders = tree.filter((member) => findInMemory(member, { text: Buffer.from(EAB_KEY), raw: Buffer.from(EAB_KEY, 'base64url') }).length > 0);
      const netEnvironment = connected.length === 1 ? readFileSync(`/proc/${connected[0]}/environ`, 'utf8').split('\0').filter(Boolean).map((entry) => entry.split('=')[0]!) : [];
      seen = { commands: tree.map(commandLine), connected, netUid: connected.length === 1 ? uidOf(connected[0]!) : -1, holders, keyPid: tree.find(isKeyProcess) ?? -1, macHolders, netEnvironment };
      process.kill(connected[0]!, 'SIGUSR2');
    } catch (error) {
      inspectError = error;
      for (const member of processTree(pid).slice(1)) process.kill(member, 'SIGKILL');
    }
  };
  return {
    onStderr,
    seen() {
      assert.ifError(inspectError);
      assert.ok(seen, 'the run never paused');
      assert.equal(seen.connected.length, 1, `processes connected to the CA: ${seen.connected.join(', ')} among ${seen.commands.join(' | ')}`);
      assert.equal(seen.netUid, NOBODY);
      assert.ok(seen.keyPid > 0, `no key process among ${seen.commands.join(' | ')}`);
      assert.deepEqual(Object.keys(seen.holders).map(Number), [seen.keyPid], JSON.stringify(seen.holders));
      assert.ok(!seen.connected.includes(seen.keyPid));
      return seen;
    },
  };
}

for (const runtime of RUNTIMES) {
  describe(`[${runtime}] privilege separation`, () => {
    const s = setup(runtime, 'split');

    test(`[${runtime}] paused with the certificate in hand: the one process connected to the CA is nobody and holds no key; only the key process does`, async () => {
      const paused = pausedRun(() => ({ account: join(s.dir, 'account.pem'), domain: join(s.dir, 'domain.pem') }));
      const result = await s.run(['-nN'], 'pause', paused.onStderr);
      assert.equal(result.code, 0, result.stderr);
      const seen = paused.seen();
      // The key process holds both keys (so the search does find them), and no other process holds any part of one.
      assert.ok(seen.holders[seen.keyPid]!.includes('account key JWK d') && seen.holders[seen.keyPid]!.includes('domain key JWK d'), seen.holders[seen.keyPid]!.join(', '));
      assert.ok(seen.macHolders.includes(seen.keyPid), `the external account binding's MAC key is not in the key process: ${seen.macHolders.join(', ')}`);
      assert.ok(!seen.macHolders.includes(seen.connected[0]!), 'the network process holds the MAC key');
      // Node's network process gets only what decides how it connects, and the hook; Deno's reads none but the hook.
      if (runtime === 'node') {
        const connecting = ['ACME_CLIENT_TEST_HOOK', 'NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'SSL_CERT_DIR', 'SSL_CERT_FILE'];
        assert.deepEqual(seen.netEnvironment.filter((name) => !connecting.includes(name)), [], 'PATH, HOME and the rest stay with the parent');
        assert.ok(seen.netEnvironment.includes('NODE_EXTRA_CA_CERTS'), seen.netEnvironment.join(' '));
      }
    });

    test(`[${runtime}] --renew-list: two sets share one key process and one network process; that one is nobody, connected, and holds no key`, async () => {
      const list = join(s.dir, 'sets.txt');
      writeFileSync(list, 'one.priv.example\ntwo.priv.example www.two.priv.example\n');
      const tree = join(s.dir, 'tree');
      mkdirSync(tree);
      const domainKey = (name: string) => join(tree, 'private', name, 'privkey.pem');
      const paused = pausedRun(() => ({ account: join(s.dir, 'many-account.pem'), one: domainKey('one.priv.example'), two: domainKey('two.priv.example') }), 2);
      const result = await runCli(['--directory', pebble.directoryUrl, '-f', join(s.dir, 'many-account.pem'), '-C', www, '--key-type', 'ec256', '-nN',
        '--eab-kid', 'kid-1', '--eab-hmac-key', EAB_KEY, '--renew-list', list, tree], { runtime, caFile: pebble.tlsCaFile, env: { ACME_CLIENT_TEST_HOOK: 'pause' }, onStderr: paused.onStderr });
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stdout.match(/: issued \(serial /g)?.length, 2, result.stdout);
      const seen = paused.seen();
      assert.equal(seen.commands.length, 3, seen.commands.join(' | '));
      assert.ok(['account', 'one', 'two'].every((key) => seen.holders[seen.keyPid]!.includes(`${key} key JWK d`)), seen.holders[seen.keyPid]!.join(', '));
    });

    test(`[${runtime}] --renew-list -F with its network process killed mid-run: every set FAILED naming it, nothing left running, nothing changed`, async () => {
      const tree = join(s.dir, 'tree');
      const before = snapshotTree(tree);
      let members: number[] = [];
      let killed = -1;
      const result = await runCli(['--directory', pebble.directoryUrl, '-f', join(s.dir, 'many-account.pem'), '-C', www, '--key-type', 'ec256', '-F',
        '--eab-kid', 'kid-1', '--eab-hmac-key', EAB_KEY, '--renew-list', join(s.dir, 'sets.txt'), tree], {
        runtime, caFile: pebble.tlsCaFile, env: { ACME_CLIENT_TEST_HOOK: 'pause' },
        onStderr: (stderr, pid) => {
          if (killed > 0 || !stderr.includes('test hook: paused')) return;
          members = processTree(pid);
          killed = processesConnectedTo(members, caPort())[0]!;
          process.kill(killed, 'SIGKILL');
        },
      });
      assert.equal(result.code, 1, result.stderr);
      const failure = `FAILED: The network process (pid ${killed}) was killed by SIGKILL before the run was done`;
      assert.deepEqual(result.stdout.trim().split('\n'), [`one.priv.example: ${failure}`, `two.priv.example: ${failure}`]);
      assert.deepEqual(members.filter((pid) => existsSync(`/proc/${pid}`)), []);
      assert.deepEqual(snapshotTree(tree), before);
    });

    test(`[${runtime}] the network process is refused a key file and a write, and says so through the test hook`, async () => {
      const open = join(work.dir, `${runtime}-open`);
      mkdirSync(open);
      chmodSync(open, 0o777); // writable by nobody too: only the permission model stands in the way
      const target = join(open, 'written-by-network-process');
      const result = await s.run(['-F'], `try-files:${join(s.dir, 'account.pem')}:${target}`);
      assert.equal(result.code, 0, result.stderr);
      const line = /test hook: read (\S+): ([^;]+); write (\S+): (.+)/.exec(result.stderr);
      assert.ok(line, result.stderr);
      assert.notEqual(line[2], 'allowed');
      assert.notEqual(line[4], 'allowed');
      assert.equal(existsSync(target), false);
    });

    test(`[${runtime}] a network process killed mid-run: exit 1, one line naming it, nothing left running, nothing changed`, async () => {
      const before = snapshotTree(s.dir);
      let tree: number[] = [];
      let killed = -1;
      const result = await s.run(['-F'], 'pause', (stderr, pid) => {
        if (killed > 0 || !stderr.includes('test hook: paused')) return;
        tree = processTree(pid);
        killed = processesConnectedTo(tree, caPort())[0]!;
        process.kill(killed, 'SIGKILL');
      });
      assert.equal(result.code, 1);
      const lines = result.stderr.trim().split('\n').filter((line) => !line.includes('test hook'));
      assert.deepEqual(lines, [`acme-client: The network process (pid ${killed}) was killed by SIGKILL before the run was done`]);
      assert.deepEqual(tree.filter((pid) => existsSync(`/proc/${pid}`)), []);
      assert.deepEqual(snapshotTree(s.dir), before);
    });
  });
}

/** The key process of dist/cli, over its own pipes, for the CA https://ca.test and the name a.example. */
function startKeyProcess(dir: string, account: { path: string; mayCreate: boolean }) {
  const config = {
    keys: { account: { ...account, what: 'account key', createFlag: '-n', optional: false } },
    keyType: 'ec256',
    policy: { origin: 'https://ca.test', names: { domain: ['a.example'] } },
  };
  const child = startNodeChild(join(import.meta.dirname, '../../dist/cli/child/key-child.cjs'), { role: 'key', args: [JSON.stringify(config)], read: [dir], write: [dir], net: [] });
  const keys = new RpcClient(lineChannel(child.output, (bytes) => child.write(bytes), 'the key process'), 'the key process');
  const signNewAccount = () => keys.call('sign', { key: 'account', header: { url: 'https://ca.test/new-acct', nonce: 'abc' }, payload: { termsOfServiceAgreed: true } });
  const stop = async () => {
    child.endInput();
    assert.equal(await child.exited, 'exited with status 0');
  };
  return { keys, signNewAccount, stop };
}

test('[node] the key process refuses a JWS for another origin and a key change during a renewal, over its own pipes', async () => {
  const dir = join(work.dir, 'refusals');
  mkdirSync(dir);
  const { keys, signNewAccount, stop } = startKeyProcess(dir, { path: join(dir, 'account.pem'), mayCreate: true });
  try {
    await keys.call('check');
    await assert.rejects(keys.call('sign', { key: 'account', header: { url: 'https://evil.test/new-acct', nonce: 'abc' }, payload: { termsOfServiceAgreed: true } }),
      { message: "The key process refuses to sign a request for https://evil.test/new-acct: it is not on the CA's origin https://ca.test" });
    await assert.rejects(keys.call('sign', {
      key: 'account', header: { url: 'https://ca.test/key-change', nonce: 'abc', kid: 'https://ca.test/acct/1' },
      payload: { protected: 'e30', payload: 'e30', signature: 'AA' },
    }), { message: 'The key process refuses to sign an account key change for https://ca.test/key-change: this run does not need it' });
    // Refusals sign nothing, so the new key was never written; a request it allows writes it first.
    assert.equal(existsSync(join(dir, 'account.pem')), false);
    const jws = await signNewAccount();
    assert.equal(typeof (jws as { signature: unknown }).signature, 'string');
    assert.equal(existsSync(join(dir, 'account.pem')), true);
  } finally {
    await stop();
  }
});

test('[node] the key process loads a SEC1 key without its public point, from the curve arithmetic kept in a file apart', async () => {
  const dir = join(work.dir, 'sec1-no-public');
  mkdirSync(dir);
  const path = join(dir, 'account.pem');
  const withPoint = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' });
  writeFileSync(path, execFileSync('openssl', ['ec', '-no_public'], { input: withPoint, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] }), { mode: 0o600 });
  const expected = publicKeyFromSpki(execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: withPoint }));
  const { keys, signNewAccount, stop } = startKeyProcess(dir, { path, mayCreate: false });
  try {
    await keys.call('check');
    const jws = await signNewAccount() as { protected: string };
    assert.deepEqual(JSON.parse(Buffer.from(jws.protected, 'base64url').toString()).jwk, expected);
  } finally {
    await stop();
  }
});
