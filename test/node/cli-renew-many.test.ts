// Many certificates in one run, against Pebble behind test/_acme-proxy.ts: five sets from a --renew-list file, one of
// which a CAA record forbids, then --renew-all over the tree they were written to (-m's layout): one line per set,
// every failure named, exit 1 / 2 / 0, and the renewal the CA's window asks for. Then what the sets share: one
// account for a shared -f that -n creates (a thousand sets under `ulimit -n 256`: cli-renew-fleet.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import { PEBBLE_CAA_IDENTITY, startAcmeProxy, type AcmeProxy } from '../_acme-proxy.ts';
import { RUNTIMES, opensslRead, runCli, tempDir } from './_cli.ts';
import { pemDecode } from '../../core/encoding.ts';
import { certificateIdentifier } from '../../core/renewal.ts';
import { parseCertificate } from '../../core/x509.ts';

const DAY = 24 * 60 * 60 * 1000;
const SETS = [['one.many.test', 'www.one.many.test'], ['two.many.test'], ['three.many.test'], ['blocked.many.test'], ['five.many.test']];

let pebble: Pebble;
let proxy: AcmeProxy;
const work = tempDir('acme-cli-many-');
const listFile = join(work.dir, 'sets.txt');

before(async () => {
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  proxy = await startAcmeProxy(pebble);
  // A real reason to fail: the domain allows another CA only.
  await pebble.addCaa('blocked.many.test', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  writeFileSync(listFile, `# the sites of this host\n${SETS.map((names) => names.join(' ')).join('\n')}   # last one\n`);
});
after(async () => {
  await proxy?.stop();
  await pebble?.stop();
  work.remove();
});

for (const runtime of RUNTIMES) {
  // Each runtime works on a tree and an account of its own.
  const tree = join(work.dir, runtime, 'tls');
  const run = (args: string[]) => runCli(['--directory', proxy.directoryUrl, '-f', join(work.dir, runtime, 'account.pem'), '--standalone', `127.0.0.1:${pebble.httpPort}`,
    '--dns-server', `127.0.0.1:${pebble.dnsPort}`, ...args], { runtime, caFile: pebble.tlsCaFile });
  const certificate = (domain: string) => parseCertificate(pemDecode(readFileSync(join(tree, domain, 'cert.pem'), 'utf8'), ['CERTIFICATE']).der);
  const summary = (domain: string) => `(serial ${Buffer.from(certificate(domain).serialBytes).toString('hex')}, expires ${certificate(domain).notAfter.toISOString()})`;

  test(`[${runtime}] --renew-list: four sets issued in the -m layout, the one a CAA record forbids named as FAILED (exit 1)`, async () => {
    const orders = proxy.orders.length;
    const result = await run(['-nN', '--key-type', 'ec256', '--jobs', '3', '--renew-list', listFile, tree]);
    assert.equal(result.code, 1, result.stderr);
    const issued = SETS.map(([domain]) => domain!).filter((domain) => domain !== 'blocked.many.test');
    assert.equal(result.stdout, [
      `one.many.test: issued ${summary('one.many.test')}`,
      `two.many.test: issued ${summary('two.many.test')}`,
      `three.many.test: issued ${summary('three.many.test')}`,
      'blocked.many.test: FAILED: CAA record 0 issue "letsencrypt.org" on blocked.many.test forbids issuance for blocked.many.test '
        + `by this CA (caaIdentities: ${PEBBLE_CAA_IDENTITY})`,
      `five.many.test: issued ${summary('five.many.test')}`,
    ].join('\n') + '\n');
    assert.equal(result.stderr, 'acme-client: 1 of 5 sets failed: blocked.many.test\n');
    for (const domain of issued) {
      assert.deepEqual(opensslRead(join(tree, domain, 'cert.pem')).names, SETS.find(([first]) => first === domain)!.slice().sort());
      assert.equal((statSync(join(tree, 'private', domain, 'privkey.pem')).mode & 0o777).toString(8), '600');
    }
    assert.deepEqual(proxy.orders.slice(orders).map((order) => order.identifiers[0]!.value).sort(), [...issued].sort());
  });

  test(`[${runtime}] --renew-all: every certificate in the tree, nothing due (exit 2), one line each in folder order`, async () => {
    const result = await run(['--renew-all', tree]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.map((line) => line.split(':')[0]), ['five.many.test', 'one.many.test', 'three.many.test', 'two.many.test']);
    for (const line of lines) assert.match(line, /^[a-z.]+: unchanged \(due \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
    assert.equal(result.stderr, '');
  });

  test(`[${runtime}] --renew-all: the set whose window the CA opened is renewed with replaces (exit 0), the others stay`, async () => {
    const certId = certificateIdentifier(certificate('two.many.test'));
    const before = summary('two.many.test');
    proxy.setRenewalInfo(certId, { start: new Date(Date.now() - 2 * DAY), end: new Date(Date.now() - DAY) });
    // The day after: the last answer's Retry-After has passed.
    const stateFile = join(tree, 'two.many.test', 'renewal-info.json');
    writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), nextCheck: new Date(Date.now() - 1000).toISOString() }));
    const result = await run(['--renew-all', '--jobs', '1', tree]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.equal(lines[3], `two.many.test: renewed ${summary('two.many.test')}`);
    assert.notEqual(summary('two.many.test'), before);
    assert.deepEqual(lines.filter((line) => line.includes('unchanged')).length, 3);
    assert.equal(proxy.orders.at(-1)!.replaces, certId);
  });

  test(`[${runtime}] --renew-all names a folder whose certificate is not for it, and still reports the others (exit 1)`, async () => {
    mkdirSync(join(tree, 'stray.many.test'));
    copyFileSync(join(tree, 'one.many.test', 'cert.pem'), join(tree, 'stray.many.test', 'cert.pem'));
    const result = await run(['--renew-all', tree]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, new RegExp(`^stray\\.many\\.test: FAILED: The certificate ${join(tree, 'stray.many.test', 'cert.pem')} does not name `
      + 'stray.many.test, the folder it is in \\(it names one.many.test, www.one.many.test\\)$', 'm'));
    assert.equal(result.stdout.match(/: unchanged \(/g)?.length, 4);
    assert.equal(result.stderr, 'acme-client: 1 of 5 sets failed: stray.many.test\n');
  });

  test(`[${runtime}] --renew-all on a tree without certificates, and a list file that is not there, are refused`, async () => {
    const empty = join(work.dir, runtime, 'empty');
    mkdirSync(empty);
    const none = await run(['--renew-all', empty]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `acme-client: Cannot renew: no certificate under ${empty} (looked for ${join(empty, 'DOMAIN', 'cert.pem')})\n`);
    const missing = await run(['--renew-list', join(work.dir, 'nope.txt'), tree]);
    assert.equal(missing.stderr, `acme-client: Cannot read ${join(work.dir, 'nope.txt')}: it does not exist\n`);
  });
}

for (const runtime of RUNTIMES) {
  const base = join(work.dir, `${runtime}-shared`);
  const run = (args: string[]) => runCli(['--directory', proxy.directoryUrl, '--standalone', `127.0.0.1:${pebble.httpPort}`,
    '--no-caa-check', '-nN', '--key-type', 'ec256', ...args], { runtime, caFile: pebble.tlsCaFile });

  test(`[${runtime}] --renew-list -n: eight sets that start at once with a shared -f that does not exist register one account, and write one key; -vv names each set`, async () => {
    const list = join(base, 'eight.txt');
    mkdirSync(base, { recursive: true });
    writeFileSync(list, Array.from({ length: 8 }, (_, index) => `s${index}.eight.many.test\n`).join(''));
    const accountKey = join(base, 'eight', 'account.pem');
    const since = proxy.requests.length;
    const result = await run(['-vv', '-f', accountKey, '--jobs', '8', '--renew-list', list, join(base, 'tree-of-eight')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout.match(/: issued \(serial [0-9a-f]+, expires /g)?.length, 8, result.stdout);
    assert.equal(proxy.count('accountsCreated', since), 1);
    assert.equal(proxy.count('newAccount', since), 1);
    assert.equal(result.stderr.match(/: created account https:/g)?.length, 1, result.stderr);
    assert.equal(result.stderr.match(/: wrote account key /g)?.length, 1, result.stderr);
    assert.equal((statSync(accountKey).mode & 0o777).toString(8), '600');
    // The run reads the directory once and asks for a nonce once: the sets share them.
    assert.equal(proxy.count('directory', since), 1);
    assert.equal(proxy.count('newNonce', since), 1);
    // -vv: every line names its set, the requests too, but for the directory that the run reads once for all.
    const directoryUrl = proxy.directoryUrl.replaceAll('.', '\\.');
    for (const line of result.stderr.trimEnd().split('\n')) assert.match(line, new RegExp(`^acme-client: (s\\d\\.eight\\.many\\.test: |[→←] (GET|200) ${directoryUrl}( |$))`));
    assert.ok(result.stderr.includes('.eight.many.test: → POST '), result.stderr);
  });
}
