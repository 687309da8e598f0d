// The PKIX pieces that CSRs and certificates share (RFC 5280): names, extensions, subjectAltName and TLS Feature,
// read strictly and written minimally, and the signature that wraps a signed structure. Private to core.

import * as asn1js from 'asn1js';
import type { DerNode } from './_der.ts';
import {
  derBitString, derNull, derObjectIdentifier, derOctetString, derSequence, derSmallInteger, derUnsignedInteger, encodeDer, objectIdentifier, octetString,
  parseDer, sequenceOf, smallInteger,
} from './_der.ts';
import { utf8Decode } from './encoding.ts';
import type { SignatureAlgorithm } from './engine.ts';
import { sign, type AcmeKey } from './keys.ts';
import type { Identifier } from './names.ts';
import { ipFromBytes, ipToBytes } from './names.ts';

const OID_COMMON_NAME = '2.5.4.3';
export const OID_SUBJECT_ALT_NAME = '2.5.29.17'; // RFC 5280 §4.2.1.6
export const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14'; // RFC 5280 §4.2.1.2
export const OID_AUTHORITY_KEY_IDENTIFIER = '2.5.29.35'; // RFC 5280 §4.2.1.1
export const OID_TLS_FEATURE = '1.3.6.1.5.5.7.1.24'; // RFC 7633 §6
/** RFC 7633 §4.2.1: the TLS extension number of status_request, which is what "must staple" asks for. */
const TLS_FEATURE_STATUS_REQUEST = 5;

const CONTEXT = 3; // ASN.1 tag class "context-specific" as asn1js numbers it
const GENERAL_NAME_DNS = 2;
const GENERAL_NAME_IP = 7;
const GENERAL_NAME_KINDS = ['otherName', 'rfc822Name', 'dNSName', 'x400Address', 'directoryName', 'ediPartyName', 'uniformResourceIdentifier', 'iPAddress', 'registeredID'];

/** The content octets of a primitive value, whatever its tag. */
export function primitiveBytes(node: DerNode, what: string): Uint8Array {
  const bytes = (node.valueBlock as { valueHexView?: Uint8Array }).valueHexView;
  if (node.idBlock.isConstructed || !bytes) throw new SyntaxError(`Cannot parse ${what}: expected a primitive value, found a constructed one`);
  return bytes;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function utf16be(bytes: Uint8Array, what: string): string {
  if (bytes.length % 2 !== 0) throw new SyntaxError(`Cannot parse ${what}: BMPString has an odd length`);
  let text = '';
  for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode((bytes[i]! << 8) | bytes[i + 1]!);
  return text;
}

function utf32be(bytes: Uint8Array, what: string): string {
  if (bytes.length % 4 !== 0) throw new SyntaxError(`Cannot parse ${what}: UniversalString length is not a multiple of 4`);
  let text = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const codePoint = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    if (codePoint > 0x10ffff) throw new SyntaxError(`Cannot parse ${what}: UniversalString holds U+${codePoint.toString(16)}`);
    text += String.fromCodePoint(codePoint);
  }
  return text;
}

/** DirectoryString (RFC 5280 §4.1.2.4) and the other string types old roots still use. */
function directoryString(node: DerNode, what: string): string {
  const { tagClass, tagNumber } = node.idBlock;
  const bytes = primitiveBytes(node, what);
  if (tagClass === 1) {
    if (tagNumber === 12) {
      try {
        return utf8Decode(bytes);
      } catch {
        throw new SyntaxError(`Cannot parse ${what}: UTF8String is not valid UTF-8`);
      }
    }
    // PrintableString, IA5String and VisibleString are ASCII; TeletexString is read as Latin-1, as most software does.
    if (tagNumber === 19 || tagNumber === 22 || tagNumber === 26 || tagNumber === 20) return latin1(bytes);
    if (tagNumber === 30) return utf16be(bytes, what);
    if (tagNumber === 28) return utf32be(bytes, what);
  }
  throw new SyntaxError(`Cannot parse ${what}: expected a string, found tag ${tagNumber} of class ${tagClass}`);
}

/** The first commonName in a Name (RDNSequence, RFC 5280 §4.1.2.4), if any. */
export function commonNameOf(name: DerNode, what: string): string | undefined {
  for (const rdn of sequenceOf(name, what)) {
    if (!(rdn instanceof asn1js.Set)) throw new SyntaxError(`Cannot parse ${what}: a relative distinguished name is not a SET`);
    for (const attribute of rdn.valueBlock.value) {
      const [type, value] = sequenceOf(attribute, `${what} attribute`, 2, 2);
      if (objectIdentifier(type, `${what} attribute type`) === OID_COMMON_NAME) return directoryString(value!, `${what} commonName`);
    }
  }
  return undefined;
}

/** A Name holding just a commonName, or the empty Name. */
export function derNameWithCommonName(commonName: string | undefined): DerNode {
  if (commonName === undefined) return derSequence();
  const attribute = derSequence(derObjectIdentifier(OID_COMMON_NAME), new asn1js.Utf8String({ value: commonName }));
  return derSequence(new asn1js.Set({ value: [attribute] }));
}

export interface Extension {
  critical: boolean;
  value: Uint8Array;
}

/** Extensions (RFC 5280 §4.1.2.9) by OID; a repeated extension is refused, as §4.2 forbids it. */
export function extensionsOf(node: DerNode, what: string): Map<string, Extension> {
  const extensions = new Map<string, Extension>();
  for (const extension of sequenceOf(node, what)) {
    const items = sequenceOf(extension, `${what} extension`, 2, 3);
    const oid = objectIdentifier(items[0], `${what} extension id`);
    let critical = false;
    if (items.length === 3) {
      if (!(items[1] instanceof asn1js.Boolean)) throw new SyntaxError(`Cannot parse ${what} extension ${oid}: "critical" is not a BOOLEAN`);
      critical = items[1].getValue();
    }
    if (extensions.has(oid)) throw new SyntaxError(`Cannot parse ${what}: extension ${oid} appears twice`);
    extensions.set(oid, { critical, value: octetString(items[items.length - 1], `${what} extension ${oid} value`) });
  }
  return extensions;
}

export function derExtension(oid: string, critical: boolean, value: Uint8Array): DerNode {
  // DER leaves out a BOOLEAN that equals its DEFAULT (X.690 §11.5), so only a critical flag is written.
  return critical
    ? derSequence(derObjectIdentifier(oid), new asn1js.Boolean({ value: true }), derOctetString(value))
    : derSequence(derObjectIdentifier(oid), derOctetString(value));
}

export interface SubjectAltNames {
  /** dNSName entries as written, iPAddress entries in canonical text (names.ts), in the extension's order. */
  names: Identifier[];
  /** The kinds of any other GeneralName, e.g. "rfc822Name". */
  otherKinds: string[];
}

export function readSubjectAltName(value: Uint8Array, what: string): SubjectAltNames {
  const names: SubjectAltNames = { names: [], otherKinds: [] };
  for (const generalName of sequenceOf(parseDer(value, `${what} subjectAltName`), `${what} subjectAltName`)) {
    const { tagClass, tagNumber } = generalName.idBlock;
    if (tagClass !== CONTEXT) throw new SyntaxError(`Cannot parse ${what} subjectAltName: an entry is not a GeneralName`);
    if (tagNumber === GENERAL_NAME_DNS) {
      const bytes = primitiveBytes(generalName, `${what} dNSName`);
      if (bytes.some((byte) => byte > 0x7e || byte < 0x20)) throw new SyntaxError(`Cannot parse ${what} dNSName: it is not printable ASCII (IA5String)`);
      names.names.push({ type: 'dns', value: latin1(bytes) });
    } else if (tagNumber === GENERAL_NAME_IP) {
      const bytes = primitiveBytes(generalName, `${what} iPAddress`);
      if (bytes.length !== 4 && bytes.length !== 16) throw new SyntaxError(`Cannot parse ${what} iPAddress: ${bytes.length} octets (expected 4 or 16)`);
      names.names.push({ type: 'ip', value: ipFromBytes(bytes) });
    } else {
      names.otherKinds.push(GENERAL_NAME_KINDS[tagNumber] ?? `GeneralName [${tagNumber}]`);
    }
  }
  return names;
}

/** GeneralNames with a dNSName or an iPAddress per identifier, in the identifiers' order. */
export function derSubjectAltName(identifiers: readonly Identifier[]): Uint8Array<ArrayBuffer> {
  const generalNames = identifiers.map((identifier) => {
    const isIp = identifier.type === 'ip';
    const valueHex = isIp ? ipToBytes(identifier.value) : new Uint8Array(Array.from(identifier.value, (char) => char.charCodeAt(0)));
    return new asn1js.Primitive({ idBlock: { tagClass: CONTEXT, tagNumber: isIp ? GENERAL_NAME_IP : GENERAL_NAME_DNS }, valueHex });
  });
  return encodeDer(derSequence(...generalNames));
}

/** Whether a TLS Feature extension (RFC 7633 §6: SEQUENCE OF INTEGER) asks for status_request. */
export function readTlsFeatureMustStaple(value: Uint8Array, what: string): boolean {
  const features = sequenceOf(parseDer(value, `${what} TLS Feature`), `${what} TLS Feature`);
  return features.some((feature) => smallInteger(feature, `${what} TLS Feature`) === TLS_FEATURE_STATUS_REQUEST);
}

export function derTlsFeatureMustStaple(): Uint8Array<ArrayBuffer> {
  return encodeDer(derSequence(derSmallInteger(TLS_FEATURE_STATUS_REQUEST)));
}

// RFC 4055 §5 (RSA, whose parameters are NULL) and RFC 5758 §3.2 (ECDSA, whose parameters are absent).
const SIGNATURE_OIDS: Record<SignatureAlgorithm, string> = { RS256: '1.2.840.113549.1.1.11', ES256: '1.2.840.10045.4.3.2', ES384: '1.2.840.10045.4.3.3' };

/** The AlgorithmIdentifier of the key's signatures, as a certificate's tbs and its outer SEQUENCE both name it. */
export function derSignatureAlgorithm(key: AcmeKey): DerNode {
  return key.algorithm === 'RS256'
    ? derSequence(derObjectIdentifier(SIGNATURE_OIDS.RS256), derNull())
    : derSequence(derObjectIdentifier(SIGNATURE_OIDS[key.algorithm]));
}

/** RFC 3279 §2.2.3 Ecdsa-Sig-Value from the fixed-length r||s that JWS and WebCrypto use (RFC 7518 §3.4). */
function ecdsaDerFromRaw(signature: Uint8Array): Uint8Array<ArrayBuffer> {
  const half = signature.length / 2;
  return encodeDer(derSequence(derUnsignedInteger(signature.subarray(0, half)), derUnsignedInteger(signature.subarray(half))));
}

/** The key's signature over `data` as X.509 and TLS carry it: RSASSA-PKCS1-v1_5 as it is, ECDSA as an Ecdsa-Sig-Value. */
export async function derSignature(key: AcmeKey, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const signature = await sign(key, data);
  return key.algorithm === 'RS256' ? signature : ecdsaDerFromRaw(signature);
}

/** SEQUENCE { toBeSigned, signatureAlgorithm, signature BIT STRING }: the shape of a CSR (RFC 2986 §4) and a certificate (RFC 5280 §4.1). */
export async function signedDer(key: AcmeKey, toBeSigned: DerNode): Promise<Uint8Array<ArrayBuffer>> {
  return encodeDer(derSequence(toBeSigned, derSignatureAlgorithm(key), derBitString(await derSignature(key, encodeDer(toBeSigned)))));
}
