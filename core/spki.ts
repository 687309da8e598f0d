// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) to and from public JWKs, and the key algorithm identifiers
// that SPKI, PKCS#8 and SEC1 share (RFC 3279 §2.3, RFC 5480 §2.1.1).

import type { EcCurve, EcPublicJwk, PublicJwk } from './engine.ts';
import { unsupportedKeyError } from './keys.ts';
import { base64UrlDecode, base64UrlEncode } from './encoding.ts';
import type { DerNode } from './_der.ts';
import {
  bitStringBytes, derBitString, derNull, derObjectIdentifier, derSequence, derUnsignedInteger, encodeDer, isNull, isSequence,
  objectIdentifier, parseDer, sequenceOf, unsignedInteger,
} from './_der.ts';

const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
/** RFC 5480 §2.1.1.1 named curves. */
const CURVE_OIDS: Record<EcCurve, string> = { 'P-256': '1.2.840.10045.3.1.7', 'P-384': '1.3.132.0.34' };
/** Bytes in a coordinate, in a private scalar and in each half of an ECDSA r||s (RFC 7518 §6.2.1.2, §6.2.2.1, §3.4). */
export const COORDINATE_LENGTH: Record<EcCurve, number> = { 'P-256': 32, 'P-384': 48 };

// Key algorithms and curves people do hold keys for, so a refusal can name them.
const OTHER_ALGORITHMS: Record<string, string> = {
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.2.840.10040.4.1': 'DSA',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10046.2.1': 'DH',
  '1.2.840.113549.1.3.1': 'DH',
  '1.2.156.10197.1.301': 'SM2',
};
const OTHER_CURVES: Record<string, string> = {
  '1.3.132.0.35': 'P-521',
  '1.2.840.10045.3.1.1': 'P-192',
  '1.3.132.0.33': 'P-224',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
};

export type KeyAlgorithm = { kty: 'RSA' } | { kty: 'EC'; crv: EcCurve };

function curveOfOid(oid: string): EcCurve {
  const crv = (Object.keys(CURVE_OIDS) as EcCurve[]).find((name) => CURVE_OIDS[name] === oid);
  if (!crv) throw unsupportedKeyError(`EC ${OTHER_CURVES[oid] ?? `curve ${oid}`}`);
  return crv;
}

/** EC domain parameters (RFC 5480 §2.1.1): only a named curve; explicit parameters are refused with the fix. */
export function ecParametersCurve(node: DerNode | undefined, what: string): EcCurve {
  if (isSequence(node)) {
    throw unsupportedKeyError('EC with explicit curve parameters', 'rewrite it with "openssl ec -param_enc named_curve"');
  }
  return curveOfOid(objectIdentifier(node, `${what} curve`));
}

/** An AlgorithmIdentifier (RFC 5280 §4.1.1.2) as a key algorithm, refusing any that ACME CAs do not take. */
export function keyAlgorithmOf(node: DerNode | undefined, what: string): KeyAlgorithm {
  const [algorithm, parameters] = sequenceOf(node, `${what} algorithm`, 1, 2);
  const oid = objectIdentifier(algorithm, `${what} algorithm`);
  if (oid === OID_RSA_ENCRYPTION) return { kty: 'RSA' };
  if (oid === OID_EC_PUBLIC_KEY) return { kty: 'EC', crv: ecParametersCurve(parameters, what) };
  throw unsupportedKeyError(OTHER_ALGORITHMS[oid] ?? `algorithm ${oid}`);
}

export function keyAlgorithmIdentifier(jwk: PublicJwk): DerNode {
  // RFC 3279 §2.3.1: rsaEncryption takes a NULL parameter; RFC 5480 §2.1.1: ecPublicKey takes the named curve.
  return jwk.kty === 'RSA'
    ? derSequence(derObjectIdentifier(OID_RSA_ENCRYPTION), derNull())
    : derSequence(derObjectIdentifier(OID_EC_PUBLIC_KEY), derObjectIdentifier(CURVE_OIDS[jwk.crv]));
}

/** The curve whose coordinates are `size` bytes long; P-256 and P-384 differ in that. */
export function curveOfCoordinateLength(size: number): EcCurve | undefined {
  return (Object.keys(COORDINATE_LENGTH) as EcCurve[]).find((crv) => COORDINATE_LENGTH[crv] === size);
}

/** SEC1 §2.3.3 uncompressed point 04||x||y; compressed points are for the caller to expand. */
export function ecPublicJwkFromPoint(crv: EcCurve, point: Uint8Array, what: string): EcPublicJwk {
  const size = COORDINATE_LENGTH[crv];
  if (point[0] === 2 || point[0] === 3) throw new RangeError(`Cannot read ${what}: the EC point is compressed`);
  if (point.length !== 1 + 2 * size || point[0] !== 4) {
    throw new SyntaxError(`Cannot parse ${what}: not an uncompressed ${crv} point (${point.length} bytes)`);
  }
  return { kty: 'EC', crv, x: base64UrlEncode(point.subarray(1, 1 + size)), y: base64UrlEncode(point.subarray(1 + size)) };
}

export function ecPointOfJwk(jwk: EcPublicJwk): Uint8Array<ArrayBuffer> {
  const size = COORDINATE_LENGTH[jwk.crv];
  const x = base64UrlDecode(jwk.x);
  const y = base64UrlDecode(jwk.y);
  if (x.length !== size || y.length !== size) throw new TypeError(`Cannot use JWK: ${jwk.crv} coordinates must be ${size} bytes`);
  const point = new Uint8Array(1 + 2 * size);
  point[0] = 4;
  point.set(x, 1);
  point.set(y, 1 + size);
  return point;
}

/** Fixed-length big-endian bytes, as JWK EC coordinates and private scalars are (RFC 7518 §6.2.1.2, §6.2.2.1). */
export function ecScalarBytes(crv: EcCurve, bytes: Uint8Array, what: string): Uint8Array<ArrayBuffer> {
  const size = COORDINATE_LENGTH[crv];
  let start = 0;
  while (bytes.length - start > size && bytes[start] === 0) start++;
  if (bytes.length - start > size) throw new SyntaxError(`Cannot parse ${what}: the ${crv} private key is longer than ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(bytes.subarray(start), size - (bytes.length - start));
  return out;
}

/** RFC 8017 §A.1.1 RSAPublicKey: SEQUENCE { modulus, publicExponent }. */
function rsaPublicJwkFromDer(der: Uint8Array, what: string): PublicJwk {
  const [n, e] = sequenceOf(parseDer(der, `${what} RSA public key`), `${what} RSA public key`, 2, 2);
  return { kty: 'RSA', n: base64UrlEncode(unsignedInteger(n, `${what} modulus`)), e: base64UrlEncode(unsignedInteger(e, `${what} exponent`)) };
}

export function publicKeyFromSpki(der: Uint8Array): PublicJwk {
  const what = 'SubjectPublicKeyInfo';
  const [algorithmNode, keyNode] = sequenceOf(parseDer(der, what), what, 2, 2);
  const algorithm = keyAlgorithmOf(algorithmNode, what);
  const key = bitStringBytes(keyNode, `${what} key`);
  if (algorithm.kty === 'RSA') {
    const parameters = sequenceOf(algorithmNode, what)[1];
    if (parameters && !isNull(parameters)) throw new SyntaxError(`Cannot parse ${what}: rsaEncryption parameters must be NULL`);
    return rsaPublicJwkFromDer(key, what);
  }
  return ecPublicJwkFromPoint(algorithm.crv, key, what);
}

export function spkiFromPublicJwk(jwk: PublicJwk): Uint8Array<ArrayBuffer> {
  const key =
    jwk.kty === 'RSA'
      ? encodeDer(derSequence(derUnsignedInteger(base64UrlDecode(jwk.n)), derUnsignedInteger(base64UrlDecode(jwk.e))))
      : ecPointOfJwk(jwk);
  return encodeDer(derSequence(keyAlgorithmIdentifier(jwk), derBitString(key)));
}
