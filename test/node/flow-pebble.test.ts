// The protocol core against a real Pebble: issuance over http-01 and dns-01 (wildcard, IP), a failing challenge,
// awkward Pebble settings (nonce rejection, alternate roots, EAB), account management, revocation, the request count.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../_pebble.ts';
import {
  ACME_ERROR, AcmeClient, AcmeError, generateKey, isAlreadyRevoked, isExternalAccountRequired, issueCertificate, parseCertificateChain,
  type ChallengeResponder, type ChallengeTask, type ClientOptions, type IssueOptions,
} from '../../core/mod.ts';

const EAB_KID = 'kid-1';
const EAB_KEY = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';

interface Instance {
  pebble: Pebble;
  served: Map<string, string>;
  server: Server;
}

/** Pebble plus the http-01 server its VA connects to on 127.0.0.1. */
async function startInstance(options: Parameters<typeof startPebble>[0]): Promise<Instance> {
  const pebble = await startPebble(options);
  const served = new Map<string, string>();
  const server = createServer((request, response) => {
    const body = served.get(request.url ?? '');
    response.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain' });
    response.end(body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(pebble.httpPort, '127.0.0.1', resolve));
  return { pebble, served, server };
}

async function stopInstance(instance: Instance | undefined): Promise<void> {
  if (!instance) return;
  await new Promise((resolve) => instance.server.close(resolve));
  await instance.pebble.stop();
}

let main: Instance | undefined; // Pebble's default 5% nonce rejection, plus one alternate root
let quiet: Instance | undefined; // no nonce rejection, for counting requests
let hostile: Instance | undefined; // 30% nonce rejection and external account binding

before(async () => {
  [main, quiet, hostile] = await Promise.all([
    startInstance({ env: { PEBBLE_ALTERNATE_ROOTS: '1' } }),
    startInstance({ env: { PEBBLE_WFE_NONCEREJECT: '0' } }),
    startInstance({ env: { PEBBLE_WFE_NONCEREJECT: '30' }, eabKeys: { [EAB_KID]: EAB_KEY } }),
  ]);
});

after(async () => {
  await Promise.all([main, quiet, hostile].map(stopInstance));
});

/** Pebble reuses valid authorizations (PEBBLE_AUTHZREUSE), so every test names its own hosts. */
function unique(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}.example.com`;
}

function httpResponder(instance: Instance): ChallengeResponder & { presented: string[] } {
  const presented: string[] = [];
  return {
    types: ['http-01'],
    presented,
    async present(task: ChallengeTask) {
      presented.push(task.identifier.value);
      instance.served.set(task.httpPath, task.keyAuthorization);
    },
    async cleanup(task: ChallengeTask) {
      instance.served.delete(task.httpPath);
    },
  };
}

function dnsResponder(instance: Instance, value: (task: ChallengeTask) => string = (task) => task.dnsValue): ChallengeResponder {
  return {
    types: ['dns-01'],
    present: (task) => instance.pebble.setTxt(task.dnsName, value(task)),
    cleanup: (task) => instance.pebble.clearTxt(task.dnsName),
  };
}

async function client(instance: Instance, options: Partial<ClientOptions> = {}): Promise<AcmeClient> {
  return AcmeClient.create(instance.pebble.directoryUrl, { accountKey: await generateKey('ec256'), fetch: instance.pebble.fetch, ...options });
}

async function issue(instance: Instance, names: string[], responder: ChallengeResponder, options: Partial<IssueOptions> = {}) {
  const certificateKey = options.certificateKey ?? (await generateKey('ec256'));
  return issueCertificate({
    client: options.client ?? (await client(instance)),
    identifiers: names,
    certificateKey,
    responder,
    account: { termsOfServiceAgreed: true },
    ...options,
  });
}

/** `openssl verify` with the root as the only trust anchor and the served chain as untrusted intermediates. */
function opensslVerify(rootPem: string, chainPem: string, certificatePem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'flow-verify-'));
  try {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'chain.pem'), chainPem);
    writeFileSync(join(dir, 'cert.pem'), certificatePem);
    return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'cert.pem')], { encoding: 'utf8' }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('pebble: 3 names over http-01, and the chain verifies with openssl against Pebble\'s root', async () => {
  const names = [unique('www'), unique('mail'), unique('api')];
  const responder = httpResponder(main!);
  const issued = await issue(main!, names, responder);
  assert.deepEqual([...issued.certificate.dnsNames].sort(), [...names].sort());
  assert.equal(main!.served.size, 0, 'cleanup removed every response');
  assert.match(opensslVerify(await main!.pebble.rootPem(0), issued.chainPem, issued.certificatePem), /cert\.pem: OK$/);
});

test('pebble: dns-01 for a name and its wildcard', async () => {
  const base = unique('wild');
  const issued = await issue(main!, [base, `*.${base}`], dnsResponder(main!));
  assert.deepEqual([...issued.certificate.dnsNames].sort(), [`*.${base}`, base].sort());
});

test('pebble: an IP identifier over http-01', async () => {
  const issued = await issue(main!, ['127.0.0.1', unique('ip')], httpResponder(main!));
  assert.deepEqual(issued.certificate.ipAddresses, ['127.0.0.1']);
});

test('pebble: a wrong TXT value fails with the identifier, the challenge type and Pebble\'s own problem', async () => {
  const good = unique('good');
  const bad = unique('bad');
  const responder = dnsResponder(main!, (task) => (task.identifier.value === bad ? 'not-the-right-value' : task.dnsValue));
  const error = await issue(main!, [good, bad], responder).then(() => assert.fail('issued'), (e: unknown) => e);
  assert.ok(error instanceof AcmeError, String(error));
  assert.match(error.message, new RegExp(`^Cannot authorize ${bad.replace(/\./g, '\\.')} \\(dns-01\\): urn:ietf:params:acme:error:unauthorized: .+`));
  assert.equal(error.problem.type, ACME_ERROR.unauthorized);
  assert.match(error.problem.detail!, /Correct value not found for DNS challenge/);
  assert.deepEqual(error.identifier, { type: 'dns', value: bad });
});

test('pebble: preferredChain picks the alternate root\'s chain by issuer CN', async () => {
  const [alternateRoot] = parseCertificateChain(await main!.pebble.rootPem(1));
  const [defaultRoot] = parseCertificateChain(await main!.pebble.rootPem(0));
  assert.notEqual(alternateRoot!.subjectCn, defaultRoot!.subjectCn);
  const name = unique('alt');
  const plain = await issue(main!, [name], httpResponder(main!));
  assert.equal(plain.chain.at(-1)!.issuerCn, defaultRoot!.subjectCn);
  const preferred = await issue(main!, [name], httpResponder(main!), { preferredChain: alternateRoot!.subjectCn! });
  assert.equal(preferred.chain.at(-1)!.issuerCn, alternateRoot!.subjectCn);
  assert.match(opensslVerify(await main!.pebble.rootPem(1), preferred.chainPem, preferred.certificatePem), /cert\.pem: OK$/);
});

test('pebble: account find, update, key rollover and deactivation', async () => {
  const first = await client(main!);
  const created = await first.createAccount({ contact: ['mailto:one@example.com'], termsOfServiceAgreed: true });
  assert.equal(created.created, true);
  assert.equal((await first.createAccount({ termsOfServiceAgreed: true })).created, false, 'the same key gets its account back');

  const again = await client(main!, { accountKey: first.accountKey });
  assert.equal((await again.findAccount())?.url, created.url);
  assert.equal(await (await client(main!)).findAccount(), undefined);

  const updated = await first.updateAccount({ contact: ['mailto:two@example.com'] });
  assert.deepEqual(updated.contact, ['mailto:two@example.com']);
  assert.deepEqual((await first.getAccount()).contact, ['mailto:two@example.com']);

  const oldKey = first.accountKey;
  const newKey = await generateKey('ec384');
  await first.rolloverKey(newKey);
  assert.equal((await (await client(main!, { accountKey: newKey })).findAccount())?.url, created.url);
  assert.equal(await (await client(main!, { accountKey: oldKey })).findAccount(), undefined);

  assert.equal((await first.deactivateAccount()).status, 'deactivated');
  await assert.rejects(first.newOrder({ identifiers: [{ type: 'dns', value: unique('gone') }] }), (error: unknown) =>
    error instanceof AcmeError && error.problem.type === ACME_ERROR.unauthorized && error.message.startsWith('Cannot create order: '));
});

test('pebble: revocation by the account key and by the certificate key, with a reason', async () => {
  const accountClient = await client(main!);
  const byAccount = await issue(main!, [unique('revoke')], httpResponder(main!), { client: accountClient });
  await accountClient.revokeCertificate(byAccount.certificate.der, { reason: 4 });
  const status = await main!.pebble.certStatus(byAccount.certificate.serialHex);
  assert.equal(status.Status, 'Revoked');
  assert.equal(status.Reason, 4);
  await assert.rejects(accountClient.revokeCertificate(byAccount.certificate.der), (error: unknown) => isAlreadyRevoked(error));

  const certificateKey = await generateKey('ec256');
  const byKey = await issue(main!, [unique('revoke-key')], httpResponder(main!), { certificateKey });
  const stranger = await client(main!); // no account at all: the certificate key alone proves the right (§7.6)
  await stranger.revokeCertificate(byKey.certificate.der, { reason: 1, certificateKey });
  const byKeyStatus = await main!.pebble.certStatus(byKey.certificate.serialHex);
  assert.equal(byKeyStatus.Status, 'Revoked');
  assert.equal(byKeyStatus.Reason, 1);
});

test('pebble: 3 names with a fresh account take at most 15 requests', async () => {
  let requests = 0;
  const counting = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    requests++;
    return quiet!.pebble.fetch(input, init);
  }) as typeof fetch;
  const started = performance.now();
  const fresh = await client(quiet!, { fetch: counting });
  await issue(quiet!, [unique('one'), unique('two'), unique('three')], httpResponder(quiet!), { client: fresh });
  const ms = performance.now() - started;
  assert.ok(requests <= 15, `${requests} requests`);
  console.log(`# 3-name issuance: ${requests} requests, ${Math.round(ms)} ms`);
});

test('pebble: with 30% of nonces rejected and EAB required, issuance without EAB fails and with EAB succeeds', async () => {
  const plain = await client(hostile!);
  assert.equal(plain.directory.meta.externalAccountRequired, true);
  await assert.rejects(plain.createAccount({ termsOfServiceAgreed: true }), (error: unknown) => isExternalAccountRequired(error));
  const issued = await issue(hostile!, [unique('eab'), unique('eab2')], httpResponder(hostile!), {
    account: { termsOfServiceAgreed: true, externalAccountBinding: { kid: EAB_KID, hmacKey: EAB_KEY } },
  });
  assert.equal(issued.certificate.dnsNames.length, 2);
});
