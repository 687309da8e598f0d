// Private keys as users hold them on disk: PEM in PKCS#8 (RFC 5208/5958), PKCS#1 (RFC 8017 §A.1.2) and SEC1
// (RFC 5915), or a private JWK as JSON text; and PKCS#8 PEM out, as openssl writes it.

import type { EcCurve, EcPrivateJwk, PrivateJwk, RsaPrivateJwk } from './engine.ts';
import type { AcmeKey, KeyOptions } from './keys.ts';
import { keyFromJwk, unsupportedKeyError } from './keys.ts';
import type { PemBlock } from './encoding.ts';
import { base64UrlDecode, base64UrlEncode, pemDecodeAll, pemEncode } from './encoding.ts';
import type { DerNode } from './_der.ts';
import {
  bitStringBytes, derBitString, derExplicit, derOctetString, derSequence, derSmallInteger, derUnsignedInteger, encodeDer,
  explicitTagged, octetString, parseDer, sequenceOf, smallInteger, unsignedInteger,
} from './_der.ts';
import { curveOfCoordinateLength, ecParametersCurve, ecPointOfJwk, ecPublicJwkFromPoint, ecScalarBytes, keyAlgorithmIdentifier, keyAlgorithmOf } from './spki.ts';

const PRIVATE_KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'];

// What other PEM blocks are, so that a refusal names what the user handed in (RFC 7468 §5-§11 and openssl's labels).
const OTHER_LABELS: Record<string, string> = {
  'PUBLIC KEY': 'a public key',
  'RSA PUBLIC KEY': 'a public key',
  CERTIFICATE: 'a certificate',
  'TRUSTED CERTIFICATE': 'a certificate',
  'X509 CERTIFICATE': 'a certificate',
  'CERTIFICATE REQUEST': 'a certificate request',
  'NEW CERTIFICATE REQUEST': 'a certificate request',
  'X509 CRL': 'a certificate revocation list',
  'EC PARAMETERS': 'EC parameters only',
};

/** RFC 1421 §4.6.1.1 "Proc-Type: 4,ENCRYPTED" marks openssl's legacy encrypted PEM. */
function isEncrypted(block: PemBlock): boolean {
  return block.label === 'ENCRYPTED PRIVATE KEY' || /ENCRYPTED/i.test(block.headers['Proc-Type'] ?? '');
}

/** RFC 8017 §A.1.2 RSAPrivateKey; version 1 means more than two primes, which JWK can carry but engines cannot. */
function rsaJwkFromPkcs1(der: Uint8Array): RsaPrivateJwk {
  const what = 'RSA private key';
  const items = sequenceOf(parseDer(der, what), what, 9);
  if (smallInteger(items[0], `${what} version`) !== 0) throw unsupportedKeyError('RSA with more than two primes');
  const [n, e, d, p, q, dp, dq, qi] = ['modulus', 'public exponent', 'private exponent', 'prime 1', 'prime 2', 'exponent 1', 'exponent 2', 'coefficient'].map(
    (name, i) => base64UrlEncode(unsignedInteger(items[i + 1], `${what} ${name}`)),
  );
  return { kty: 'RSA', n: n!, e: e!, d: d!, p: p!, q: q!, dp: dp!, dq: dq!, qi: qi! };
}

/**
 * RFC 5915 §3 ECPrivateKey. Inside PKCS#8 the curve comes from the algorithm identifier; alone (SEC1 "EC PRIVATE KEY")
 * from [0]. The public point [1] is optional, and is derived from the private scalar when it is absent.
 */
async function ecJwkFromSec1(der: Uint8Array, outerCurve?: EcCurve): Promise<EcPrivateJwk> {
  const what = 'EC private key';
  const items = sequenceOf(parseDer(der, what), what, 2, 4);
  if (smallInteger(items[0], `${what} version`) !== 1) throw new SyntaxError(`Cannot parse ${what}: version is not 1`);
  const parameters = explicitTagged(items, 0, what);
  const innerCurve = parameters ? ecParametersCurve(parameters, what) : undefined;
  if (outerCurve && innerCurve && outerCurve !== innerCurve) {
    throw new SyntaxError(`Cannot parse ${what}: the key says ${innerCurve} but its algorithm says ${outerCurve}`);
  }
  const scalar = octetString(items[1], `${what} scalar`);
  const point = explicitTagged(items, 1, what);
  const pointBytes = point ? bitStringBytes(point, `${what} public key`) : undefined;
  // Without parameters the lengths still tell the two curves apart: SEC1 §C.4 fixes the scalar's length.
  const crv = outerCurve ?? innerCurve ?? curveOfCoordinateLength(pointBytes?.[0] === 4 ? (pointBytes.length - 1) / 2 : scalar.length);
  if (!crv) throw new SyntaxError(`Cannot parse ${what}: it names no curve, and a ${scalar.length}-byte key fits neither P-256 nor P-384`);
  const d = ecScalarBytes(crv, scalar, what);
  // A compressed point would need the curve arithmetic anyway, so it is recomputed like a missing one.
  const publicJwk =
    pointBytes && pointBytes[0] === 4
      ? ecPublicJwkFromPoint(crv, pointBytes, what)
      : (await import('./engine-noble.ts')).ecPublicJwkFromPrivate(crv, d);
  return { ...publicJwk, d: base64UrlEncode(d) };
}

/** RFC 5958 §2 OneAsymmetricKey (PKCS#8 v1 and v2): version, algorithm, key, then optional attributes and public key. */
function pkcs8Parts(der: Uint8Array): { algorithm: DerNode; key: Uint8Array } {
  const what = 'PKCS#8 private key';
  const items = sequenceOf(parseDer(der, what), what, 3, 5);
  const version = smallInteger(items[0], `${what} version`);
  if (version > 1) throw new SyntaxError(`Cannot parse ${what}: unknown version ${version}`);
  return { algorithm: items[1]!, key: octetString(items[2], `${what} key`) };
}

async function jwkFromPem(block: PemBlock): Promise<PrivateJwk> {
  if (block.label === 'RSA PRIVATE KEY') return rsaJwkFromPkcs1(block.der);
  if (block.label === 'EC PRIVATE KEY') return ecJwkFromSec1(block.der);
  const { algorithm, key } = pkcs8Parts(block.der);
  const keyAlgorithm = keyAlgorithmOf(algorithm, 'PKCS#8 private key');
  return keyAlgorithm.kty === 'RSA' ? rsaJwkFromPkcs1(key) : ecJwkFromSec1(key, keyAlgorithm.crv);
}

function describeBlocks(blocks: PemBlock[]): string {
  const labels = [...new Set(blocks.map((block) => block.label))];
  const known = labels.map((label) => OTHER_LABELS[label]).filter((kind) => kind !== undefined);
  const quoted = labels.map((label) => `"${label}"`).join(', ');
  return known.length > 0 ? `${known[0]} (${quoted})` : `PEM ${quoted}`;
}

function jwkFromJson(text: string): PrivateJwk {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(`Cannot import key: the text starts like JSON but does not parse (${(error as Error).message})`);
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new TypeError('Cannot import key: the JSON is not a JWK object');
  const fields = jwk as Record<string, unknown>;
  if (Array.isArray(fields.keys)) throw new TypeError('Cannot import key: found a JWK set, expected one private JWK');
  if (fields.kty === 'RSA' || fields.kty === 'EC') {
    if (fields.d === undefined) throw new TypeError(`Cannot import key: found a public ${fields.kty} JWK, expected a private key`);
  } else if (fields.kty === undefined) {
    throw new TypeError('Cannot import key: the JSON has no "kty", so it is not a JWK');
  }
  return jwk as PrivateJwk;
}

/**
 * A private key from PEM or JWK text; keys ACME CAs refuse are refused here, naming what was found.
 *
 * @example
 * ```ts
 * import { importKey } from "@acmets/acme-client";
 * declare const keyPem: string; // PEM or JWK text, read the way your runtime reads files
 * const key = await importKey(keyPem);
 * console.log(key.type);
 * ```
 */
export async function importKey(text: string, options: KeyOptions = {}): Promise<AcmeKey> {
  if (typeof text !== 'string') throw new TypeError(`Cannot import key: expected text, got ${typeof text}`);
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return keyFromJwk(jwkFromJson(trimmed), options);
  if (!trimmed.includes('-----BEGIN')) {
    throw new SyntaxError(
      trimmed.length === 0 ? 'Cannot import key: the text is empty' : 'Cannot import key: found neither a PEM block nor a JSON Web Key',
    );
  }
  const blocks = pemDecodeAll(trimmed);
  const encrypted = blocks.find(isEncrypted);
  if (encrypted) {
    const marker = encrypted.label === 'ENCRYPTED PRIVATE KEY' ? '' : ` with "Proc-Type: ${encrypted.headers['Proc-Type']}"`;
    throw new TypeError(`Cannot import key: "${encrypted.label}"${marker} is encrypted; decrypt it first ("openssl pkey -in FILE -out PLAIN")`);
  }
  const block = blocks.find((candidate) => PRIVATE_KEY_LABELS.includes(candidate.label));
  if (!block) {
    if (blocks.some((candidate) => candidate.label === 'DSA PRIVATE KEY')) throw unsupportedKeyError('DSA');
    if (blocks.some((candidate) => candidate.label === 'OPENSSH PRIVATE KEY')) {
      throw new TypeError('Cannot import key: found an OpenSSH private key ("OPENSSH PRIVATE KEY"); rewrite it as PKCS#8 with "ssh-keygen -p -m PKCS8 -f FILE"');
    }
    throw new TypeError(`Cannot import key: found ${describeBlocks(blocks)}, expected a private key`);
  }
  return keyFromJwk(await jwkFromPem(block), options);
}

/**
 * PKCS#8 (RFC 5208 §5) with the SEC1 public point included, the form `openssl genpkey` writes.
 *
 * @example
 * ```ts
 * import { exportPkcs8Pem, generateKey } from "@acmets/acme-client";
 * const pem = exportPkcs8Pem(await generateKey("ec256"));
 * console.log(pem.startsWith("-----BEGIN PRIVATE KEY-----")); // true
 * ```
 */
export function exportPkcs8Pem(key: AcmeKey): string {
  const jwk = key.privateJwk;
  const inner =
    jwk.kty === 'RSA'
      ? derSequence(derSmallInteger(0), ...[jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map((v) => derUnsignedInteger(base64UrlDecode(v))))
      : derSequence(
          derSmallInteger(1),
          derOctetString(ecScalarBytes(jwk.crv, base64UrlDecode(jwk.d), 'EC JWK')),
          derExplicit(1, derBitString(ecPointOfJwk(jwk))),
        );
  return pemEncode('PRIVATE KEY', encodeDer(derSequence(derSmallInteger(0), keyAlgorithmIdentifier(jwk), derOctetString(encodeDer(inner)))));
}
