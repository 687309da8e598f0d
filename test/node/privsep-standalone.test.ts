// --standalone and --standalone-tls in the split run (issue 11), checked from outside through /proc while a real run
// against Pebble is paused by the test-only hook, as root: the root parent binds the port (a taken port is bad input,
// test/node/cli-issue.test.ts and cli-tls-alpn.test.ts), and the process that holds the listening socket and accepts
// a client's connection is the network process, running as nobody with neither private key in its memory. Under Deno
// that holds where the network process may bind the port itself; below 1024 (80, 443) the parent serves, as README says.
// A network process killed while it serves fails the run in one line, and leaves nothing running or listening.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { RUNTIMES, runCli, tempDir, type Runtime } from './_cli.ts';
import { TCP_ESTABLISHED, TCP_LISTEN, findInMemory, keyNeedles, processTree, processesConnectedTo, processesHolding, uidOf } from './_proc.ts';

const NAMES = ['serve.example', 'www.serve.example'];
const NOBODY = 65534;
let pebble: Pebble;
/** A Pebble that validates on ports below 1024, as a real CA does on 80 and 443. */
let lowPebble: Pebble;
let tlsHello: Buffer;
const work = tempDir('acme-privsep-standalone-');

/** The first flight of a TLS client that offers acme-tls/1 for `serverName`, as its bytes, caught by a listener of ours. */
async function clientHello(serverName: string): Promise<Buffer> {
  const catcher = createServer();
  await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
  try {
    const caught = new Promise<Buffer>((resolve) => catcher.once('connection', (socket) => socket.once('data', (chunk: Buffer) => {
      resolve(chunk);
      socket.destroy();
    })));
    const port = (catcher.address() as { port: number }).port;
    tlsConnect({ port, host: '127.0.0.1', servername: serverName, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }).on('error', () => {});
    return await caught;
  } finally {
    catcher.close();
  }
}

before(async () => {
  [pebble, lowPebble] = await Promise.all([startPebble(), startPebble({ privilegedChallengePorts: true })]);
  tlsHello = await clientHello(NAMES[0]!);
});

after(async () => {
  await Promise.all([pebble.stop(), lowPebble.stop()]);
  work.remove();
});

/**
 * A client's connection to `port` once the server has answered `request` on it, which shows that the server accepted
 * it; it stays open. The http-01 server answers 404 and keeps the connection alive; the tls-alpn-01 server sends an
 * alert (the challenge is cleaned up by then) and waits for the client to close.
 */
function answeredConnection(port: number, request: string | Buffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
    socket.once('end', () => reject(new Error(`the server on port ${port} closed the connection without an answer`)));
  });
}

const CASES = [
  { flag: '--standalone', port: (ca: Pebble) => ca.httpPort, request: () => 'GET /.well-known/acme-challenge/probe HTTP/1.1\r\nHost: serve.example\r\n\r\n' },
  { flag: '--standalone-tls', port: (ca: Pebble) => ca.tlsPort, request: () => tlsHello },
];

interface Seen {
  parent: number;
  network: number[];
  listening: number[];
  accepted: number[];
  acceptedUid: number;
  keysHeld: string[];
}

/** Reads /proc while the run is paused with the certificate in hand and its server still up, then lets it go on. */
async function inspect(ca: Pebble, parent: number, dir: string, port: number, request: string | Buffer): Promise<Seen> {
  const tree = processTree(parent);
  const network = processesConnectedTo(tree, Number(new URL(ca.directoryUrl).port));
  try {
    const client = await answeredConnection(port, request);
    try {
      const listening = processesHolding(tree, (socket) => socket.localPort === port && socket.state === TCP_LISTEN);
      const accepted = processesHolding(tree, (socket) => socket.localPort === port && socket.remotePort === client.localPort && socket.state === TCP_ESTABLISHED);
      const needles = { ...keyNeedles('account', readFileSync(join(dir, 'account.pem'), 'utf8')), ...keyNeedles('domain', readFileSync(join(dir, 'domain.pem'), 'utf8')) };
      return {
        parent, network, listening, accepted,
        acceptedUid: accepted.length === 1 ? uidOf(accepted[0]!) : -1,
        keysHeld: accepted.flatMap((pid) => findInMemory(pid, needles)),
      };
    } finally {
      client.destroy();
    }
  } finally {
    // The paused network process goes on; should there be no single one, the run's children end, and so the run.
    if (network.length === 1) process.kill(network[0]!, 'SIGUSR2');
    else for (const pid of tree.slice(1)) process.kill(pid, 'SIGKILL');
  }
}

/** A new set's folders, and the command line that issues it with `flag` on `ca`'s port for it. */
function newSet(runtime: Runtime, name: string, { flag, port }: (typeof CASES)[number], ca: Pebble) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const args = ['--directory', ca.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'), '-nN', '--key-type', 'ec256',
    flag, `127.0.0.1:${port(ca)}`, ...NAMES];
  return { dir, certs, args };
}

/** A paused run of `flag` on `ca`'s port for it, inspected by `inspect`; its result, and what was seen. */
async function pausedRun(runtime: Runtime, name: string, standalone: (typeof CASES)[number], ca = pebble) {
  const { dir, certs, args } = newSet(runtime, name, standalone, ca);
  const { port, request } = standalone;
  let seen: Promise<Seen> | undefined;
  const result = await runCli(args, {
    runtime, caFile: ca.tlsCaFile, env: { ACME_CLIENT_TEST_HOOK: 'pause' },
    onStderr(stderr, pid) {
      if (!seen && stderr.includes('test hook: paused')) seen = inspect(ca, pid, dir, port(ca), request());
    },
  });
  assert.ok(seen, `the run never paused: ${result.stderr}`);
  return { result, seen: await seen, issued: existsSync(join(certs, 'cert.pem')) };
}

for (const runtime of RUNTIMES) {
  for (const standalone of CASES) {
    test(`[${runtime}] ${standalone.flag}: the network process, as nobody and without a key, holds the listening socket and the connection it accepted; the root parent holds neither`, async () => {
      const { result, seen, issued } = await pausedRun(runtime, standalone.flag.slice(2), standalone);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(issued);
      assert.equal(seen.network.length, 1, `processes connected to the CA: ${seen.network.join(', ')}`);
      assert.deepEqual(seen.listening, seen.network, `listening: ${seen.listening.join(', ')}, parent ${seen.parent}`);
      assert.deepEqual(seen.accepted, seen.network, `accepted: ${seen.accepted.join(', ')}, parent ${seen.parent}`);
      assert.equal(seen.acceptedUid, NOBODY);
      assert.deepEqual(seen.keysHeld, []);
    });
  }
}

for (const runtime of RUNTIMES) {
  test(`[${runtime}] --standalone: a network process killed while it serves fails the run in one line naming it; nothing is left running or listening`, async () => {
    const { certs, args } = newSet(runtime, 'killed', CASES[0]!, pebble);
    let tree: number[] = [];
    let killed = -1;
    const result = await runCli(args, {
      runtime, caFile: pebble.tlsCaFile, env: { ACME_CLIENT_TEST_HOOK: 'pause' },
      onStderr(stderr, pid) {
        if (killed > 0 || !stderr.includes('test hook: paused')) return;
        tree = processTree(pid);
        killed = processesConnectedTo(tree, Number(new URL(pebble.directoryUrl).port))[0]!;
        process.kill(killed, 'SIGKILL');
      },
    });
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split('\n').filter((line) => !line.includes('test hook'));
    assert.deepEqual(lines, [`acme-client: The network process (pid ${killed}) was killed by SIGKILL before the run was done`]);
    assert.deepEqual(tree.filter((pid) => existsSync(`/proc/${pid}`)), []);
    assert.equal(existsSync(join(certs, 'cert.pem')), false);
    // Nobody holds the port any more: it can be bound again at once.
    const again = createServer();
    await new Promise<void>((resolve, reject) => again.once('error', reject).listen(pebble.httpPort, '127.0.0.1', resolve));
    await new Promise((resolve) => again.close(resolve));
  });
}

test('[node] --standalone on a port below 1024: bound by the root parent, served by the network process as nobody', async () => {
  const { result, seen, issued } = await pausedRun('node', 'standalone-low', CASES[0]!, lowPebble);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(issued);
  assert.equal(seen.network.length, 1);
  assert.deepEqual([seen.listening, seen.accepted, seen.acceptedUid], [seen.network, seen.network, NOBODY]);
});

test('[deno] --standalone on a port below 1024, which nobody may not bind: the root parent serves it, and the run issues', async () => {
  const { result, seen, issued } = await pausedRun('deno', 'standalone-low', CASES[0]!, lowPebble);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(issued);
  assert.deepEqual([seen.listening, seen.accepted, seen.acceptedUid], [[seen.parent], [seen.parent], 0]);
});
