// --standalone-tls against a real Pebble, whose VA validates tls-alpn-01 on its tlsPort: three names and an IP
// address issued in Node and in Deno, and a port in use refused before anything is written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { DENO_BINARY, RUNTIMES, denoPermissions, opensslRead, opensslVerify, runCli, snapshotTree, tempDir, type Runtime } from './_cli.ts';

const NAMES = ['a.example', 'b.example', 'c.example', '127.0.0.1'];
let pebble: Pebble;
const work = tempDir('acme-cli-tls-alpn-');

before(async () => {
  pebble = await startPebble();
});

after(async () => {
  await pebble.stop();
  work.remove();
});

function run(runtime: Runtime, name: string, args: string[]) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const argv = ['--directory', pebble.directoryUrl, '-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem'), '-nN', '--key-type', 'ec256', ...args];
  return { dir, certs, run: () => runCli(argv, { runtime, caFile: pebble.tlsCaFile }) };
}

for (const runtime of RUNTIMES) {
  test(`[${runtime}] --standalone-tls answers tls-alpn-01 for three names and an IP address`, async () => {
    const set = run(runtime, 'issue', ['-v', '--standalone-tls', `127.0.0.1:${pebble.tlsPort}`, ...NAMES]);
    const result = await set.run();
    assert.equal(result.code, 0, result.stderr);
    for (const name of NAMES) assert.match(result.stderr, new RegExp(`acme-client: ${name.replace(/\./g, '\\.')}: tls-alpn-01 challenge `));
    assert.deepEqual(opensslRead(join(set.certs, 'cert.pem')).names, [...NAMES].sort());
    assert.match(opensslVerify(set.certs, await pebble.rootPem()), /cert\.pem: OK/);
  });

  test(`[${runtime}] --standalone-tls on a port in use: exit 1, one line, nothing written`, async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(pebble.tlsPort, '127.0.0.1', resolve));
    try {
      const set = run(runtime, 'busy', ['--standalone-tls', `127.0.0.1:${pebble.tlsPort}`, ...NAMES]);
      const before = snapshotTree(set.dir);
      const result = await set.run();
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `acme-client: Cannot listen on 127.0.0.1:${pebble.tlsPort} for tls-alpn-01: the port is in use\n`);
      assert.deepEqual(snapshotTree(set.dir), before);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
}

test('[deno] permissions: --standalone-tls needs its address, and no challenge directory', () => {
  assert.deepEqual(denoPermissions(['--directory', 'https://ca.example/dir', '--no-caa-check', '--standalone-tls', '443', 'example.com']), [
    '--allow-net=ca.example:443,[::]:443',
    '--allow-read=/etc/ssl/acme,/etc/acme/privkey.pem,/etc/ssl/acme/private/privkey.pem,/etc/passwd',
    '--allow-write=/etc/ssl/acme',
    `--allow-run=${DENO_BINARY}`,
    '--allow-sys=uid',
  ]);
});
