// tls-alpn-01 in Node: the challenge certificate read by independent parsers (openssl and pkijs), and the built-in
// TLS server over real connections: the right certificate per server name for a client that offers acme-tls/1, and
// none for any other client.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { startTlsAlpnResponder } from '../../adapters/node.ts';
import type { ChallengeTask } from '../../core/resources.ts';
import { pemEncode } from '../../core/encoding.ts';
import { generateKey } from '../../core/keys.ts';
import type { Identifier } from '../../core/names.ts';
import { createTlsAlpnCertificate } from '../../core/tls-alpn.ts';

pkijs.setEngine('webcrypto', new pkijs.CryptoEngine({ name: 'webcrypto', crypto: globalThis.crypto }));

const dir = mkdtempSync(join(tmpdir(), 'tls-alpn-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sha256 = (text: string) => createHash('sha256').update(text).digest();

test('the challenge certificate, read by openssl and pkijs: self-signed, the identifier as its only SAN, a critical acmeIdentifier with SHA-256 of the key authorization', async () => {
  const key = await generateKey('ec256');
  const cases: [Identifier, string, string][] = [
    [{ type: 'dns', value: 'a.example' }, 'DNS:a.example', 'token-a.thumbprint'],
    [{ type: 'ip', value: '127.0.0.1' }, 'IP Address:127.0.0.1', 'token-b.thumbprint'],
    [{ type: 'ip', value: '2001:db8::1' }, 'IP Address:2001:DB8:0:0:0:0:0:1', 'token-c.thumbprint'],
  ];
  for (const [identifier, san, keyAuthorization] of cases) {
    const der = await createTlsAlpnCertificate({ identifier, keyAuthorization }, key);
    const file = join(dir, `${identifier.value}.pem`);
    writeFileSync(file, pemEncode('CERTIFICATE', der));
    const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(text, new RegExp(`X509v3 Subject Alternative Name: \\n\\s*${san.replace(/\./g, '\\.')}\\n`));
    assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical\n/);
    // openssl checks the self-signature, and then stops at the critical extension it does not know.
    assert.throws(() => execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8', stdio: 'pipe' }), /unhandled critical extension/);
    assert.equal(new X509Certificate(der).verify(new X509Certificate(der).publicKey), true);

    const certificate = pkijs.Certificate.fromBER(der);
    assert.equal(await certificate.verify(), true, 'pkijs verifies the self-signature');
    const extensions = certificate.extensions!;
    assert.deepEqual(extensions.map((extension) => extension.extnID), ['2.5.29.17', '1.3.6.1.5.5.7.1.31']);
    const acmeIdentifier = extensions[1]!;
    assert.equal(acmeIdentifier.critical, true);
    // RFC 8737 §3: extnValue is the DER of an OCTET STRING of the 32-octet digest.
    assert.deepEqual(Buffer.from(acmeIdentifier.extnValue.valueBlock.valueHexView), Buffer.concat([Buffer.from([0x04, 0x20]), sha256(keyAuthorization)]));
    assert.equal((extensions[0]!.parsedValue as pkijs.AltName).altNames.length, 1);
  }
});

const task = (identifier: Identifier, token: string): ChallengeTask => ({
  identifier, wildcard: false, type: 'tls-alpn-01', token, keyAuthorization: `${token}.thumbprint`, httpPath: `/.well-known/acme-challenge/${token}`,
  dnsName: `_acme-challenge.${identifier.value}`, dnsValue: '', authorizationUrl: 'https://ca/a', challengeUrl: 'https://ca/c',
});

/** A TLS handshake with the responder: the certificate and protocol it gave, or the error that ended it. */
function handshake(port: number, serverName: string, alpnProtocols?: string[]): Promise<{ der?: Buffer; protocol?: string | false | null; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: serverName, rejectUnauthorized: false, ...(alpnProtocols && { ALPNProtocols: alpnProtocols }) });
    socket.once('secureConnect', () => {
      resolve({ der: socket.getPeerCertificate().raw, protocol: socket.alpnProtocol });
      socket.destroy();
    });
    socket.once('error', (error) => resolve({ error: error.message }));
  });
}

const acmeIdentifierOf = (der: Buffer) => Buffer.from(pkijs.Certificate.fromBER(new Uint8Array(der)).extensions!.find((e) => e.extnID === '1.3.6.1.5.5.7.1.31')!.extnValue.valueBlock.valueHexView).subarray(2);

test('the TLS server: each name gets its own certificate over acme-tls/1, an IP address by its reverse name; other clients get none', async () => {
  const responder = await startTlsAlpnResponder({ host: '127.0.0.1', port: 0 });
  try {
    assert.deepEqual(responder.types, ['tls-alpn-01']);
    const a = task({ type: 'dns', value: 'a.example' }, 'token-a');
    const b = task({ type: 'dns', value: 'b.example' }, 'token-b');
    const ip = task({ type: 'ip', value: '127.0.0.1' }, 'token-ip');
    for (const presented of [a, b, ip]) await responder.present(presented);

    for (const [serverName, presented] of [['a.example', a], ['B.Example', b], ['1.0.0.127.in-addr.arpa', ip]] as const) {
      const answer = await handshake(responder.port, serverName, ['acme-tls/1']);
      assert.equal(answer.protocol, 'acme-tls/1', serverName);
      assert.deepEqual(acmeIdentifierOf(answer.der!), sha256(presented.keyAuthorization), serverName);
      const x509 = new X509Certificate(answer.der!);
      assert.equal(x509.subjectAltName, presented.identifier.type === 'ip' ? 'IP Address:127.0.0.1' : `DNS:${presented.identifier.value}`);
    }
    // A client that does not offer acme-tls/1, with no ALPN or with another protocol, ends with an alert and no certificate.
    assert.match((await handshake(responder.port, 'a.example')).error!, /SSL alert number 120/);
    assert.match((await handshake(responder.port, 'a.example', ['h2', 'http/1.1'])).error!, /SSL alert number 120/);
    assert.match((await handshake(responder.port, 'c.example', ['acme-tls/1'])).error!, /SSL alert number 112/);
    await responder.cleanup(a);
    assert.match((await handshake(responder.port, 'a.example', ['acme-tls/1'])).error!, /SSL alert number 112/);
    assert.equal((await handshake(responder.port, 'b.example', ['acme-tls/1'])).protocol, 'acme-tls/1');
  } finally {
    await responder.close();
  }
  assert.match((await handshake(responder.port, 'b.example', ['acme-tls/1'])).error!, /ECONNREFUSED/);
});

test('the TLS server: a port in use is refused by name before anything else', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  try {
    await assert.rejects(startTlsAlpnResponder({ host: '127.0.0.1', port }), { message: `Cannot listen on 127.0.0.1:${port} for tls-alpn-01: the port is in use` });
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
});
