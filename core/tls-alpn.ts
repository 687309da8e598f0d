// tls-alpn-01 (RFC 8737): the self-signed certificate a responder presents for one challenge, and the TLS server
// name under which the CA asks for it (RFC 8738 §6 for IP addresses). The TLS server itself lives in the adapters.

import * as asn1js from 'asn1js';
import { derExplicit, derOctetString, derSequence, derSmallInteger, derUnsignedInteger, encodeDer, parseDer, type DerNode } from './_der.ts';
import { OID_SUBJECT_ALT_NAME, derExtension, derNameWithCommonName, derSignatureAlgorithm, derSubjectAltName, signedDer } from './_pkix.ts';
import type { ChallengeTask } from './resources.ts';
import { utf8Encode } from './encoding.ts';
import { defaultEngine } from './engine.ts';
import type { AcmeKey } from './keys.ts';
import type { Identifier } from './names.ts';
import { ipToBytes } from './names.ts';
import { spkiFromPublicJwk } from './spki.ts';

/**
 * RFC 8737 §6.2: the only ALPN protocol a tls-alpn-01 responder speaks.
 *
 * @example
 * ```ts
 * import { ACME_TLS_ALPN_PROTOCOL } from "@acmets/acme-client";
 * console.log(ACME_TLS_ALPN_PROTOCOL); // "acme-tls/1"
 * ```
 */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

/**
 * RFC 8737 §6.1: id-pe-acmeIdentifier, the extension that carries the digest of the key authorization.
 *
 * @example
 * ```ts
 * import { OID_ACME_IDENTIFIER } from "@acmets/acme-client";
 * console.log(OID_ACME_IDENTIFIER); // "1.3.6.1.5.5.7.1.31"
 * ```
 */
export const OID_ACME_IDENTIFIER = '1.3.6.1.5.5.7.1.31';

/** RFC 5280 §4.1.2.4 wants a non-empty issuer, and a self-signed certificate's issuer is its subject. */
const SUBJECT_COMMON_NAME = 'ACME tls-alpn-01 challenge';
/** Validity either side of now: the CA checks the certificate within seconds, but its clock may differ from ours. */
const VALIDITY_MARGIN_MS = 7 * 24 * 60 * 60 * 1000;
/** RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 16 random ones keep two certificates apart. */
const SERIAL_LENGTH = 16;

/**
 * The TLS server name (SNI) the CA sends when it validates `identifier`: the name itself, or for an IP address its
 * reverse-mapping name, "4.3.2.1.in-addr.arpa" or the 32 nibbles under "ip6.arpa" (RFC 8738 §6).
 *
 * @example
 * ```ts
 * import { tlsAlpnServerName } from "@acmets/acme-client";
 * console.log(tlsAlpnServerName({ type: "ip", value: "192.0.2.1" })); // "1.2.0.192.in-addr.arpa"
 * ```
 */
export function tlsAlpnServerName(identifier: Identifier): string {
  if (identifier.type === 'dns') return identifier.value.toLowerCase();
  const bytes = Array.from(ipToBytes(identifier.value)).reverse();
  if (bytes.length === 4) return `${bytes.join('.')}.in-addr.arpa`;
  return `${bytes.flatMap((byte) => [(byte & 0xf).toString(16), (byte >> 4).toString(16)]).join('.')}.ip6.arpa`;
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both to the second. */
function derTime(date: Date): DerNode {
  const valueDate = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return valueDate.getUTCFullYear() < 2050 ? new asn1js.UTCTime({ valueDate }) : new asn1js.GeneralizedTime({ valueDate });
}

/**
 * The self-signed certificate (DER) that answers a tls-alpn-01 challenge (RFC 8737 §3): the identifier as its only
 * subjectAltName (a dNSName, or an iPAddress per RFC 8738 §6), and the critical acmeIdentifier extension holding
 * the SHA-256 digest of the key authorization. `key` is a throwaway key that signs it and that the TLS server uses.
 *
 * @example
 * ```ts
 * import { createTlsAlpnCertificate, generateKey } from "@acmets/acme-client";
 * const key = await generateKey("ec256");
 * const der = await createTlsAlpnCertificate({ identifier: { type: "dns", value: "example.com" }, keyAuthorization: "token.thumbprint" }, key);
 * ```
 */
export async function createTlsAlpnCertificate(
  task: Pick<ChallengeTask, 'identifier' | 'keyAuthorization'>, key: AcmeKey, now: Date = new Date(),
): Promise<Uint8Array<ArrayBuffer>> {
  const digest = await (await defaultEngine()).digest('SHA-256', utf8Encode(task.keyAuthorization));
  const serial = crypto.getRandomValues(new Uint8Array(SERIAL_LENGTH));
  serial[0]! &= 0x7f;
  serial[0]! |= 0x01; // never a leading zero octet, so the INTEGER keeps all 16
  const name = derNameWithCommonName(SUBJECT_COMMON_NAME);
  const extensions = derSequence(
    derExtension(OID_SUBJECT_ALT_NAME, false, derSubjectAltName([task.identifier])),
    // RFC 8737 §3: critical, and its value is the DER of Authorization ::= OCTET STRING (SIZE (32)).
    derExtension(OID_ACME_IDENTIFIER, true, encodeDer(derOctetString(digest))),
  );
  const toBeSigned = derSequence(
    derExplicit(0, derSmallInteger(2)), // v3, for the extensions
    derUnsignedInteger(serial),
    derSignatureAlgorithm(key),
    name,
    derSequence(derTime(new Date(now.getTime() - VALIDITY_MARGIN_MS)), derTime(new Date(now.getTime() + VALIDITY_MARGIN_MS))),
    name,
    parseDer(spkiFromPublicJwk(key.publicJwk), 'SubjectPublicKeyInfo'),
    derExplicit(3, extensions),
  );
  return signedDer(key, toBeSigned);
}
