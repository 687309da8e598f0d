// The CLI's pure parts: getopt-style parsing, -m's paths, the name and renewal plan, and --version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseArgs, parseListenAddress } from '../../cli/args.ts';
import { directoryUrlOf, LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING_DIRECTORY, resolvePaths } from '../../cli/defaults.ts';
import { planRun } from '../../cli/plan.ts';
import { VERSION } from '../../cli/version.ts';
import { normalizeIdentifiers } from '../../core/names.ts';

const DAY = 24 * 60 * 60 * 1000;

test('clustered flags, -v counted, attached and separate arguments, "--" ends options', () => {
  const options = parseArgs(['-vvFn', '-cDIR', '-k', 'key.pem', '-bN', '-t', 'dns-01', '--', '-not-an-option.example', 'b.example']);
  assert.equal(options.verbosity, 2);
  assert.equal(options.force, true);
  assert.equal(options.createAccountKey, true);
  assert.equal(options.createDomainKey, true);
  assert.equal(options.backup, true);
  assert.equal(options.certDir, 'DIR');
  assert.equal(options.domainKey, 'key.pem');
  assert.equal(options.challengeType, 'dns-01');
  assert.deepEqual(options.names, ['-not-an-option.example', 'b.example']);
});

test('a value flag takes the rest of its cluster: -Fc/tmp/x', () => {
  const options = parseArgs(['-Fc/tmp/x', '-a', 'https://ca.example/tos', 'a.example']);
  assert.equal(options.force, true);
  assert.equal(options.certDir, '/tmp/x');
  assert.equal(options.agreement, 'https://ca.example/tos');
});

test('every single-letter flag sets its option', () => {
  const options = parseArgs(['-beFmnNOrs', '-C', 'c', '-f', 'f', 'a.example']);
  assert.deepEqual(
    [options.backup, options.expand, options.force, options.multiple, options.createAccountKey, options.createDomainKey, options.mustStaple, options.revoke, options.staging],
    [true, true, true, true, true, true, true, true, true],
  );
  assert.equal(options.challengeDir, 'c');
  assert.equal(options.accountKey, 'f');
});

test('long options, with "=" or a separate value', () => {
  const options = parseArgs([
    '--directory=https://127.0.0.1:14000/dir', '--email', 'ops@example.com', '--key-type', 'ec384', '--eab-kid', 'kid-1',
    '--eab-hmac-key=c2VjcmV0', '--preferred-chain', 'Pebble Root', '--standalone', '[::1]:8080', 'a.example',
  ]);
  assert.equal(options.directory, 'https://127.0.0.1:14000/dir');
  assert.equal(options.email, 'ops@example.com');
  assert.equal(options.keyType, 'ec384');
  assert.equal(options.eabKid, 'kid-1');
  assert.equal(options.eabHmacKey, 'c2VjcmV0');
  assert.equal(options.preferredChain, 'Pebble Root');
  assert.deepEqual(options.standalone, { host: '::1', port: 8080 });
  assert.deepEqual(parseArgs(['--standalone-tls=443', 'a.example']).standaloneTls, { port: 443 });
  assert.equal(parseArgs(['a.example']).keyType, 'rsa4096');
});

test('--dns-update takes a server as --dns-server does, and --tsig-key a file as given', () => {
  const options = parseArgs(['--dns-update', '[2001:db8::53]:5353', '--tsig-key', '/etc/acme/tsig.key', 'a.example', '*.a.example']);
  assert.deepEqual([options.dnsUpdate, options.tsigKey, options.challengeType, options.standalone], ['[2001:db8::53]:5353', '/etc/acme/tsig.key', undefined, undefined]);
  assert.equal(parseArgs(['--dns-update=192.0.2.53', 'a.example']).tsigKey, undefined);
});

test('the options of issue 6: --profile, the CAA check and its DNS server, and the many-certificates modes', () => {
  const options = parseArgs(['--profile', 'shortlived', '--dns-server', '[::1]:8053', 'a.example']);
  assert.deepEqual([options.profile, options.caaCheck, options.dnsServer, options.renewAll, options.jobs], ['shortlived', true, '[::1]:8053', false, undefined]);
  assert.equal(parseArgs(['--no-caa-check', 'a.example']).caaCheck, false);
  for (const server of ['127.0.0.1', '127.0.0.1:8053', '::1', '[2001:db8::53]:53']) assert.equal(parseArgs(['--dns-server', server, 'a.example']).dnsServer, server);
  // The operand is the tree, and it is optional.
  assert.deepEqual([parseArgs(['--renew-all']).names, parseArgs(['--renew-all', '--jobs', '8', '/srv/tls']).names], [[], ['/srv/tls']]);
  const list = parseArgs(['-F', '--renew-list=/etc/acme/sets', '--jobs=2']);
  assert.deepEqual([list.renewList, list.jobs, list.force], ['/etc/acme/sets', 2, true]);
});

test('--help and --version need no domain', () => {
  assert.equal(parseArgs(['--help']).help, true);
  assert.equal(parseArgs(['--version']).version, true);
});

test('--version prints the version of package.json', () => {
  assert.equal(VERSION, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
});

test('[ADDR:]PORT', () => {
  assert.deepEqual(parseListenAddress('80', 'standalone'), { port: 80 });
  assert.deepEqual(parseListenAddress('127.0.0.1:5002', 'standalone'), { host: '127.0.0.1', port: 5002 });
  assert.deepEqual(parseListenAddress('localhost:8080', 'standalone'), { host: 'localhost', port: 8080 });
  for (const bad of ['0', '65536', 'x', '::1:80', '1.2.3.4:', '']) {
    assert.throws(() => parseListenAddress(bad, 'standalone'), { name: 'RangeError', message: /is not \[ADDR:\]PORT/ });
  }
});

const BAD_ARGUMENTS: [string[], RegExp][] = [
  [['-x', 'a.example'], /^unknown option -x; see acme-client --help$/],
  [['-vq', 'a.example'], /^unknown option -q/],
  [['--frobnicate', 'a.example'], /^unknown option --frobnicate/],
  [['-c'], /^option -c needs an argument$/],
  [['a.example', '-c'], /^option -c comes after the domain names/],
  [['--directory'], /^--directory needs a value$/],
  [['--directory', 'not a url', 'a.example'], /is not a URL/],
  [['--directory', 'ftp://ca.example/dir', 'a.example'], /is not an https URL/],
  [['--key-type', 'rsa1024', 'a.example'], /^--key-type "rsa1024" is not one of rsa2048, rsa3072, rsa4096, ec256, ec384$/],
  [['--email', 'two@a.example,b@c.example', 'a.example'], /is not one plain e-mail address/],
  [['--eab-kid', 'k', 'a.example'], /^--eab-kid and --eab-hmac-key go together$/],
  [['--eab-kid', 'k', '--eab-hmac-key', 'not base64!', 'a.example'], /--eab-hmac-key is not base64url/],
  [['-t', 'smtp-01', 'a.example'], /^-t "smtp-01" is not a challenge type: use http-01 or dns-01$/],
  [['-t', 'dns-01', '--standalone', '80', 'a.example'], /-t and --standalone both/],
  [['-s', '--directory', 'https://127.0.0.1/dir', 'a.example'], /-s and --directory both/],
  [['-t', 'dns-01', '--standalone-tls', '443', 'a.example'], /^-t and --standalone-tls both answer the challenges: give one$/],
  [['--standalone-tls', '443', '--standalone', '80', 'a.example'], /^--standalone and --standalone-tls both answer the challenges: give one$/],
  [['--standalone-tls', '[::1]', 'a.example'], /^--standalone-tls "\[::1\]" is not \[ADDR:\]PORT with a port from 1 to 65535$/],
  [['-c', '', 'a.example'], /^-c needs a non-empty argument$/],
  [['--help=yes'], /--help takes no value/],
  [['-v'], /^no domain given; usage: acme-client/],
  [['--profile', '', 'a.example'], /^--profile needs a non-empty value$/],
  [['--dns-server', 'dns.example:53', 'a.example'], /^--dns-server "dns.example:53" is not an IP address with an optional port, e.g. 127.0.0.1:53 or \[::1\]:53$/],
  [['--dns-server', '127.0.0.1:0', 'a.example'], /^--dns-server "127.0.0.1:0" is not an IP address/],
  [['--dns-server', '300.0.0.1', 'a.example'], /^--dns-server "300.0.0.1" is not an IP address/],
  [['--dns-update', 'ns1.example', 'a.example'], /^--dns-update "ns1.example" is not an IP address with an optional port/],
  [['--dns-update', '[::1]:70000', 'a.example'], /^--dns-update "\[::1\]:70000" is not an IP address/],
  [['--dns-update', '127.0.0.1', '--dns-update=', 'a.example'], /^--dns-update needs a non-empty value$/],
  [['--no-caa-check=yes', 'a.example'], /^--no-caa-check takes no value$/],
  [['--jobs', '2', 'a.example'], /^--jobs is for --renew-all and --renew-list$/],
  [['--jobs', '0', '--renew-all'], /^--jobs "0" is not a number from 1 to 64$/],
  [['--jobs', '2x', '--renew-all'], /^--jobs "2x" is not a number from 1 to 64$/],
  [['--renew-all', '--renew-list', 'sets.txt'], /^--renew-all and --renew-list both choose the sets: give one$/],
  [['--renew-all', '/srv/a', '/srv/b'], /^--renew-all takes one directory at most, the tree the certificates are in, not domain names$/],
  [['--renew-list', 'sets.txt', 'a.example', 'b.example'], /^--renew-list takes one directory at most/],
  [['-c', '/srv/certs', '--renew-all'], /^--renew-all cannot be combined with -c$/],
  [['-k', '/srv/key.pem', '--renew-list', 'sets.txt'], /^--renew-list cannot be combined with -k$/],
  [['-r', '--renew-all'], /^--renew-all cannot be combined with -r$/],
  [['-t', 'http-01', '--renew-all'], /^--renew-all cannot be combined with -t$/],
  [[], /^no domain given/],
];

for (const [argv, message] of BAD_ARGUMENTS) {
  test(`refused: ${JSON.stringify(argv)}`, () => {
    assert.throws(() => parseArgs(argv), (error: Error) => {
      assert.ok(error instanceof TypeError || error instanceof RangeError, `${error.name} is a caller mistake`);
      assert.match(error.message, message);
      assert.doesNotMatch(error.message, /\n/);
      return true;
    });
  });
}

test('default paths, and -m appends the domain to each default that was not overridden, never to -C', () => {
  const plain = resolvePaths(parseArgs(['a.example']), 'a.example');
  assert.deepEqual(plain, {
    challengeDir: '/var/www/acme', certDir: '/etc/ssl/acme', domainKey: '/etc/ssl/acme/private/privkey.pem', accountKey: '/etc/acme/privkey.pem',
    cert: '/etc/ssl/acme/cert.pem', chain: '/etc/ssl/acme/chain.pem', fullchain: '/etc/ssl/acme/fullchain.pem',
    renewalInfo: '/etc/ssl/acme/renewal-info.json', perDomainDirs: [],
  });
  const multiple = resolvePaths(parseArgs(['-m', 'a.example']), 'a.example');
  assert.deepEqual(multiple, {
    challengeDir: '/var/www/acme', certDir: '/etc/ssl/acme/a.example', domainKey: '/etc/ssl/acme/private/a.example/privkey.pem',
    accountKey: '/etc/acme/a.example/privkey.pem', cert: '/etc/ssl/acme/a.example/cert.pem', chain: '/etc/ssl/acme/a.example/chain.pem',
    fullchain: '/etc/ssl/acme/a.example/fullchain.pem', renewalInfo: '/etc/ssl/acme/a.example/renewal-info.json',
    perDomainDirs: ['/etc/ssl/acme/a.example', '/etc/ssl/acme/private/a.example', '/etc/acme/a.example'],
  });
  // --renew-all /srv/tls: the same layout with /srv/tls for /etc/ssl/acme.
  const tree = resolvePaths({ multiple: true }, 'a.example', '/srv/tls');
  assert.deepEqual([tree.certDir, tree.domainKey, tree.accountKey], ['/srv/tls/a.example', '/srv/tls/private/a.example/privkey.pem', '/etc/acme/a.example/privkey.pem']);
  const overridden = resolvePaths(parseArgs(['-m', '-c', '/srv/certs', '-f', '/srv/account.pem', '-C', '/srv/www', 'a.example']), 'a.example');
  assert.equal(overridden.certDir, '/srv/certs');
  assert.equal(overridden.accountKey, '/srv/account.pem');
  assert.equal(overridden.challengeDir, '/srv/www');
  assert.equal(overridden.domainKey, '/etc/ssl/acme/private/a.example/privkey.pem');
  assert.deepEqual(overridden.perDomainDirs, ['/etc/ssl/acme/private/a.example']);
});

test('the CA: Let\'s Encrypt production, -s staging, or --directory', () => {
  assert.equal(directoryUrlOf(parseArgs(['a.example'])), LETS_ENCRYPT_DIRECTORY);
  assert.equal(directoryUrlOf(parseArgs(['-s', 'a.example'])), LETS_ENCRYPT_STAGING_DIRECTORY);
  assert.equal(directoryUrlOf(parseArgs(['--directory', 'https://127.0.0.1:1/dir', 'a.example'])), 'https://127.0.0.1:1/dir');
});

const NOW = new Date(Date.UTC(2025, 5, 1));
const cert = (names: string[], lifetimeDays: number, ageDays: number) => ({
  notBefore: new Date(NOW.getTime() - ageDays * DAY),
  notAfter: new Date(NOW.getTime() + (lifetimeDays - ageDays) * DAY),
  dnsNames: names.filter((name) => !/^[\d.]+$/.test(name)),
  ipAddresses: names.filter((name) => /^[\d.]+$/.test(name)),
});
const plan = (argv: string[], existing: ReturnType<typeof cert> | undefined) => {
  const options = parseArgs(argv);
  return planRun(options, normalizeIdentifiers(options.names), existing, '/c/cert.pem', NOW);
};

test('plan: issue without a certificate, nothing to do before the renewal time, renew after it', () => {
  assert.deepEqual(plan(['a.example'], undefined), { action: 'issue' });
  const fresh = plan(['a.example', '192.0.2.1'], cert(['a.example', '192.0.2.1'], 90, 10));
  assert.equal(fresh.action, 'unchanged');
  assert.equal(plan(['a.example'], cert(['a.example'], 90, 61)).action, 'renew');
  assert.equal(plan(['a.example'], cert(['a.example'], 6, 3)).action, 'unchanged');
  assert.equal(plan(['a.example'], cert(['a.example'], 6, 5)).action, 'renew');
});

test('plan: names compare after normalisation, in any order', () => {
  assert.equal(plan(['B.example.', 'a.example'], cert(['a.example', 'b.example'], 90, 1)).action, 'unchanged');
});

test('plan: -F renews, -e lets names in and forces renewal, -r revokes', () => {
  assert.deepEqual(plan(['-F', 'a.example'], cert(['a.example'], 90, 1)), { action: 'renew', reason: 'forced by -F' });
  assert.deepEqual(plan(['-e', 'a.example', 'b.example'], cert(['a.example'], 90, 1)), { action: 'renew', reason: 'adding b.example' });
  assert.deepEqual(plan(['-r', 'a.example'], cert(['a.example'], 90, 1)), { action: 'revoke' });
});

test('plan: a name set that differs from the certificate\'s is refused', () => {
  assert.throws(() => plan(['a.example', 'b.example'], cert(['a.example'], 90, 1)), {
    name: 'RangeError', message: 'The certificate /c/cert.pem does not cover b.example: use -e to add names',
  });
  assert.throws(() => plan(['-e', 'a.example'], cert(['a.example', 'b.example'], 90, 1)), {
    name: 'RangeError', message: 'The certificate /c/cert.pem also covers b.example: name every domain it has',
  });
  assert.throws(() => plan(['-r', '-e', 'a.example', 'c.example'], cert(['a.example'], 90, 1)), {
    name: 'RangeError', message: 'The certificate /c/cert.pem does not cover c.example',
  });
  assert.throws(() => plan(['-r', 'a.example'], undefined), { name: 'RangeError', message: 'Cannot revoke: there is no certificate at /c/cert.pem' });
});
