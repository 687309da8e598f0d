// PKCS#10 certification requests (RFC 2986) for ACME finalize (RFC 8555 §7.4): built from our identifiers and
// certificate key, and read back, with the self-signature checked, when a user brings a CSR of their own.

import * as asn1js from 'asn1js';
import type { DerNode } from './_der.ts';
import {
  derObjectIdentifier, derSequence, derSmallInteger, bitStringBytes, isNull, objectIdentifier, parseDer, sequenceOf, smallInteger, unsignedInteger,
} from './_der.ts';
import {
  OID_SUBJECT_ALT_NAME, OID_TLS_FEATURE, commonNameOf, derExtension, derNameWithCommonName, derSubjectAltName, derTlsFeatureMustStaple, extensionsOf,
  readSubjectAltName, readTlsFeatureMustStaple, signedDer,
} from './_pkix.ts';
import { pemEncode } from './encoding.ts';
import type { CryptoEngine, EcCurve, HashName, PublicJwk, SignatureAlgorithm } from './engine.ts';
import { defaultEngine, hasWebCrypto } from './engine.ts';
import type { AcmeKey } from './keys.ts';
import { keyTypeOfJwk } from './keys.ts';
import type { Identifier } from './names.ts';
import { identifierToString, normalizeIdentifiers } from './names.ts';
import { COORDINATE_LENGTH, publicKeyFromSpki, spkiFromPublicJwk } from './spki.ts';

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14'; // RFC 2985 §5.4.2
/** RFC 5280 Appendix A: ub-common-name. */
const MAX_COMMON_NAME_LENGTH = 64;

interface SignatureScheme {
  name: string;
  family: 'RSA' | 'EC';
  hash: HashName;
}

// RFC 4055 §5 (RSA, whose parameters are NULL) and RFC 5758 §3.2 (ECDSA, whose parameters are absent).
const SIGNATURE_SCHEMES: Record<string, SignatureScheme> = {
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', family: 'RSA', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', family: 'RSA', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', family: 'RSA', hash: 'SHA-512' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', family: 'EC', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', family: 'EC', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', family: 'EC', hash: 'SHA-512' },
};
// Signatures that people do meet in CSRs, named in the refusal.
const UNSUPPORTED_SIGNATURES: Record<string, string> = {
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.3.101.112': 'Ed25519',
};

/**
 * What a CSR is made from.
 *
 * @example
 * ```ts
 * import { createCsr, generateKey, normalizeIdentifiers } from "@acmets/acme-client";
 * const der = await createCsr({ key: await generateKey("ec256"), identifiers: normalizeIdentifiers(["example.com"]), mustStaple: false });
 * ```
 */
export interface CsrOptions {
  /** The certificate key; never the account key (RFC 8555 §11.1). */
  key: AcmeKey;
  /** In normalised form (names.ts); the first DNS name becomes the subject CN. */
  identifiers: readonly Identifier[];
  /** Ask for the TLS Feature extension with status_request (RFC 7633), as acme-client -O does. */
  mustStaple?: boolean;
}

/**
 * A PKCS#10 certificate request (RFC 2986) in DER, signed by the certificate key, with the names in the subjectAltName
 * and the first DNS name as the subject CN.
 *
 * @example
 * ```ts
 * import { createCsr, csrToPem, generateKey, normalizeIdentifiers } from "@acmets/acme-client";
 * const der = await createCsr({ key: await generateKey("ec256"), identifiers: normalizeIdentifiers(["example.com", "www.example.com"]) });
 * console.log(csrToPem(der));
 * ```
 */
export async function createCsr(options: CsrOptions): Promise<Uint8Array<ArrayBuffer>> {
  const { key, identifiers, mustStaple = false } = options;
  checkNormalised(identifiers);
  const first = identifiers[0]!;
  // RFC 8555 §7.4 needs the names only in the SAN; the CN, which CA/Browser Forum BR §7.1.4.3 deprecate, is kept
  // for software that still shows it. An IP address stays in its iPAddress entry, since clients read a CN as a DNS
  // name (RFC 6125 §6.4.4), and a name longer than ub-common-name cannot be a CN at all.
  const commonName = first.type === 'dns' && first.value.length <= MAX_COMMON_NAME_LENGTH ? first.value : undefined;
  // RFC 5280 §4.2.1.6: with an empty subject the SAN must be critical.
  const extensions = [derExtension(OID_SUBJECT_ALT_NAME, commonName === undefined, derSubjectAltName(identifiers))];
  if (mustStaple) extensions.push(derExtension(OID_TLS_FEATURE, false, derTlsFeatureMustStaple()));
  const extensionRequest = derSequence(derObjectIdentifier(OID_EXTENSION_REQUEST), new asn1js.Set({ value: [derSequence(...extensions)] }));
  const info = derSequence(
    derSmallInteger(0),
    derNameWithCommonName(commonName),
    parseDer(spkiFromPublicJwk(key.publicJwk), 'SubjectPublicKeyInfo'),
    // attributes [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1)
    new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [extensionRequest] }),
  );
  return signedDer(key, info);
}

/** Identifiers that normalizeIdentifiers() would leave as they are; anything else is a caller mistake. */
function checkNormalised(identifiers: readonly Identifier[]): void {
  if (identifiers.length === 0) throw new RangeError('Cannot create CSR: no identifiers');
  const normalised = normalizeIdentifiers(identifiers.map(identifierToString));
  identifiers.forEach((identifier, i) => {
    const expected = normalised[i]!;
    if (identifier.type !== expected.type || identifier.value !== expected.value) {
      throw new RangeError(`Cannot create CSR: identifier ${identifier.type} ${JSON.stringify(identifier.value)} is not normalised (expected ${expected.type} ${JSON.stringify(expected.value)})`);
    }
  });
}

/**
 * A DER CSR as PEM ("CERTIFICATE REQUEST"), for openssl and other tools.
 *
 * @example
 * ```ts
 * import { createCsr, csrToPem, generateKey, normalizeIdentifiers } from "@acmets/acme-client";
 * const pem = csrToPem(await createCsr({ key: await generateKey("ec256"), identifiers: normalizeIdentifiers(["example.com"]) }));
 * ```
 */
export function csrToPem(der: Uint8Array): string {
  return pemEncode('CERTIFICATE REQUEST', der);
}

/**
 * What parseCsr reads from a verified CSR.
 *
 * @example
 * ```ts
 * import { parseCsr } from "@acmets/acme-client";
 * declare const csrDer: Uint8Array; // a DER CSR, e.g. pemDecode(text).der
 * const info = await parseCsr(csrDer);
 * console.log(info.identifiers, info.mustStaple);
 * ```
 */
export interface CsrInfo {
  /** The subject CN first (when it is not also in the SAN), then the SAN entries, normalised. */
  identifiers: Identifier[];
  /** The key the certificate will be for. */
  publicJwk: PublicJwk;
  /** Whether it asks for the TLS Feature extension (RFC 7633). */
  mustStaple: boolean;
}

/**
 * Options for parseCsr.
 *
 * @example
 * ```ts
 * import { loadEngine, parseCsr } from "@acmets/acme-client";
 * declare const csrDer: Uint8Array; // a DER CSR, e.g. pemDecode(text).der
 * const info = await parseCsr(csrDer, { engine: await loadEngine("noble") });
 * ```
 */
export interface ParseCsrOptions {
  /** The engine that checks the signature; by default WebCrypto where it exists, else the key family's fallback. */
  engine?: CryptoEngine;
}

/**
 * Reads a CSR that a user brings, refusing it unless its self-signature verifies and it names only DNS names and IPs.
 *
 * @example
 * ```ts
 * import { parseCsr } from "@acmets/acme-client";
 * declare const csrDer: Uint8Array; // a DER CSR, e.g. pemDecode(text).der
 * const info = await parseCsr(csrDer);
 * ```
 */
export async function parseCsr(der: Uint8Array, options: ParseCsrOptions = {}): Promise<CsrInfo> {
  const [infoNode, algorithmNode, signatureNode] = sequenceOf(parseDer(der, 'CSR'), 'CSR', 3, 3);
  const [version, subject, spki, attributes] = sequenceOf(infoNode, 'CSR certificationRequestInfo', 4, 4);
  if (smallInteger(version, 'CSR version') !== 0) throw new SyntaxError(`Cannot parse CSR: version ${smallInteger(version, 'CSR version')}, expected 0`);
  const publicJwk = publicKeyFromSpki(spki!.valueBeforeDecodeView);
  keyTypeOfJwk(publicJwk);
  const commonName = commonNameOf(subject!, 'CSR subject');
  const extensions = extensionRequestOf(attributes!);

  const scheme = signatureSchemeOf(algorithmNode!);
  if (scheme.family !== publicJwk.kty) throw new SyntaxError(`Cannot use CSR: signed with ${scheme.name} but its key is ${publicJwk.kty}`);
  let signature = bitStringBytes(signatureNode, 'CSR signature');
  if (publicJwk.kty === 'EC') signature = ecdsaRawFromDer(signature, publicJwk.crv);
  if (!(await verifySignature(publicJwk, scheme, infoNode!.valueBeforeDecodeView, signature, options.engine))) {
    throw new SyntaxError('Cannot use CSR: its signature does not verify with its own public key (it was altered, or signed by another key)');
  }

  const names: string[] = [];
  if (commonName !== undefined) names.push(commonName);
  let mustStaple = false;
  const san = extensions.get(OID_SUBJECT_ALT_NAME);
  if (san) {
    const { names: sanNames, otherKinds } = readSubjectAltName(san.value, 'CSR');
    if (otherKinds.length > 0) throw new RangeError(`Cannot use CSR: its subjectAltName holds ${otherKinds.join(', ')}, which ACME cannot validate`);
    names.push(...sanNames.map((name) => name.value));
  }
  const tlsFeature = extensions.get(OID_TLS_FEATURE);
  if (tlsFeature) mustStaple = readTlsFeatureMustStaple(tlsFeature.value, 'CSR');
  if (names.length === 0) throw new RangeError('Cannot use CSR: it names no DNS name or IP address');
  // RFC 8555 §7.4 counts the CN as a requested name; it usually repeats a SAN entry, so duplicates collapse here.
  const identifiers: Identifier[] = [];
  for (const name of names) {
    let identifier: Identifier;
    try {
      [identifier] = normalizeIdentifiers([name]) as [Identifier];
    } catch (error) {
      throw new RangeError(`Cannot use CSR: ${(error as Error).message}`);
    }
    if (!identifiers.some((other) => other.type === identifier.type && other.value === identifier.value)) identifiers.push(identifier);
  }
  return { identifiers, publicJwk, mustStaple };
}

function signatureSchemeOf(node: DerNode): SignatureScheme {
  const [oidNode, parameters] = sequenceOf(node, 'CSR signatureAlgorithm', 1, 2);
  const oid = objectIdentifier(oidNode, 'CSR signatureAlgorithm');
  const scheme = SIGNATURE_SCHEMES[oid];
  if (!scheme) {
    const name = UNSUPPORTED_SIGNATURES[oid];
    throw new RangeError(`Cannot use CSR: signature algorithm ${name ? `${name} (${oid})` : oid} is not supported (use SHA-256 with RSA or ECDSA)`);
  }
  if (scheme.family === 'EC' ? parameters !== undefined : parameters !== undefined && !isNull(parameters)) {
    throw new SyntaxError(`Cannot parse CSR: ${scheme.name} has unexpected parameters`);
  }
  return scheme;
}

/** The extensions in the extensionRequest attribute (RFC 2985 §5.4.2), if there is one. */
function extensionRequestOf(attributes: DerNode): ReturnType<typeof extensionsOf> {
  const { tagClass, tagNumber, isConstructed } = attributes.idBlock;
  if (tagClass !== 3 || tagNumber !== 0 || !isConstructed) throw new SyntaxError('Cannot parse CSR: expected attributes [0]');
  for (const attribute of (attributes as asn1js.Constructed).valueBlock.value) {
    const [type, values] = sequenceOf(attribute, 'CSR attribute', 2, 2);
    if (objectIdentifier(type, 'CSR attribute type') !== OID_EXTENSION_REQUEST) continue;
    if (!(values instanceof asn1js.Set) || values.valueBlock.value.length !== 1) {
      throw new SyntaxError('Cannot parse CSR: extensionRequest does not hold exactly one value');
    }
    return extensionsOf(values.valueBlock.value[0]!, 'CSR extensionRequest');
  }
  return new Map();
}

function ecdsaRawFromDer(signature: Uint8Array, crv: EcCurve): Uint8Array<ArrayBuffer> {
  const size = COORDINATE_LENGTH[crv];
  const raw = new Uint8Array(2 * size);
  sequenceOf(parseDer(signature, 'CSR ECDSA signature'), 'CSR ECDSA signature', 2, 2).forEach((node, i) => {
    const value = unsignedInteger(node, 'CSR ECDSA signature');
    if (value.length > size) throw new SyntaxError(`Cannot parse CSR ECDSA signature: a ${value.length}-byte value is too long for ${crv}`);
    raw.set(value, (i + 1) * size - value.length);
  });
  return raw;
}

/** The JWS algorithm an engine verifies for this key and hash, if the pair is one that ACME keys sign with. */
function engineAlgorithmOf(jwk: PublicJwk, hash: HashName): SignatureAlgorithm | undefined {
  if (jwk.kty === 'RSA') return hash === 'SHA-256' ? 'RS256' : undefined;
  if (jwk.crv === 'P-256' && hash === 'SHA-256') return 'ES256';
  if (jwk.crv === 'P-384' && hash === 'SHA-384') return 'ES384';
  return undefined;
}

async function verifySignature(jwk: PublicJwk, scheme: SignatureScheme, data: Uint8Array, signature: Uint8Array, engine?: CryptoEngine): Promise<boolean> {
  const algorithm = engineAlgorithmOf(jwk, scheme.hash);
  if (algorithm) return (engine ?? (await defaultEngine(scheme.family))).verify(algorithm, jwk, data, signature);
  // Other pairs are valid too: `openssl req` signs with SHA-256 whatever the curve. The engines only pair each
  // curve with its own hash, so WebCrypto checks these directly, and where it is missing they are refused.
  const crv = jwk.kty === 'EC' ? ` ${jwk.crv}` : '';
  if (!hasWebCrypto()) throw new RangeError(`Cannot verify CSR: ${scheme.name} with a${crv} ${jwk.kty} key needs WebCrypto, which this page lacks`);
  const params = jwk.kty === 'RSA'
    ? { import: { name: 'RSASSA-PKCS1-v1_5', hash: scheme.hash }, verify: { name: 'RSASSA-PKCS1-v1_5' } }
    : { import: { name: 'ECDSA', namedCurve: jwk.crv }, verify: { name: 'ECDSA', hash: scheme.hash } };
  const key = await crypto.subtle.importKey('jwk', { ...jwk }, params.import, false, ['verify']);
  return crypto.subtle.verify(params.verify, key, signature as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>);
}
