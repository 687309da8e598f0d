// A small strict DER walker that reads a certificate's serial, validity, subjectAltName and authority key identifier
// without asn1js, and tells whether a private key file holds the certificate's public key. The CLI's daily run needs
// only these (the AKI for ARI, RFC 9773 §4.1; the key to check the files it keeps), and loading asn1js alone cost it
// 10-15 ms of a ~40 ms start (measured).

import { ipFromBytes } from './names.ts';

/** One DER element: its tag octet and where its content lies in the buffer. */
interface Element {
  tag: number;
  /** Where its tag octet is. */
  offset: number;
  start: number;
  end: number;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const OBJECT_IDENTIFIER = 0x06;
const BOOLEAN = 0x01;
const OCTET_STRING = 0x04;
const BIT_STRING = 0x03;
const CONTEXT_1 = 0xa1; // ECPrivateKey's [1] publicKey (RFC 5915 §3)
const CONTEXT_0 = 0xa0; // [0] EXPLICIT version
const CONTEXT_3 = 0xa3; // [3] EXPLICIT extensions
const DNS_NAME = 0x82; // GeneralName [2] IMPLICIT IA5String
const IP_ADDRESS = 0x87; // GeneralName [7] IMPLICIT OCTET STRING
const KEY_IDENTIFIER = 0x80; // AuthorityKeyIdentifier keyIdentifier [0] IMPLICIT OCTET STRING
/** 2.5.29.17 (RFC 5280 §4.2.1.6) as its content octets. */
const SUBJECT_ALT_NAME_OID = [0x55, 0x1d, 0x11];
/** 2.5.29.35 (RFC 5280 §4.2.1.1). */
const AUTHORITY_KEY_IDENTIFIER_OID = [0x55, 0x1d, 0x23];
/** rsaEncryption 1.2.840.113549.1.1.1 and id-ecPublicKey 1.2.840.10045.2.1 as content octets (RFC 8017, RFC 5480). */
const RSA_ENCRYPTION_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY_OID = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

export interface CertificateSummary {
  /** The serialNumber INTEGER's content octets, a leading zero included, as DER has them (RFC 9773 §4.1). */
  serialBytes: Uint8Array;
  /** The authority key identifier's keyIdentifier, when the certificate has one. */
  authorityKeyIdentifier?: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

function fail(reason: string): never {
  throw new SyntaxError(`Cannot parse certificate: ${reason}`);
}

/** The element at `offset`, which must end by `limit`; lengths must be minimal (X.690 §10.1). */
function elementAt(der: Uint8Array, offset: number, limit: number): Element {
  if (offset + 2 > limit) fail('truncated DER');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('multi-octet tags are not used in certificates');
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > limit) fail('bad DER length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    if (length < 0x80 || der[start] === 0) fail('DER length is not minimal');
    start += octets;
  }
  if (start + length > limit) fail('truncated DER');
  return { tag, offset, start, end: start + length };
}

function childrenOf(der: Uint8Array, parent: Element): Element[] {
  const children: Element[] = [];
  for (let offset = parent.start; offset < parent.end; offset = children[children.length - 1]!.end) {
    children.push(elementAt(der, offset, parent.end));
  }
  return children;
}

function expect(element: Element | undefined, tag: number, what: string): Element {
  if (!element || element.tag !== tag) fail(`${what} is missing or has the wrong type`);
  return element;
}

/** UTCTime YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: YY < 50 is 20YY) or GeneralizedTime YYYYMMDDHHMMSSZ (§4.1.2.5.2). */
function timeOf(der: Uint8Array, element: Element | undefined, what: string): Date {
  const text = element ? String.fromCharCode(...der.subarray(element.start, element.end)) : '';
  const match = element?.tag === UTC_TIME ? /^(\d\d)(\d{10})Z$/.exec(text) : element?.tag === GENERALIZED_TIME ? /^(\d{4})(\d{10})Z$/.exec(text) : null;
  if (!match) fail(`${what} is not a UTCTime or GeneralizedTime in UTC`);
  const year = match[1]!.length === 2 ? Number(match[1]) + (Number(match[1]) < 50 ? 2000 : 1900) : Number(match[1]);
  const [month, day, hour, minute, second] = match[2]!.match(/\d\d/g)!.map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) fail(`${what} is not a valid date`);
  return date;
}

function sameBytes(der: Uint8Array, element: Element, bytes: readonly number[]): boolean {
  return element.end - element.start === bytes.length && bytes.every((byte, i) => der[element.start + i] === byte);
}

/** Serial, validity, subjectAltName names and AKI of an X.509 certificate (RFC 5280 §4.1), read straight from its DER. */
export function readCertificateSummary(der: Uint8Array): CertificateSummary {
  const certificate = elementAt(der, 0, der.length);
  if (certificate.tag !== SEQUENCE || certificate.end !== der.length) fail('not one DER SEQUENCE');
  const tbs = childrenOf(der, expect(childrenOf(der, certificate)[0], SEQUENCE, 'tbsCertificate'));
  // version [0], serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then optional fields.
  const fields = tbs[0]?.tag === CONTEXT_0 ? tbs.slice(1) : tbs;
  const serial = expect(fields[0], INTEGER, 'serialNumber');
  if (serial.end === serial.start) fail('serialNumber is empty');
  const [notBefore, notAfter] = childrenOf(der, expect(fields[3], SEQUENCE, 'validity'));
  const summary: CertificateSummary = {
    serialBytes: der.slice(serial.start, serial.end),
    notBefore: timeOf(der, notBefore, 'notBefore'),
    notAfter: timeOf(der, notAfter, 'notAfter'),
    dnsNames: [],
    ipAddresses: [],
  };
  const extensionsWrapper = fields.slice(6).find((field) => field.tag === CONTEXT_3);
  if (!extensionsWrapper) return summary;
  for (const extension of childrenOf(der, expect(childrenOf(der, extensionsWrapper)[0], SEQUENCE, 'extensions'))) {
    const parts = childrenOf(der, expect(extension, SEQUENCE, 'an extension'));
    const id = expect(parts[0], OBJECT_IDENTIFIER, 'an extension id');
    const isSan = sameBytes(der, id, SUBJECT_ALT_NAME_OID);
    if (!isSan && !sameBytes(der, id, AUTHORITY_KEY_IDENTIFIER_OID)) continue;
    const what = isSan ? 'subjectAltName' : 'authorityKeyIdentifier';
    const value = expect(parts[1]?.tag === BOOLEAN ? parts[2] : parts[1], OCTET_STRING, `the ${what} value`);
    const inner = elementAt(der, value.start, value.end);
    if (inner.end !== value.end) fail(`bytes follow the ${what}`);
    if (!isSan) {
      const keyIdentifier = childrenOf(der, expect(inner, SEQUENCE, what)).find((field) => field.tag === KEY_IDENTIFIER);
      if (keyIdentifier) summary.authorityKeyIdentifier = der.slice(keyIdentifier.start, keyIdentifier.end);
      continue;
    }
    for (const name of childrenOf(der, expect(inner, SEQUENCE, what))) {
      const bytes = der.subarray(name.start, name.end);
      if (name.tag === DNS_NAME) {
        if (bytes.some((byte) => byte < 0x21 || byte > 0x7e)) fail('a dNSName is not printable ASCII');
        summary.dnsNames.push(String.fromCharCode(...bytes));
      } else if (name.tag === IP_ADDRESS) {
        if (bytes.length !== 4 && bytes.length !== 16) fail(`an iPAddress has ${bytes.length} octets (expected 4 or 16)`);
        summary.ipAddresses.push(ipFromBytes(bytes));
      }
    }
  }
  return summary;
}

/** A BIT STRING's bits, which in a key are whole octets (no unused bits). */
function bitStringBytes(der: Uint8Array, element: Element): Uint8Array {
  if (element.end === element.start || der[element.start] !== 0) fail('a key BIT STRING has unused bits');
  return der.subarray(element.start + 1, element.end);
}

/** The certificate's subjectPublicKey (RFC 5280 §4.1.2.7): an EC point, or an RSAPublicKey's DER. */
function subjectPublicKeyOf(der: Uint8Array): Uint8Array {
  const tbs = childrenOf(der, expect(childrenOf(der, elementAt(der, 0, der.length))[0], SEQUENCE, 'tbsCertificate'));
  const fields = tbs[0]?.tag === CONTEXT_0 ? tbs.slice(1) : tbs;
  return bitStringBytes(der, expect(childrenOf(der, expect(fields[5], SEQUENCE, 'subjectPublicKeyInfo'))[1], BIT_STRING, 'subjectPublicKey'));
}

/** An RSAPublicKey (RFC 8017 A.1.1) made of an RSAPrivateKey's modulus and public exponent, as they are in DER. */
function rsaPublicKeyOf(der: Uint8Array): Uint8Array {
  const [, modulus, exponent] = childrenOf(der, expect(elementAt(der, 0, der.length), SEQUENCE, 'RSAPrivateKey'));
  const body = der.subarray(expect(modulus, INTEGER, 'modulus').offset, expect(exponent, INTEGER, 'publicExponent').end);
  const length = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Uint8Array.of(SEQUENCE, ...length, ...body);
}

/** An ECPrivateKey's publicKey (RFC 5915 §3), which keys written by WebCrypto and openssl carry; undefined without it. */
function ecPublicKeyOf(der: Uint8Array): Uint8Array | undefined {
  const publicKey = childrenOf(der, expect(elementAt(der, 0, der.length), SEQUENCE, 'ECPrivateKey')).find((field) => field.tag === CONTEXT_1);
  return publicKey && bitStringBytes(der, expect(elementAt(der, publicKey.start, publicKey.end), BIT_STRING, 'publicKey'));
}

/**
 * Whether a private key (a PEM block's label and DER: PKCS#8, PKCS#1 or SEC1) is the key of a certificate, by the
 * public key both hold, without any crypto. undefined when this cannot tell: an EC key stored without its public
 * point, another algorithm, or DER this walker does not read.
 */
export function certificateHasKey(certificateDer: Uint8Array, label: string, keyDer: Uint8Array): boolean | undefined {
  try {
    let publicKey: Uint8Array | undefined;
    if (label === 'RSA PRIVATE KEY') publicKey = rsaPublicKeyOf(keyDer);
    else if (label === 'EC PRIVATE KEY') publicKey = ecPublicKeyOf(keyDer);
    else if (label === 'PRIVATE KEY') {
      // PrivateKeyInfo (RFC 5208 §5): version, privateKeyAlgorithm, privateKey.
      const [, algorithm, privateKey] = childrenOf(keyDer, expect(elementAt(keyDer, 0, keyDer.length), SEQUENCE, 'PrivateKeyInfo'));
      const oid = expect(childrenOf(keyDer, expect(algorithm, SEQUENCE, 'privateKeyAlgorithm'))[0], OBJECT_IDENTIFIER, 'the key algorithm');
      const inner = keyDer.subarray(expect(privateKey, OCTET_STRING, 'privateKey').start, privateKey!.end);
      if (sameBytes(keyDer, oid, RSA_ENCRYPTION_OID)) publicKey = rsaPublicKeyOf(inner);
      else if (sameBytes(keyDer, oid, EC_PUBLIC_KEY_OID)) publicKey = ecPublicKeyOf(inner);
    }
    if (!publicKey) return undefined;
    const certified = subjectPublicKeyOf(certificateDer);
    return certified.length === publicKey.length && certified.every((byte, i) => byte === publicKey![i]);
  } catch {
    return undefined;
  }
}
