// Deno against a real Pebble, driven from Node so that one Pebble fixture serves: the Deno script example
// (examples/deno-issue.ts) run as written, with challtestsrv as its DNS and as its DNS provider's API, and Deno's
// CAA resolver, which must read challtestsrv's records exactly as Node's does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPebble, type Pebble } from '../_pebble.ts';
import { nodeCaaResolver } from '../../adapters/node-dns.ts';
import { checkCaa } from '../../core/caa.ts';
import { normalizeIdentifiers } from '../../core/names.ts';
import { opensslRead, runDeno, tempDir } from './_cli.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/deno-issue.ts', import.meta.url));
const CAA_CHECK = fileURLToPath(new URL('../deno/_caa-check.ts', import.meta.url));
const PEBBLE_IDENTITY = 'pebble.letsencrypt.org';

let pebble: Pebble;
const work = tempDir('acme-deno-');

before(async () => {
  pebble = await startPebble();
});
after(async () => {
  await pebble.stop();
  work.remove();
});

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** The example's command line from its header, with Pebble as the CA and challtestsrv's management API as the DNS API. */
const runExample = (names: string[]) =>
  runDeno(['run', '--no-prompt', `--allow-net=${new URL(pebble.directoryUrl).host},${new URL(pebble.challtestsrvUrl).host}`,
    '--allow-env=ACME_DIRECTORY,DNS_API', '--allow-read=.', '--allow-write=.', EXAMPLE, ...names], {
    cwd: work.dir, caFile: pebble.tlsCaFile, env: { ACME_DIRECTORY: pebble.directoryUrl, DNS_API: pebble.challtestsrvUrl },
  });

test('[deno] example: examples/deno-issue.ts issues over dns-01 through the DNS API, then reuses its keys', async () => {
  const names = ['example.test', 'www.example.test'];
  const first = await runExample(names);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^fullchain\.pem and privkey\.pem for example\.test, www\.example\.test, valid until \d{4}-\d\d-\d\dT/);
  const file = (name: string) => join(work.dir, name);
  assert.deepEqual(opensslRead(file('fullchain.pem')).names, names);
  const root = file('root.pem');
  writeFileSync(root, await pebble.rootPem());
  assert.match(execFileSync('openssl', ['verify', '-CAfile', root, '-untrusted', file('fullchain.pem'), file('fullchain.pem')], { encoding: 'utf8' }), /OK/);
  // The certificate is for the key beside it.
  const publicKey = (args: string[]) => execFileSync('openssl', [...args, '-pubout'], { encoding: 'utf8' });
  assert.equal(publicKey(['x509', '-in', file('fullchain.pem'), '-noout', '-pubkey']).replace('-pubout', ''), publicKey(['pkey', '-in', file('privkey.pem')]));
  assert.deepEqual([mode(file('account.pem')), mode(file('privkey.pem')), mode(file('fullchain.pem'))], ['600', '600', '444']);

  const keys = readFileSync(file('account.pem'), 'utf8') + readFileSync(file('privkey.pem'), 'utf8');
  const serial = opensslRead(file('fullchain.pem')).serialHex;
  const second = await runExample(names);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(readFileSync(file('account.pem'), 'utf8') + readFileSync(file('privkey.pem'), 'utf8'), keys);
  assert.notEqual(opensslRead(file('fullchain.pem')).serialHex, serial);
});

test('[deno] example: the READMEs that show it quote examples/deno-issue.ts as it is', () => {
  const example = readFileSync(EXAMPLE, 'utf8');
  const firstLine = example.slice(0, example.indexOf('\n'));
  const quoting = ['../../README.md']
    .map((path) => fileURLToPath(new URL(path, import.meta.url)))
    .filter((path) => existsSync(path) && readFileSync(path, 'utf8').includes(firstLine));
  assert.ok(quoting.length > 0, 'no README quotes the example');
  for (const path of quoting) assert.ok(readFileSync(path, 'utf8').includes(`\`\`\`ts\n${example}\`\`\``), `${path} quotes an older example`);
});

test('[deno] example: without DNS_API it stops with its usage, having written nothing', async () => {
  const dir = join(work.dir, 'usage');
  execFileSync('mkdir', [dir]);
  const result = await runDeno(['run', '--no-prompt', '--allow-env=ACME_DIRECTORY,DNS_API', `--allow-read=${dir}`, `--allow-write=${dir}`, EXAMPLE, 'example.test'], { cwd: dir });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /usage: DNS_API=URL deno run … deno-issue\.ts DOMAIN\.\.\./);
  assert.deepEqual(execFileSync('ls', ['-A', dir], { encoding: 'utf8' }), '');
});

test('[deno] caa: denoCaaResolver reads records, CNAMEs and failures as nodeCaaResolver does, and the pre-check agrees', async () => {
  await pebble.addCaa('records.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }, { tag: 'iodef', value: 'mailto:ca@records.test' }]);
  await pebble.addCaa('forbidden.test', [{ tag: 'issue', value: 'letsencrypt.org' }]);
  await pebble.addCaa('wild.test', [{ tag: 'issue', value: PEBBLE_IDENTITY }, { tag: 'issuewild', value: ';' }]);
  await pebble.setCname('www.alias.test', 'cdn.provider.test');
  await pebble.addCaa('cdn.provider.test', [{ tag: 'issue', value: 'other-ca.example' }]);
  const servfail = await fetch(`${pebble.challtestsrvUrl}/set-servfail`, { method: 'POST', body: JSON.stringify({ host: 'broken.test.' }) });
  assert.equal(servfail.status, 200);
  const names = ['records.test', 'nothing.records.test', 'www.forbidden.test', '*.wild.test', 'www.alias.test', 'broken.test'];

  const server = `127.0.0.1:${pebble.dnsPort}`;
  const result = await runDeno(['run', '--no-prompt', `--allow-net=${server}`, CAA_CHECK, server, PEBBLE_IDENTITY, ...names]);
  assert.equal(result.code, 0, result.stderr);
  const deno = Object.fromEntries(result.stdout.trim().split('\n').map((line) => JSON.parse(line)).map(({ name, ...rest }) => [name, rest]));

  const resolver = nodeCaaResolver(server);
  const settle = (promise: Promise<unknown>): Promise<{ value?: unknown; error?: string }> =>
    promise.then((value) => ({ value }), (error: Error) => ({ error: `${error.name}: ${error.message}` }));
  for (const name of names) {
    const records = await settle(resolver.caa(name));
    const node = { records, check: await settle(checkCaa({ identifiers: normalizeIdentifiers([name]), caaIdentities: [PEBBLE_IDENTITY], resolver })) };
    if (name === 'broken.test') {
      // Deno.resolveDns reports SERVFAIL as NotFound, the same as NXDOMAIN, so Deno's pre-check sees no records
      // where Node's sees a failed lookup (and only notes it); the CA's own CAA check still refuses either way.
      assert.deepEqual(deno[name], { records: { value: [] }, check: { value: { checked: true, notes: [] } } });
      assert.equal(node.records.error, 'Error: CAA query for broken.test failed: ESERVFAIL');
      continue;
    }
    assert.deepEqual(deno[name], node, name);
  }
  assert.deepEqual(deno['records.test'].records.value, [
    { flags: 0, tag: 'issue', value: PEBBLE_IDENTITY },
    { flags: 0, tag: 'iodef', value: 'mailto:ca@records.test' },
  ]);
  assert.deepEqual(deno['nothing.records.test'].records.value, []);
  assert.deepEqual(deno['www.alias.test'].records.value, [{ flags: 0, tag: 'issue', value: 'other-ca.example', owner: 'cdn.provider.test' }]);
  assert.match(deno['*.wild.test'].check.error, /^CaaError: CAA record 0 issuewild ";" on wild\.test forbids issuance for \*\.wild\.test/);
});
