import { assert, assertEquals, assertThrows, test } from '../_harness.ts';
import { readClientHello, tlsAlert } from '../../core/_tls-hello.ts';
import { parseCertificate } from '../../core/x509.ts';
import { generateKey } from '../../core/keys.ts';
import type { ChallengeTask } from '../../core/resources.ts';
import { createTlsAlpnCertificate, tlsAlpnServerName } from '../../core/tls-alpn.ts';
import { answerTlsAlpnConnection, tlsAlpnCertificates } from '../../core/tls-alpn-server.ts';

test('tls-alpn-01: the server name is the DNS name, or the reverse-mapping name of an IP address (RFC 8738 §6)', () => {
  assertEquals(tlsAlpnServerName({ type: 'dns', value: 'www.example.com' }), 'www.example.com');
  assertEquals(tlsAlpnServerName({ type: 'ip', value: '192.0.2.1' }), '1.2.0.192.in-addr.arpa');
  assertEquals(tlsAlpnServerName({ type: 'ip', value: '127.0.0.1' }), '1.0.0.127.in-addr.arpa');
  // RFC 3596 §2.5: nibbles, lowest first.
  assertEquals(tlsAlpnServerName({ type: 'ip', value: '2001:db8::567:89ab' }), 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
});

test('tls-alpn-01: the certificate names only its identifier, is valid now, and differs per call', async () => {
  const key = await generateKey('ec256');
  const now = new Date('2030-06-01T12:00:00Z');
  const dns = parseCertificate(await createTlsAlpnCertificate({ identifier: { type: 'dns', value: 'a.example' }, keyAuthorization: 't.k' }, key, now));
  assertEquals([dns.dnsNames, dns.ipAddresses], [['a.example'], []]);
  assert(dns.notBefore < now && now < dns.notAfter, 'valid around now');
  assertEquals(dns.publicJwk, key.publicJwk);
  const ip = parseCertificate(await createTlsAlpnCertificate({ identifier: { type: 'ip', value: '2001:db8::1' }, keyAuthorization: 't.k' }, key, now));
  assertEquals([ip.dnsNames, ip.ipAddresses], [[], ['2001:db8::1']]);
  assert(ip.serialHex !== dns.serialHex, 'random serials');
  // From 2050 on, RFC 5280 §4.1.2.5 wants GeneralizedTime, which the reader takes as well.
  const late = parseCertificate(await createTlsAlpnCertificate({ identifier: { type: 'dns', value: 'a.example' }, keyAuthorization: 't.k' }, key, new Date('2049-12-30T00:00:00Z')));
  assertEquals(late.notAfter, new Date('2050-01-06T00:00:00Z'));
});

const u16 = (value: number) => [value >> 8, value & 0xff];
const vector16 = (bytes: number[]) => [...u16(bytes.length), ...bytes];
const ascii = (text: string) => Array.from(text, (char) => char.charCodeAt(0));

/** A ClientHello with these extensions (type, body), in records of at most `recordSize` octets. */
function clientHello(extensions: [number, number[]][] | undefined, recordSize = 16384): Uint8Array {
  const body = [3, 3, ...new Array(32).fill(7), 0, ...vector16([0x13, 0x01]), 1, 0];
  if (extensions) body.push(...vector16(extensions.flatMap(([type, data]) => [...u16(type), ...vector16(data)])));
  const handshake = [1, 0, ...u16(body.length), ...body];
  const records: number[] = [];
  for (let at = 0; at < handshake.length; at += recordSize) {
    const fragment = handshake.slice(at, at + recordSize);
    records.push(22, 3, 1, ...u16(fragment.length), ...fragment);
  }
  return new Uint8Array(records);
}
const sni = (name: string): [number, number[]] => [0, vector16([0, ...vector16(ascii(name))])];
const alpn = (...protocols: string[]): [number, number[]] => [16, vector16(protocols.flatMap((protocol) => [protocol.length, ...ascii(protocol)]))];

/** The fields of a ClientHello that the responder decides on. */
function summary(data: Uint8Array) {
  const hello = readClientHello(data);
  return hello && { serverName: hello.serverName, alpn: hello.alpnProtocols, versions: hello.versions, shares: [...hello.keyShares.keys()], schemes: hello.signatureSchemes };
}

test('ClientHello: the server name (lowercased), ALPN protocols, versions, key shares and signature schemes, whatever else it holds', () => {
  const full = clientHello([[99, [2, 3, 4]], sni('A.Example'), alpn('h2', 'acme-tls/1'), [43, [4, 3, 4, 3, 3]], [51, vector16([0, 29, ...vector16([9, 9])])], [13, vector16([4, 3, 8, 4])]]);
  assertEquals(summary(full), { serverName: 'a.example', alpn: ['h2', 'acme-tls/1'], versions: [0x0304, 0x0303], shares: [29], schemes: [0x0403, 0x0804] });
  assertEquals(Array.from(readClientHello(full)!.keyShares.get(29)!), [9, 9]);
  assertEquals(Array.from(readClientHello(full)!.sessionId), []);
  assertEquals(readClientHello(full)!.cipherSuites, [0x1301]);
  assertEquals(summary(clientHello([sni('a.example')])), { serverName: 'a.example', alpn: [], versions: [], shares: [], schemes: [] });
  assertEquals(summary(clientHello(undefined)), { serverName: undefined, alpn: [], versions: [], shares: [], schemes: [] });
});

test('ClientHello: spread over records, it is read once all have come, and the bytes after it are kept', () => {
  const extensions = [sni('1.0.0.127.in-addr.arpa'), alpn('acme-tls/1')];
  const split = clientHello(extensions, 20);
  assertEquals(summary(split)?.serverName, '1.0.0.127.in-addr.arpa');
  const hello = readClientHello(new Uint8Array([...split, 20, 3, 3, 0, 1, 1]))!;
  // The transcript takes the message itself, however the records cut it.
  assertEquals(hello.message, readClientHello(clientHello(extensions))!.message);
  assertEquals(Array.from(hello.rest), [20, 3, 3, 0, 1, 1]);
  for (const length of [0, 3, 5, 30, split.length - 1]) assertEquals(readClientHello(split.subarray(0, length)), undefined);
});

test('ClientHello: bytes that are no ClientHello are refused by name', () => {
  assertThrows(() => readClientHello(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')), SyntaxError, 'record type 71 is not a handshake');
  const hello = clientHello([sni('a.example')]);
  const serverHello = hello.slice();
  serverHello[5] = 2;
  assertThrows(() => readClientHello(serverHello), SyntaxError, 'handshake type 2 is not a ClientHello');
  // The extension block claims more than the message holds.
  const truncated = clientHello([[0, [0, 9, 0, 0, 5, 97]]]);
  assertThrows(() => readClientHello(truncated), SyntaxError, 'Cannot parse TLS ClientHello: server name list is cut short');
  assertEquals(Array.from(tlsAlert(120)), [21, 3, 3, 0, 2, 2, 120]);
});

/** answerTlsAlpnConnection over bytes in memory: what it wrote back to this ClientHello. */
async function answer(hello: Uint8Array): Promise<number[]> {
  const certificates = await tlsAlpnCertificates();
  await certificates.present({ identifier: { type: 'dns', value: 'a.example' }, keyAuthorization: 't.k' } as ChallengeTask);
  const written: number[] = [];
  let sent = false;
  let closed = false;
  await answerTlsAlpnConnection({
    read: async () => (sent ? undefined : ((sent = true), hello)),
    write: async (bytes) => void written.push(...bytes),
    close: () => void (closed = true),
  }, certificates.lookup);
  assert(closed, 'the connection is closed');
  return written;
}

test('tls-alpn-01 server: a client it cannot answer gets the alert that says why, and no certificate', async () => {
  const x25519 = (await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
  const share: [number, number[]] = [51, vector16([0, 29, ...vector16(Array.from(new Uint8Array(await crypto.subtle.exportKey('raw', x25519.publicKey))))])];
  const tls13: [number, number[]] = [43, [2, 3, 4]];
  const ecdsa: [number, number[]] = [13, vector16([4, 3])];
  const alert = (description: number) => Array.from(tlsAlert(description));
  assertEquals(await answer(clientHello([sni('a.example'), tls13, share, ecdsa])), alert(120)); // no ALPN
  assertEquals(await answer(clientHello([sni('a.example'), alpn('h2'), tls13, share, ecdsa])), alert(120));
  assertEquals(await answer(clientHello([sni('b.example'), alpn('acme-tls/1'), tls13, share, ecdsa])), alert(112));
  assertEquals(await answer(clientHello([alpn('acme-tls/1'), tls13, share, ecdsa])), alert(112)); // no server name
  assertEquals(await answer(clientHello([sni('a.example'), alpn('acme-tls/1'), share, ecdsa])), alert(70)); // TLS 1.2 only
  assertEquals(await answer(clientHello([sni('a.example'), alpn('acme-tls/1'), tls13, share, [13, vector16([8, 4])]])), alert(40)); // no ECDSA P-256
  assertEquals(await answer(clientHello([sni('a.example'), alpn('acme-tls/1'), tls13, [51, vector16([0, 30, ...vector16([1])])], ecdsa])), alert(40));
  assertEquals(await answer(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')), []);
  // Answered: a ServerHello record in the clear, then the protected flight (no certificate in the clear).
  const flight = await answer(clientHello([sni('a.example'), alpn('acme-tls/1'), tls13, share, ecdsa]));
  assertEquals(flight.slice(0, 3), [22, 3, 3]);
  assertEquals(flight[5], 2);
  const serverHelloEnd = 5 + ((flight[3]! << 8) | flight[4]!);
  assertEquals(flight[serverHelloEnd], 23);
});
