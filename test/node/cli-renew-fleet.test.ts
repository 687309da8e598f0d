// A thousand certificate sets in one --renew-list run under `ulimit -n 256`, against Pebble behind test/_acme-proxy.ts
// (which, like Pebble, keeps idle connections open until the client closes them): 100 sets are issued and 900 are not
// due, each of those asking the CA for its renewal window (RFC 9773) and writing renewal-info.json. Issuing all
// thousand would take minutes here; this mix keeps every set reading its files and most talking to the CA, so
// connections that each set kept for itself would use up the descriptors (as they did: 773 of 1000 sets failed).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { startPebble, type Pebble } from '../_pebble.ts';
import { startAcmeProxy, type AcmeProxy } from '../_acme-proxy.ts';
import { RUNTIMES, runCli, tempDir, type Runtime } from './_cli.ts';
import { pemDecode, pemEncode } from '../../core/encoding.ts';
import { certificateIdentifier } from '../../core/renewal.ts';
import { parseCertificate } from '../../core/x509.ts';

pkijs.setEngine('webcrypto', new pkijs.CryptoEngine({ name: 'webcrypto', crypto: globalThis.crypto }));

const DAY = 24 * 60 * 60 * 1000;
const NAMES = Array.from({ length: 1000 }, (_, index) => `n${index}.fleet.test`);
const isNew = (index: number) => index % 10 === 0;
const EXISTING = NAMES.filter((_, index) => !isNew(index));

let pebble: Pebble;
/** One proxy per runtime, so that each run's requests are counted apart. */
const proxies = new Map<Runtime, AcmeProxy>();
let certificates: string[];
const work = tempDir('acme-cli-fleet-');

/**
 * Certificates for the sets that are not due, signed by an issuer of the test's own: one name each, 90 days, and the
 * authority key identifier that ARI names a certificate by (RFC 9773 §4.1). Serials count up from 1.
 */
async function mintCertificates(names: string[]): Promise<string[]> {
  const ec = { name: 'ECDSA', namedCurve: 'P-256' };
  const issuer = await crypto.subtle.generateKey(ec, false, ['sign', 'verify']);
  const leaf = await crypto.subtle.generateKey(ec, true, ['sign', 'verify']);
  const commonName = (value: string) => new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value }) });
  const extension = (extnID: string, value: { toSchema(): asn1js.BaseBlock }) =>
    new pkijs.Extension({ extnID, critical: false, extnValue: value.toSchema().toBER(false) });
  return Promise.all(names.map(async (name, index) => {
    const certificate = new pkijs.Certificate();
    certificate.version = 2;
    certificate.serialNumber = new asn1js.Integer({ value: index + 1 });
    certificate.issuer.typesAndValues.push(commonName('fleet.test issuer'));
    certificate.subject.typesAndValues.push(commonName(name));
    certificate.notBefore.value = new Date(Date.now() - DAY);
    certificate.notAfter.value = new Date(Date.now() + 89 * DAY);
    certificate.extensions = [
      extension('2.5.29.17', new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 2, value: name })] })),
      extension('2.5.29.35', new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: new Uint8Array(20).fill(7).buffer }) })),
    ];
    await certificate.subjectPublicKeyInfo.importKey(leaf.publicKey);
    await certificate.sign(issuer.privateKey, 'SHA-256');
    return pemEncode('CERTIFICATE', new Uint8Array(certificate.toSchema().toBER(false)));
  }));
}

before(async () => {
  pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: '0' } });
  for (const runtime of RUNTIMES) proxies.set(runtime, await startAcmeProxy(pebble));
  certificates = await mintCertificates(EXISTING);
  // The CA's window for each is two months away: not due, and the run learns that only by asking.
  for (const pem of certificates) {
    const certId = certificateIdentifier(parseCertificate(pemDecode(pem, ['CERTIFICATE']).der));
    for (const proxy of proxies.values()) proxy.setRenewalInfo(certId, { start: new Date(Date.now() + 60 * DAY), end: new Date(Date.now() + 61 * DAY) });
  }
});
after(async () => {
  await Promise.all([...proxies.values()].map((proxy) => proxy.stop()));
  await pebble?.stop();
  work.remove();
});

// One after the other: both would answer http-01 on Pebble's one port.
describe('a thousand sets in one run', () => {
  for (const runtime of RUNTIMES) {
    test(`[${runtime}] --renew-list: 1000 sets under ulimit -n 256, 100 issued and 900 not due that each ask the CA's renewal window (exit 0)`, async () => {
      const proxy = proxies.get(runtime)!;
      const tree = join(work.dir, runtime, 'tree');
      EXISTING.forEach((name, index) => {
        mkdirSync(join(tree, name), { recursive: true });
        writeFileSync(join(tree, name, 'cert.pem'), certificates[index]!);
      });
      const list = join(work.dir, runtime, 'sets.txt');
      writeFileSync(list, NAMES.map((name) => `${name}\n`).join(''));
      const started = Date.now();
      const result = await runCli(['--directory', proxy.directoryUrl, '--standalone', `127.0.0.1:${pebble.httpPort}`, '--no-caa-check', '-nN', '--key-type', 'ec256',
        '-f', join(work.dir, runtime, 'account', 'account.pem'), '--jobs', '16', '--renew-list', list, tree], { runtime, caFile: pebble.tlsCaFile, fileLimit: 256 });
      const seconds = (Date.now() - started) / 1000;
      assert.equal(result.code, 0, `${result.stderr}\n${result.stdout.split('\n').filter((line) => line.includes('FAILED')).slice(0, 5).join('\n')}`);
      const lines = result.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 1000);
      lines.forEach((line, index) => assert.match(line, new RegExp(`^${NAMES[index]!.replaceAll('.', '\\.')}: ${isNew(index) ? 'issued \\(serial' : 'unchanged \\(due'}`)));
      assert.equal(result.stderr, '');
      assert.equal(proxy.renewalInfoRequests.length, 900);
      // What the sets share: one directory read by each process that asks the CA (this one for the renewal windows,
      // the network process for the issuances), one account for the -f that -n created.
      assert.equal(proxy.count('directory'), 2);
      assert.equal(proxy.count('accountsCreated'), 1);
      // Every request, the 900 questions for renewal windows included, comes from a network process, unprivileged.
      assert.deepEqual([...new Set(proxy.requests.map((request) => request.uid))], [process.getuid!() === 0 ? 65534 : process.getuid!()]);
      console.log(`[${runtime}] 1000 sets under ulimit -n 256: ${seconds.toFixed(1)} s, ${proxy.requests.length} requests (${proxy.requests.length - 900} for 100 issuances)`);
    });
  }
});
