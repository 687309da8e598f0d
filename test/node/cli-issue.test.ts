// The built acme-client against a real Pebble: issuance over http-01 (webroot and standalone) and dns-01 (-t),
// the renewal paths (exit 2 without network, -F, -b, -e, a changed name set) and revocation (-r); in Node and in Deno.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startPebble, type Pebble } from '../_pebble.ts';
import { DENO_BINARY, RUNTIMES, closeServer, denoPermissions, opensslRead, opensslVerify, runCli, serveWebroot, snapshotTree, tempDir, type Runtime, type WebrootServer } from './_cli.ts';

const NAMES = ['a.example', 'b.example', 'c.example'];
let pebble: Pebble;
let webServer: WebrootServer;
const work = tempDir('acme-cli-');
const www = join(work.dir, 'www');

/** Paths for one certificate set under the temp dir, and a CLI run with them against Pebble. */
function setup(runtime: Runtime, name: string) {
  const dir = join(work.dir, `${runtime}-${name}`);
  const certs = join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const paths = ['-c', certs, '-f', join(dir, 'account.pem'), '-k', join(dir, 'domain.pem')];
  const argv = (args: string[]) => ['--directory', pebble.directoryUrl, ...paths, ...args];
  return {
    dir,
    certs,
    argv,
    run: (args: string[], options: Parameters<typeof runCli>[1] = {}) => runCli(argv(args), { runtime, caFile: pebble.tlsCaFile, ...options }),
    /** The same run with the CA unreachable: only a run that makes no request can succeed. */
    runOffline: async (args: string[]) =>
      runCli(['--directory', `https://127.0.0.1:${await freePort()}/dir`, ...paths, ...args], { runtime, caFile: pebble.tlsCaFile }),
  };
}

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

async function checkIssued(certs: string, dir: string, names: string[]) {
  assert.deepEqual(opensslRead(join(certs, 'cert.pem')).names, [...names].sort());
  assert.match(opensslVerify(certs, await pebble.rootPem()), /cert\.pem: OK/);
  assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), readFileSync(join(certs, 'cert.pem'), 'utf8') + readFileSync(join(certs, 'chain.pem'), 'utf8'));
  for (const file of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(mode(join(certs, file)), '444', file);
  for (const file of ['account.pem', 'domain.pem']) assert.equal(mode(join(dir, file)), '600', file);
}

before(async () => {
  pebble = await startPebble();
  mkdirSync(www);
  webServer = await serveWebroot(www, pebble.httpPort);
});

after(async () => {
  await closeServer(webServer);
  await pebble.stop();
  work.remove();
});

const base64url = (bytes: Buffer) => bytes.toString('base64url');

for (const runtime of RUNTIMES) {
  describe(`[${runtime}] http-01 through a webroot (-C), then the renewal paths and revocation`, () => {
    const set = () => setup(runtime, 'webroot');
    let s: ReturnType<typeof setup>;
    let firstSerial: string;

    test(`[${runtime}] issues a certificate for 3 names with new EC keys (-nN), and removes the challenge files`, async () => {
      s = set();
      const result = await s.run(['-vnN', '--key-type', 'ec256', '--email', 'ops@example.com', '-C', www, ...NAMES]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /created account https:\/\//);
      await checkIssued(s.certs, s.dir, NAMES);
      assert.match(readFileSync(join(s.dir, 'domain.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
      assert.deepEqual(readdirSync(www), []);
      firstSerial = opensslRead(join(s.certs, 'cert.pem')).serialHex;
    });

    test(`[${runtime}] run again: exit 2, with no request (the CA is unreachable) and nothing written`, async () => {
      const before = snapshotTree(s.dir);
      const result = await s.runOffline(['-v', '-C', www, ...NAMES]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /renewal is due from/);
      assert.deepEqual(snapshotTree(s.dir), before);
      // The names compare after normalisation and in any order.
      assert.equal((await s.runOffline(['-C', www, 'C.EXAMPLE.', 'a.example', 'b.example'])).code, 2);
    });

    test(`[${runtime}] -F renews now: exit 0 and a new serial`, async () => {
      const result = await s.run(['-F', '-C', www, ...NAMES]);
      assert.equal(result.code, 0, result.stderr);
      const serial = opensslRead(join(s.certs, 'cert.pem')).serialHex;
      assert.notEqual(serial, firstSerial);
      firstSerial = serial;
      await checkIssued(s.certs, s.dir, NAMES);
    });

    test(`[${runtime}] -b keeps cert-N, chain-N and fullchain-N with one N before replacing`, async () => {
      const old = Object.fromEntries(['cert', 'chain', 'fullchain'].map((base) => [base, readFileSync(join(s.certs, `${base}.pem`), 'utf8')]));
      const started = Math.floor(Date.now() / 1000);
      const result = await s.run(['-bF', '-C', www, ...NAMES]);
      assert.equal(result.code, 0, result.stderr);
      const backups = readdirSync(s.certs).filter((file) => /-\d+\.pem$/.test(file)).sort();
      assert.equal(backups.length, 3, backups.join(' '));
      const stamp = /^cert-(\d+)\.pem$/.exec(backups[0]!)![1]!;
      assert.deepEqual(backups, [`cert-${stamp}.pem`, `chain-${stamp}.pem`, `fullchain-${stamp}.pem`]);
      assert.ok(Number(stamp) >= started && Number(stamp) <= Math.floor(Date.now() / 1000));
      for (const base of ['cert', 'chain', 'fullchain']) {
        assert.equal(readFileSync(join(s.certs, `${base}-${stamp}.pem`), 'utf8'), old[base], base);
        assert.equal(mode(join(s.certs, `${base}-${stamp}.pem`)), '444');
      }
      assert.notEqual(opensslRead(join(s.certs, 'cert.pem')).serialHex, firstSerial);
    });

    test(`[${runtime}] a name the certificate lacks, without -e: exit 1, one line, nothing changed`, async () => {
      const before = snapshotTree(s.dir);
      const result = await s.runOffline(['-C', www, ...NAMES, 'd.example']);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `acme-client: The certificate ${join(s.certs, 'cert.pem')} does not cover d.example: use -e to add names\n`);
      assert.deepEqual(snapshotTree(s.dir), before);
    });

    test(`[${runtime}] a name dropped from the command line: exit 1 even with -e`, async () => {
      const result = await s.runOffline(['-e', '-C', www, 'a.example', 'b.example']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^acme-client: The certificate .* also covers c\.example: name every domain it has\n$/);
    });

    test(`[${runtime}] -e with an added name renews at once, for 4 names`, async () => {
      const result = await s.run(['-e', '-C', www, ...NAMES, 'd.example']);
      assert.equal(result.code, 0, result.stderr);
      await checkIssued(s.certs, s.dir, [...NAMES, 'd.example']);
    });

    test(`[${runtime}] -rb revokes (Pebble reports it revoked), keeps backups and removes cert, chain and fullchain`, async () => {
      const serial = opensslRead(join(s.certs, 'cert.pem')).serialHex;
      assert.equal((await pebble.certStatus(serial)).Status, 'Valid');
      const backupsBefore = readdirSync(s.certs).filter((file) => /-\d+\.pem$/.test(file)).length;
      const result = await s.run(['-v', '-rb', ...NAMES, 'd.example']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, new RegExp(`revoked certificate ${serial}`));
      assert.equal((await pebble.certStatus(serial)).Status, 'Revoked');
      for (const file of ['cert.pem', 'chain.pem', 'fullchain.pem']) assert.equal(existsSync(join(s.certs, file)), false, file);
      assert.equal(readdirSync(s.certs).filter((file) => /-\d+\.pem$/.test(file)).length, backupsBefore + 3);
    });

    test(`[${runtime}] -r with no certificate: exit 1`, async () => {
      const result = await s.runOffline(['-r', ...NAMES]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `acme-client: Cannot revoke: there is no certificate at ${join(s.certs, 'cert.pem')}\n`);
    });
  });

  test(`[${runtime}] --standalone answers http-01 itself, with an RSA 2048 domain key; -r then signs with the account key`, async () => {
    const s = setup(runtime, 'standalone');
    // The webroot server holds Pebble's http-01 port, so the standalone server gets it after a pause in serving.
    await closeServer(webServer);
    try {
      const result = await s.run(['-nN', '--key-type', 'rsa2048', '--standalone', `127.0.0.1:${pebble.httpPort}`, ...NAMES]);
      assert.equal(result.code, 0, result.stderr);
      await checkIssued(s.certs, s.dir, NAMES);
      assert.match(readFileSync(join(s.dir, 'domain.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
      assert.match(execFileSync('openssl', ['pkey', '-in', join(s.dir, 'domain.pem'), '-noout', '-text'], { encoding: 'utf8' }), /Private-Key: \(2048 bit/);
      // Without the domain key, -r signs with the account key, whose account holds the certificate.
      const serial = opensslRead(join(s.certs, 'cert.pem')).serialHex;
      renameSync(join(s.dir, 'domain.pem'), join(s.dir, 'domain-moved.pem'));
      const revoked = await s.run(['-r', ...NAMES]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal((await pebble.certStatus(serial)).Status, 'Revoked');
      assert.equal(existsSync(join(s.certs, 'cert.pem')), false);
    } finally {
      webServer = await serveWebroot(www, pebble.httpPort);
    }
  });

  test(`[${runtime}] --standalone on a port in use: exit 1, nothing written`, async () => {
    const s = setup(runtime, 'standalone-busy');
    const before = snapshotTree(s.dir);
    const result = await s.run(['-nN', '--key-type', 'ec256', '--standalone', `127.0.0.1:${pebble.httpPort}`, ...NAMES]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `acme-client: Cannot listen on 127.0.0.1:${pebble.httpPort} for http-01: the port is in use\n`);
    assert.deepEqual(snapshotTree(s.dir), before);
  });

  test(`[${runtime}] -O puts must-staple in the CSR, -a warns when the CA's terms differ, and an IP address is a name too`, async () => {
    const s = setup(runtime, 'options');
    await closeServer(webServer);
    try {
      // The last -k wins, as with getopt; -N creates the missing folders of a new key, private to its owner.
      const deepKey = join(s.dir, 'keys', 'deep', 'domain.pem');
      const result = await s.run(['-vvnNO', '--key-type', 'ec256', '-k', deepKey, '-a', 'https://example.com/old-terms', '--standalone', `127.0.0.1:${pebble.httpPort}`, 'a.example', '127.0.0.1']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(mode(deepKey), '600');
      assert.equal(mode(join(s.dir, 'keys', 'deep')), '700');
      assert.equal(mode(join(s.dir, 'keys')), '700');
      assert.match(result.stderr, /acme-client: warning: the CA's terms of service are data:text\/plain,Do%20what%20thou%20wilt, not https:\/\/example\.com\/old-terms\n/);
      assert.deepEqual(opensslRead(join(s.certs, 'cert.pem')).names, ['127.0.0.1', 'a.example']);
      // Pebble does not copy the TLS Feature into certificates, so the CSR that -vv traced is checked instead.
      const csr = /"csr":"([A-Za-z0-9_-]+)"/.exec(result.stderr)![1]!;
      const csrFile = join(s.dir, 'request.der');
      writeFileSync(csrFile, Buffer.from(csr, 'base64url'));
      assert.match(execFileSync('openssl', ['req', '-inform', 'DER', '-in', csrFile, '-noout', '-text'], { encoding: 'utf8' }), /TLS Feature:\s*\n\s*status_request/);
    } finally {
      webServer = await serveWebroot(www, pebble.httpPort);
    }
  });

  test(`[${runtime}] -t dns-01: the caller sets TXT records from the printed lines and echoes them; a wildcard works`, async () => {
    const s = setup(runtime, 'dns');
    const names = ['dns.example', '*.dns.example', 'www.dns.example'];
    const seen: string[] = [];
    const result = await s.run(['-nN', '--key-type', 'ec256', '-t', 'dns-01', ...names], {
      onLine: async (line) => {
        const [type, name, keyAuthorization] = line.split(' ') as [string, string, string];
        assert.equal(type, 'dns-01');
        assert.match(keyAuthorization, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
        seen.push(name);
        await pebble.setTxt(`_acme-challenge.${name}`, base64url(createHash('sha256').update(keyAuthorization).digest()));
        return line;
      },
    });
    assert.equal(result.code, 0, result.stderr);
    // The wildcard's authorization is for its base name (RFC 8555 §7.1.3), which also has its own.
    assert.deepEqual(seen.sort(), ['dns.example', 'dns.example', 'www.dns.example']);
    await checkIssued(s.certs, s.dir, names);
  });

  test(`[${runtime}] -t: a different line on stdin stops the run (exit 1); only the account key the CA now knows is written`, async () => {
    const s = setup(runtime, 'dns-bad');
    const before = snapshotTree(s.dir);
    const result = await s.run(['-nN', '--key-type', 'ec256', '-t', 'http-01', ...NAMES], { onLine: (line) => `${line}x` });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^acme-client: Cannot go on with [a-c]\.example: expected the line "http-01 [a-c]\.example \S+" back on standard input, got "http-01 .*x"\n$/);
    const { 'account.pem': accountKey, ...after } = snapshotTree(s.dir);
    assert.match(accountKey!, /^600 /);
    assert.deepEqual(after, before);
  });

  test(`[${runtime}] -t: standard input ending early stops the run (exit 1)`, async () => {
    const s = setup(runtime, 'dns-eof');
    const result = await s.run(['-nN', '--key-type', 'ec256', '-t', 'dns-01', 'a.example']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^acme-client: Cannot go on with a\.example: standard input ended before the line "dns-01 a\.example \S+" came back\n$/);
  });

  test(`[${runtime}] a failed validation names the identifier, the challenge type and the CA's detail`, async () => {
    const s = setup(runtime, 'fail');
    const empty = join(s.dir, 'empty-www');
    mkdirSync(empty);
    const result = await s.run(['-nN', '--key-type', 'ec256', '-C', empty, 'a.example']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.split('\n').length, 2, result.stderr);
    assert.match(result.stderr, /^acme-client: .*a\.example.*http-01.*urn:ietf:params:acme:error:unauthorized/);
    assert.deepEqual(readdirSync(s.certs), []);
  });
}

test('[deno] permissions: the narrowest set for a command line, as README.md gives it', () => {
  const standalone = ['--directory', 'https://ca.example:14000/dir', '-nN', '-f', '/etc/acme/account.pem', '--standalone', '80', '--dns-server', '::1',
    'example.com'];
  // The key and network processes are runs of this deno binary; whether it runs as root decides whom they run as.
  const children = [`--allow-run=${DENO_BINARY}`, '--allow-sys=uid'];
  assert.deepEqual(denoPermissions(standalone), [
    '--allow-net=ca.example:14000,[::]:80,[::1]:53',
    '--allow-read=/etc/ssl/acme,/etc/acme,/etc/ssl/acme/private,/etc/passwd',
    '--allow-write=/etc/ssl/acme,/etc/acme,/etc/ssl/acme/private',
    ...children,
  ]);
  assert.deepEqual(denoPermissions(['--no-caa-check', '-m', 'example.com']), [
    '--allow-net=acme-v02.api.letsencrypt.org:443',
    '--allow-read=/etc/ssl/acme/example.com,/etc/acme/example.com/privkey.pem,/etc/ssl/acme/private/example.com/privkey.pem,/var/www/acme,/etc/passwd',
    '--allow-write=/etc/ssl/acme/example.com,/etc/ssl/acme/private/example.com,/etc/acme/example.com,/var/www/acme',
    ...children,
  ]);
  assert.deepEqual(denoPermissions(['--no-caa-check', '--standalone', '192.0.2.1:80', '--renew-list', '/etc/acme/sets.txt', '/srv/tls']), [
    '--allow-net=acme-v02.api.letsencrypt.org:443,192.0.2.1:80',
    '--allow-read=/srv/tls,/etc/acme/sets.txt,/etc/acme,/etc/passwd',
    '--allow-write=/srv/tls,/etc/acme',
    ...children,
  ]);
  assert.deepEqual(denoPermissions(['--bad-flag', 'example.com']), []);
});

test('[deno] permissions: they are enforced; without --allow-write the run stops before its first write and changes nothing', async () => {
  const s = setup('deno', 'no-write');
  const args = s.argv(['-nN', '--key-type', 'ec256', '-C', www, 'a.example']);
  const permissions = denoPermissions(args).filter((flag) => !flag.startsWith('--allow-write='));
  const before = snapshotTree(s.dir);
  const result = await runCli(args, { runtime: 'deno', caFile: pebble.tlsCaFile, permissions });
  assert.equal(result.code, 1);
  // The first write is the temporary file of the set's lock, in the certificate folder; the line after is the deno
  // run command with the permissions (test/node/deno-pebble.test.ts checks and runs such lines).
  assert.match(result.stderr, new RegExp(`^acme-client: no --allow-write for "${s.certs}/\\.acme-client-tmp-\\d+-[0-9a-f]{8}-\\.acme-client\\.lock"; run it with the permissions this command line needs:\n`
    + 'deno run --no-prompt --allow-net=\\S+ --allow-read=\\S+ --allow-write=\\S+ --allow-run=\\S+ --allow-sys=uid (\\S+/)?cli/deno\\.ts -.*\n$'));
  assert.deepEqual(snapshotTree(s.dir), before);
  assert.deepEqual(readdirSync(www), []);
});
