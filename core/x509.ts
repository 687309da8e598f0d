// Reading X.509 certificates (RFC 5280) for what renewal, ARI and download checks need: names, validity,
// serial, key identifiers and the public key. Signatures are not checked here; TLS clients do that.

import * as asn1js from 'asn1js';
import type { DerNode } from './_der.ts';
import { explicitTagged, octetString, parseDer, sequenceOf, smallInteger } from './_der.ts';
import {
  OID_AUTHORITY_KEY_IDENTIFIER, OID_SUBJECT_ALT_NAME, OID_SUBJECT_KEY_IDENTIFIER, commonNameOf, extensionsOf, primitiveBytes, readSubjectAltName,
} from './_pkix.ts';
import { bytesEqual, hexEncode, pemDecodeAll } from './encoding.ts';
import type { PublicJwk } from './engine.ts';
import { publicKeyFromSpki, spkiFromPublicJwk } from './spki.ts';

/**
 * The fields of an X.509 certificate (RFC 5280) that issuing and renewing need.
 *
 * @example
 * ```ts
 * import { parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [leaf] = parseCertificateChain(certificatePem);
 * console.log(leaf!.dnsNames, leaf!.notAfter, leaf!.issuerCn);
 * ```
 */
export interface CertificateInfo {
  /** The certificate's DER bytes. */
  der: Uint8Array<ArrayBuffer>;
  /** The subject's common name, when there is one. */
  subjectCn?: string;
  /** The issuer's common name, which --preferred-chain matches. */
  issuerCn?: string;
  /**
   * The serial number in lowercase hex without the 00 sign byte DER puts before a high bit (as openssl prints
   * it, and as Pebble's management API takes it). A non-conforming negative serial keeps its two's-complement bytes.
   */
  serialHex: string;
  /** The INTEGER's content octets as encoded, sign byte included: ARI's certificate identifier needs these (RFC 9773 §4.1). */
  serialBytes: Uint8Array<ArrayBuffer>;
  /** The start of validity. */
  notBefore: Date;
  /** The end of validity. */
  notAfter: Date;
  /** The subjectAltName's DNS names, as written there. */
  dnsNames: string[];
  /** Canonical text, as names.ts writes it. */
  ipAddresses: string[];
  /** The keyIdentifier of the authority key identifier extension (RFC 5280 §4.2.1.1). */
  authorityKeyIdentifier?: Uint8Array<ArrayBuffer>;
  /** The subject key identifier extension (RFC 5280 §4.2.1.2). */
  subjectKeyIdentifier?: Uint8Array<ArrayBuffer>;
  /** Undefined for key types that ACME certificate keys cannot have, such as Ed25519 or P-521 roots. */
  publicJwk?: PublicJwk;
}

/**
 * Reads one DER certificate, strictly: a malformed one is a SyntaxError naming the field.
 *
 * @example
 * ```ts
 * import { parseCertificate } from "@acmets/acme-client";
 * declare const certificateDer: Uint8Array; // e.g. pemDecode(text).der
 * const info = parseCertificate(certificateDer);
 * console.log(info.serialHex);
 * ```
 */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  const [tbs] = sequenceOf(parseDer(der, 'certificate'), 'certificate', 3, 3);
  const fields = sequenceOf(tbs, 'tbsCertificate', 6, 10);
  // RFC 5280 §4.1.2.1: version is [0] EXPLICIT with DEFAULT v1, so a v1 certificate starts with its serial.
  const hasVersion = fields[0]!.idBlock.tagClass === 3 && fields[0]!.idBlock.tagNumber === 0;
  const version = hasVersion ? smallInteger(explicitTagged(fields, 0, 'tbsCertificate version'), 'tbsCertificate version') : 0;
  if (version > 2) throw new SyntaxError(`Cannot parse certificate: version ${version + 1} is unknown`);
  const [serialNode, , issuer, validity, subject, spki, ...rest] = fields.slice(hasVersion ? 1 : 0);
  if (!spki) throw new SyntaxError('Cannot parse tbsCertificate: fields are missing');
  const [notBefore, notAfter] = sequenceOf(validity, 'certificate validity', 2, 2);

  const info: CertificateInfo = {
    der: der.slice(),
    serialHex: '',
    serialBytes: serialBytesOf(serialNode!),
    notBefore: timeOf(notBefore!, 'certificate notBefore'),
    notAfter: timeOf(notAfter!, 'certificate notAfter'),
    dnsNames: [],
    ipAddresses: [],
  };
  info.serialHex = serialHexOf(info.serialBytes);
  const subjectCn = commonNameOf(subject!, 'certificate subject');
  if (subjectCn !== undefined) info.subjectCn = subjectCn;
  const issuerCn = commonNameOf(issuer!, 'certificate issuer');
  if (issuerCn !== undefined) info.issuerCn = issuerCn;
  try {
    info.publicJwk = publicKeyFromSpki(spki.valueBeforeDecodeView);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }

  const extensionsNode = explicitTagged(rest, 3, 'certificate extensions');
  if (extensionsNode) {
    const extensions = extensionsOf(extensionsNode, 'certificate');
    const san = extensions.get(OID_SUBJECT_ALT_NAME);
    const sanNames = san ? readSubjectAltName(san.value, 'certificate').names : [];
    info.dnsNames = sanNames.filter((name) => name.type === 'dns').map((name) => name.value);
    info.ipAddresses = sanNames.filter((name) => name.type === 'ip').map((name) => name.value);
    const aki = extensions.get(OID_AUTHORITY_KEY_IDENTIFIER);
    if (aki) {
      const keyIdentifier = sequenceOf(parseDer(aki.value, 'certificate authorityKeyIdentifier'), 'certificate authorityKeyIdentifier')
        .find((item) => item.idBlock.tagClass === 3 && item.idBlock.tagNumber === 0);
      // keyIdentifier [0] IMPLICIT OCTET STRING
      if (keyIdentifier) info.authorityKeyIdentifier = primitiveBytes(keyIdentifier, 'certificate authorityKeyIdentifier').slice();
    }
    const ski = extensions.get(OID_SUBJECT_KEY_IDENTIFIER);
    if (ski) info.subjectKeyIdentifier = octetString(parseDer(ski.value, 'certificate subjectKeyIdentifier'), 'certificate subjectKeyIdentifier');
  }
  return info;
}

/**
 * Every certificate in a PEM chain (leaf first, as RFC 8555 §7.4.2 serves it); any other PEM block is refused.
 *
 * @example
 * ```ts
 * import { parseCertificateChain } from "@acmets/acme-client";
 * declare const fullchainPem: string; // the text of fullchain.pem
 * const chain = parseCertificateChain(fullchainPem);
 * console.log(chain.map((certificate) => certificate.subjectCn));
 * ```
 */
export function parseCertificateChain(pemText: string): CertificateInfo[] {
  return pemDecodeAll(pemText).map((block, i) => {
    if (block.label !== 'CERTIFICATE') throw new SyntaxError(`Cannot parse certificate chain: block ${i + 1} is "${block.label}", not "CERTIFICATE"`);
    return parseCertificate(block.der);
  });
}

function serialBytesOf(node: DerNode): Uint8Array<ArrayBuffer> {
  if (!(node instanceof asn1js.Integer)) throw new SyntaxError('Cannot parse certificate serialNumber: expected INTEGER');
  const bytes = node.valueBlock.valueHexView;
  if (bytes.length === 0) throw new SyntaxError('Cannot parse certificate serialNumber: the INTEGER is empty');
  return bytes.slice();
}

function serialHexOf(bytes: Uint8Array): string {
  return hexEncode(bytes.length > 1 && bytes[0] === 0 ? bytes.subarray(1) : bytes);
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/;

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY below 50 is 20YY) or GeneralizedTime YYYYMMDDHHMMSSZ. */
function timeOf(node: DerNode, what: string): Date {
  const { tagClass, tagNumber } = node.idBlock;
  const isUtc = tagClass === 1 && tagNumber === 23;
  if (!isUtc && !(tagClass === 1 && tagNumber === 24)) throw new SyntaxError(`Cannot parse ${what}: expected UTCTime or GeneralizedTime`);
  const text = String.fromCharCode(...primitiveBytes(node, what));
  const match = (isUtc ? UTC_TIME : GENERALIZED_TIME).exec(text);
  if (!match) throw new SyntaxError(`Cannot parse ${what}: ${JSON.stringify(text)} is not a ${isUtc ? 'UTCTime YYMMDDHHMMSSZ' : 'GeneralizedTime YYYYMMDDHHMMSSZ'}`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const fullYear = isUtc ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const date = new Date(Date.UTC(fullYear, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new SyntaxError(`Cannot parse ${what}: ${JSON.stringify(text)} is not a real date and time`);
  }
  return date;
}

/**
 * Whether the certificate is for this public key; a CA's certificate for some other key must not be installed.
 *
 * @example
 * ```ts
 * import { certificateMatchesKey, importKey, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [leaf] = parseCertificateChain(certificatePem);
 * declare const keyPem: string; // the text of privkey.pem
 * const key = await importKey(keyPem);
 * console.log(certificateMatchesKey(leaf!, key.publicJwk));
 * ```
 */
export function certificateMatchesKey(cert: CertificateInfo, publicJwk: PublicJwk): boolean {
  return cert.publicJwk !== undefined && bytesEqual(spkiFromPublicJwk(cert.publicJwk), spkiFromPublicJwk(publicJwk));
}

