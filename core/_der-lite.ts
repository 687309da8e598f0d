// A small strict DER walker that reads a certificate's serial, validity, subjectAltName and authority key identifier
// without asn1js. The CLI's daily run needs only these fields (the last two for ARI, RFC 9773 §4.1), and loading
// asn1js alone cost it 10-15 ms of a ~40 ms start (measured).

import { ipFromBytes } from './names.ts';

/** One DER element: its tag octet and where its content lies in the buffer. */
interface Element {
  tag: number;
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
const CONTEXT_0 = 0xa0; // [0] EXPLICIT version
const CONTEXT_3 = 0xa3; // [3] EXPLICIT extensions
const DNS_NAME = 0x82; // GeneralName [2] IMPLICIT IA5String
const IP_ADDRESS = 0x87; // GeneralName [7] IMPLICIT OCTET STRING
const KEY_IDENTIFIER = 0x80; // AuthorityKeyIdentifier keyIdentifier [0] IMPLICIT OCTET STRING
/** 2.5.29.17 (RFC 5280 §4.2.1.6) as its content octets. */
const SUBJECT_ALT_NAME_OID = [0x55, 0x1d, 0x11];
/** 2.5.29.35 (RFC 5280 §4.2.1.1). */
const AUTHORITY_KEY_IDENTIFIER_OID = [0x55, 0x1d, 0x23];

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
  return { tag, start, end: start + length };
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
