// Deno against a real Pebble, driven from Node so that one Pebble fixture serves: the Deno script example
// (examples/deno-issue.ts) run as written, with challtestsrv as its DNS and as its DNS provider's API, and Deno's
// CAA resolver, which must read challtestsrv's records exactly as Node's does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPebble, type Pebble } from '../_pebble.ts';
import { nodeCaaResolver } from '../../adapters/node-dns.ts';
import { deniedRunText } from '../../cli/deno-permissions.ts';
import { checkCaa } from '../../core/caa.ts';
import { normalizeIdentifiers } from '../../core/names.ts';
import { DENO_BINARY, opensslRead, runCli, runDeno, runShell, tempDir } from './_cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DENO_CLI = fileURLToPath(new URL('../../cli/deno.ts', import.meta.url));
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

/** Pebble's addresses as --allow-net names them: the CA, where its VA sends http-01, and challtestsrv's DNS. */
const pebbleNet = () => [new URL(pebble.directoryUrl).host, `127.0.0.1:${pebble.httpPort}`, `127.0.0.1:${pebble.dnsPort}`];

/** What a run refused a permission ends with: the failure naming the missing flag, then the `deno run` line. */
function refusal(stderr: string): { failure: string; command: string } {
  const [failure, command] = stderr.trimEnd().split('\n').slice(-2);
  return { failure: failure!, command: command! };
}

test('[deno] permissions: deno task cli with paths of the user\'s own names the missing flag and prints a deno run line, which issues', async () => {
  // deno task runs in the project's folder, so the relative paths a user gives it are read from there.
  mkdirSync(join(ROOT, 'test-output'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'test-output', 'deno-task-'));
  const here = `./${relative(ROOT, dir)}`;
  try {
    mkdirSync(join(dir, 'certs'));
    const [ca, http, dns] = pebbleNet();
    const args = ['-c', `${here}/certs`, '-f', `${here}/account.pem`, '-k', `${here}/domain.pem`, '-nN', '--key-type', 'ec256',
      '--standalone', http!, '--dns-server', dns!, '--directory', pebble.directoryUrl, 'task.example', 'www.task.example'];
    const refused = await runDeno(['task', 'cli', ...args], { cwd: ROOT, caFile: pebble.tlsCaFile });
    assert.equal(refused.code, 1);
    assert.doesNotMatch(refused.stderr, /run again with/);
    const { failure, command } = refusal(refused.stderr);
    const certFile = `${here.slice(2)}/certs/cert.pem`;
    assert.equal(failure, `acme-client: Cannot read ${certFile}: no --allow-read for "${certFile}"; run it with the permissions this command line needs:`);
    // README's table: the CA, the http-01 server and the CAA pre-check's DNS server; read and write the certificate
    // directory and the folder where -nN creates the keys. Nothing more.
    assert.equal(command, `deno run --no-prompt --allow-net=${ca},${http},${dns} --allow-read=${here}/certs,${here},/etc/passwd --allow-write=${here}/certs,${here} `
      + `--allow-run=${DENO_BINARY} --allow-sys=uid cli/deno.ts ${args.join(' ')}`);
    assert.deepEqual(readdirSync(dir), ['certs']);
    assert.deepEqual(readdirSync(join(dir, 'certs')), []);

    const issued = await runShell(command, { cwd: ROOT, caFile: pebble.tlsCaFile });
    assert.equal(issued.code, 0, issued.stderr);
    assert.deepEqual(opensslRead(join(dir, 'certs', 'cert.pem')).names, ['task.example', 'www.task.example']);
    assert.deepEqual([mode(join(dir, 'account.pem')), mode(join(dir, 'domain.pem'))], ['600', '600']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('[deno] permissions: --renew-list whose sets fail for a permission ends with the deno run line, which issues them all', async () => {
  const dir = join(work.dir, 'renew-list');
  const tree = join(dir, 'tls');
  const list = join(dir, 'sets.txt');
  mkdirSync(tree, { recursive: true });
  writeFileSync(list, 'one.list.example\ntwo.list.example www.two.list.example\n');
  const [ca, http, dns] = pebbleNet();
  const args = ['--directory', pebble.directoryUrl, '-f', join(dir, 'account.pem'), '-nN', '--key-type', 'ec256', '--standalone', http!,
    '--dns-server', dns!, '--renew-list', list, tree];
  // The list may be read, the tree not: each set fails on its own cert.pem.
  const refused = await runCli(args, { runtime: 'deno', caFile: pebble.tlsCaFile, cwd: dir, permissions: [`--allow-net=${pebbleNet().join(',')}`, `--allow-read=${list}`] });
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, /^one\.list\.example: FAILED: Cannot read .*\ntwo\.list\.example: FAILED: Cannot read .*\n$/);
  const { failure, command } = refusal(refused.stderr);
  assert.equal(failure, `acme-client: 2 of 2 sets failed: one.list.example, two.list.example (no --allow-read for "${tree}/one.list.example/cert.pem"); `
    + 'run it with the permissions this command line needs:');
  assert.equal(command, `deno run --no-prompt --allow-net=${ca},${http},${dns} --allow-read=${tree},${list},${dir},/etc/passwd --allow-write=${tree},${dir} `
    + `--allow-run=${DENO_BINARY} --allow-sys=uid ${DENO_CLI} ${args.join(' ')}`);

  const issued = await runShell(command, { cwd: dir, caFile: pebble.tlsCaFile });
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /^one\.list\.example: issued \(serial [0-9a-f]+, .*\ntwo\.list\.example: issued \(serial [0-9a-f]+, .*\n$/);
  assert.deepEqual(opensslRead(join(tree, 'two.list.example', 'cert.pem')).names, ['two.list.example', 'www.two.list.example']);
});

test('[deno] permissions: the printed line gives sh back every word as it was, quoted where sh would split or expand it', () => {
  const args = ['--standalone', '[::1]:80', '--no-caa-check', '-c', "/srv/it's here/*", 'example.com'];
  const text = deniedRunText({
    line: 'Cannot read x: Requires read access to "x", run again with the --allow-read flag', denied: 'Requires read access to "x", run again with the --allow-read flag',
    args, resolvConf: '', denoBinary: '/usr/bin/deno', entry: '/opt/acme/cli/deno.ts', cwd: '/opt/acme',
  })!;
  assert.equal(text.split('\n')[0], 'acme-client: Cannot read x: no --allow-read for "x"; run it with the permissions this command line needs:');
  const command = text.split('\n')[1]!;
  const words = execFileSync('/bin/sh', ['-c', `printf '%s\\n' ${command}`], { encoding: 'utf8' }).trimEnd().split('\n');
  assert.deepEqual(words, ['deno', 'run', '--no-prompt', '--allow-net=acme-v02.api.letsencrypt.org:443,[::1]:80',
    "--allow-read=/srv/it's here/*,/etc/acme/privkey.pem,/etc/ssl/acme/private/privkey.pem,/etc/passwd", "--allow-write=/srv/it's here/*",
    '--allow-run=/usr/bin/deno', '--allow-sys=uid', 'cli/deno.ts', ...args]);
});
