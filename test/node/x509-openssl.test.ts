// Our X.509 reading against openssl's: every system root in /etc/ssl/certs, and a chain that openssl makes here.
// openssl reads all certificates of a file in one process (crl2pkcs7 | pkcs7 -print_certs), which keeps this fast.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexEncode, utf8Decode } from '../../core/encoding.ts';
import { compareIdentifiers, identifiersOf, normalizeIdentifiers } from '../../core/names.ts';
import { certificateMatchesKey, parseCertificateChain } from '../../core/x509.ts';
import type { CertificateInfo } from '../../core/x509.ts';

const dir = mkdtempSync(join(tmpdir(), 'x509-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(command, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
}

function openssl(args: string[], input?: string): string {
  const result = run('openssl', args, input);
  assert.equal(result.status, 0, `openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

interface Facts {
  serial: bigint;
  notBefore: string;
  notAfter: string;
  subjectCn: string | undefined;
  issuerCn: string | undefined;
  dnsNames: string[];
  ipAddresses: string[];
  authorityKeyIdentifier: string | undefined;
  subjectKeyIdentifier: string | undefined;
}

/** The INTEGER content as a signed number, as openssl prints it. */
function signedValue(bytes: Uint8Array): bigint {
  const unsigned = BigInt(`0x${hexEncode(bytes)}`);
  return bytes[0]! & 0x80 ? unsigned - (1n << BigInt(8 * bytes.length)) : unsigned;
}

function ourFacts(cert: CertificateInfo): Facts {
  return {
    serial: signedValue(cert.serialBytes),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    subjectCn: cert.subjectCn,
    issuerCn: cert.issuerCn,
    dnsNames: cert.dnsNames,
    ipAddresses: cert.ipAddresses,
    authorityKeyIdentifier: cert.authorityKeyIdentifier && hexEncode(cert.authorityKeyIdentifier),
    subjectKeyIdentifier: cert.subjectKeyIdentifier && hexEncode(cert.subjectKeyIdentifier),
  };
}

/**
 * The first CN of a name in openssl's default "oneline" form: `C = ES, O = "A, B", CN = F\C5\91`, where quotes and
 * RFC 2253 escapes protect separators, and \XX escapes are the octets of the UTF-8 text.
 */
function commonNameFromOneline(line: string): string | undefined {
  const fields: [string, number[]][] = [];
  let current: number[] = [];
  let key = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\') {
      const hex = line.slice(i + 1, i + 3);
      if (/^[0-9A-F]{2}$/.test(hex)) {
        current.push(parseInt(hex, 16));
        i += 2;
      } else {
        current.push(...new TextEncoder().encode(line[++i]!));
      }
    } else if (char === '"') {
      quoted = !quoted;
    } else if (!quoted && (line.startsWith(', ', i) || line.startsWith(' + ', i))) {
      fields.push([key, current]);
      i += line[i] === ',' ? 1 : 2;
      [key, current] = ['', []];
    } else if (!quoted && key === '' && line.startsWith(' = ', i)) {
      key = utf8Decode(new Uint8Array(current));
      current = [];
      i += 2;
    } else {
      current.push(...new TextEncoder().encode(char));
    }
  }
  fields.push([key, current]);
  const cn = fields.find(([name]) => name === 'CN');
  return cn && utf8Decode(new Uint8Array(cn[1]));
}

function hexLine(line: string | undefined): string | undefined {
  return line?.trim().replace(/^keyid:/, '').replace(/:/g, '').toLowerCase();
}

function dateOf(text: string): string {
  const date = new Date(text.replace(/ GMT$/, ' UTC'));
  assert.ok(!Number.isNaN(date.getTime()), `openssl date ${text}`);
  return date.toISOString();
}

/** IPv6 as the URL parser writes it (RFC 5952), so openssl's 2001:DB8:0:0:0:0:0:1 compares with ours independently. */
function canonicalIp(text: string): string {
  return text.includes(':') ? new URL(`http://[${text}]/`).hostname.slice(1, -1) : text;
}

/** What openssl reads in every certificate of a PEM file, in file order. */
function opensslFacts(pemFile: string): Facts[] {
  const pkcs7 = openssl(['crl2pkcs7', '-nocrl', '-certfile', pemFile]);
  const names = openssl(['pkcs7', '-print_certs', '-noout'], pkcs7).split(/\n\n+/).filter((block) => block.trim() !== '');
  const texts = openssl(['pkcs7', '-print_certs', '-noout', '-text'], pkcs7).split(/^Certificate:$/m).slice(1);
  assert.equal(names.length, texts.length);
  return texts.map((text, i) => {
    const lines = text.split('\n');
    const after = (header: RegExp) => {
      const at = lines.findIndex((line) => header.test(line));
      return at < 0 ? undefined : lines[at + 1];
    };
    const serialLine = lines.find((line) => line.includes('Serial Number:'))!;
    const small = /Serial Number: (-?)\d+ \(-?0x([0-9a-f]+)\)/.exec(serialLine);
    const serial = small
      ? BigInt(`0x${small[2]}`) * (small[1] ? -1n : 1n)
      : BigInt(`0x${hexLine(lines[lines.indexOf(serialLine) + 1])}`) * (serialLine.includes('(Negative)') ? -1n : 1n);
    const san = after(/X509v3 Subject Alternative Name:/)?.trim().split(', ') ?? [];
    return {
      serial,
      notBefore: dateOf(/Not Before: (.*)/.exec(text)![1]!),
      notAfter: dateOf(/Not After : (.*)/.exec(text)![1]!),
      subjectCn: commonNameFromOneline(/^subject=(.*)$/m.exec(names[i]!)![1]!),
      issuerCn: commonNameFromOneline(/^issuer=(.*)$/m.exec(names[i]!)![1]!),
      dnsNames: san.filter((entry) => entry.startsWith('DNS:')).map((entry) => entry.slice(4)),
      ipAddresses: san.filter((entry) => entry.startsWith('IP Address:')).map((entry) => canonicalIp(entry.slice(11))),
      authorityKeyIdentifier: hexLine(after(/X509v3 Authority Key Identifier:/)),
      subjectKeyIdentifier: hexLine(after(/X509v3 Subject Key Identifier:/)),
    };
  });
}

test('our reading of every system root agrees with openssl on serial, dates, issuer, subject, SANs and key ids', () => {
  const files = readdirSync('/etc/ssl/certs').filter((name) => name.endsWith('.pem')).map((name) => join('/etc/ssl/certs', name)).sort();
  // Skip what openssl itself cannot read; one process per file only if the whole bundle fails.
  const bundle = join(dir, 'roots.pem');
  const writeBundle = (list: string[]) => writeFileSync(bundle, list.map((file) => readFileSync(file, 'utf8').trim() + '\n').join(''));
  writeBundle(files);
  let readable = files;
  if (run('openssl', ['crl2pkcs7', '-nocrl', '-certfile', bundle]).status !== 0) {
    readable = files.filter((file) => run('openssl', ['x509', '-noout', '-in', file]).status === 0);
    writeBundle(readable);
  }
  assert.ok(readable.length >= 100, `only ${readable.length} roots`);
  const ours = readable.flatMap((file) => parseCertificateChain(readFileSync(file, 'utf8')));
  const theirs = opensslFacts(bundle);
  assert.equal(ours.length, theirs.length);
  ours.forEach((cert, i) => assert.deepEqual(ourFacts(cert), theirs[i], `${readable[i]}`));
  // The roots exercise what the fixtures cannot: pre-2000 UTCTime, T61/BMP strings, RSA and P-384 keys.
  assert.ok(ours.some((cert) => cert.notBefore.getUTCFullYear() < 2000));
  assert.ok(ours.some((cert) => cert.publicJwk?.kty === 'RSA') && ours.some((cert) => cert.publicJwk?.kty === 'EC'));
});

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
utf8 = yes
[dn]
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign
subjectKeyIdentifier = hash
[leaf]
subjectAltName = DNS:www.example.com, DNS:*.example.com, IP:192.0.2.10, IP:2001:db8::a:0:0:1
authorityKeyIdentifier = keyid
basicConstraints = CA:false
`;

test('a chain that openssl makes (CA, leaf with DNS and IP SANs past 2050, a v1 with a negative serial) reads as openssl reads it', async () => {
  const file = (name: string) => join(dir, name);
  writeFileSync(file('openssl.cnf'), OPENSSL_CONFIG);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('ca.key')]);
  openssl(['req', '-x509', '-new', '-key', file('ca.key'), '-config', file('openssl.cnf'), '-extensions', 'ca', '-days', '3650',
    '-subj', '/O=Chain Test/CN=Chain Test Root, Ünïcode \\+ more', '-out', file('ca.pem')]);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file('leaf.key')]);
  openssl(['req', '-new', '-key', file('leaf.key'), '-config', file('openssl.cnf'), '-subj', '/CN=www.example.com', '-out', file('leaf.csr')]);
  // 10,000 days from now is past 2050, where RFC 5280 §4.1.2.5 switches to GeneralizedTime.
  openssl(['x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-set_serial', '0x00ff0102030405060708',
    '-days', '10000', '-extfile', file('openssl.cnf'), '-extensions', 'leaf', '-out', file('leaf.pem')]);
  openssl(['x509', '-req', '-in', file('leaf.csr'), '-key', file('leaf.key'), '-set_serial', '-0x1234abcd', '-days', '30', '-out', file('v1.pem')]);
  const chainText = ['leaf.pem', 'ca.pem', 'v1.pem'].map((name) => readFileSync(file(name), 'utf8')).join('');
  writeFileSync(file('chain.pem'), chainText);

  const [leaf, ca, v1] = parseCertificateChain(chainText) as [CertificateInfo, CertificateInfo, CertificateInfo];
  assert.deepEqual([leaf, ca, v1].map(ourFacts), opensslFacts(file('chain.pem')));
  assert.ok(leaf.notAfter.getUTCFullYear() > 2050);
  assert.equal(ca.subjectCn, 'Chain Test Root, Ünïcode + more');
  assert.equal(leaf.serialHex, 'ff0102030405060708');
  assert.deepEqual(leaf.serialBytes, new Uint8Array([0, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]));
  assert.equal(signedValue(v1.serialBytes), -0x1234abcdn);
  assert.deepEqual(leaf.authorityKeyIdentifier, ca.subjectKeyIdentifier);
  assert.deepEqual(leaf.ipAddresses, ['192.0.2.10', '2001:db8::a:0:0:1']); // RFC 5952 §4.2.3: the first of two equal runs

  const leafKey = await crypto.subtle.importKey('spki', Buffer.from(openssl(['pkey', '-in', file('leaf.key'), '-pubout']).replace(/-----[^-]+-----|\s/g, ''), 'base64'),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, ['verify']);
  const { n, e } = await crypto.subtle.exportKey('jwk', leafKey);
  assert.equal(certificateMatchesKey(leaf, { kty: 'RSA', n: n!, e: e! }), true);
  assert.equal(certificateMatchesKey(v1, { kty: 'RSA', n: n!, e: e! }), true);
  assert.equal(certificateMatchesKey(ca, { kty: 'RSA', n: n!, e: e! }), false);
  assert.deepEqual(compareIdentifiers(identifiersOf(leaf), normalizeIdentifiers(['www.example.com', '*.example.com', '192.0.2.10', '2001:db8:0:0:a:0:0:1'])), { missing: [], extra: [] });
});
