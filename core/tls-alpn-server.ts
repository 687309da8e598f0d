// The server side of one tls-alpn-01 validation connection (RFC 8737 §3), in web standards only: read the
// ClientHello, refuse a client that does not offer acme-tls/1 or names no presented identifier, and otherwise run a
// TLS 1.3 handshake (RFC 8446) that presents the challenge certificate, up to the server's Finished. The validator
// needs nothing more: no application data follows the handshake. Written because Deno's TLS (rustls) refuses a
// certificate with the critical acmeIdentifier extension; the Node and Deno adapters both use it and only carry bytes.

import { derSignature } from './_pkix.ts';
import {
  ALERT_HANDSHAKE_FAILURE, ALERT_NO_APPLICATION_PROTOCOL, ALERT_PROTOCOL_VERSION, ALERT_UNRECOGNIZED_NAME, CONTENT_APPLICATION_DATA,
  CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HANDSHAKE, MAX_CLIENT_HELLO_BYTES, readClientHello, tlsAlert, type ClientHello,
} from './_tls-hello.ts';
import { concatBytes, utf8Encode } from './encoding.ts';
import type { ChallengeTask } from './resources.ts';
import { generateKey, type AcmeKey } from './keys.ts';
import { ACME_TLS_ALPN_PROTOCOL, createTlsAlpnCertificate, tlsAlpnServerName } from './tls-alpn.ts';

/** A connection's bytes as the runtime hands them over. */
export interface ByteConnection {
  /** The next bytes from the client; undefined once it has closed. */
  read(): Promise<Uint8Array | undefined>;
  write(bytes: Uint8Array): Promise<void>;
  close(): void;
}

/** The certificate (DER) to present for a server name, and the key it certifies. */
export type TlsAlpnCertificateLookup = (serverName: string) => { certificate: Uint8Array; key: AcmeKey } | undefined;

/** The challenge certificates a responder presents, by the server name the CA will send. */
export interface TlsAlpnCertificates {
  present(task: ChallengeTask): Promise<void>;
  cleanup(task: ChallengeTask): Promise<void>;
  lookup: TlsAlpnCertificateLookup;
}

/** An empty set of challenge certificates, all signed by one P-256 key made here, for this responder alone. */
export async function tlsAlpnCertificates(): Promise<TlsAlpnCertificates> {
  const key = await generateKey('ec256');
  const byName = new Map<string, Uint8Array>();
  return {
    async present(task) {
      byName.set(tlsAlpnServerName(task.identifier), await createTlsAlpnCertificate(task, key));
    },
    async cleanup(task) {
      byName.delete(tlsAlpnServerName(task.identifier));
    },
    lookup(serverName) {
      const certificate = byName.get(serverName);
      return certificate && { certificate, key };
    },
  };
}

const TLS13 = 0x0304;
const TLS_AES_128_GCM_SHA256 = 0x1301; // RFC 8446 §B.4: the suite every TLS 1.3 client offers
const ECDSA_SECP256R1_SHA256 = 0x0403; // RFC 8446 §4.2.3: how our P-256 key signs CertificateVerify
const GROUP_X25519 = 0x001d; // RFC 8446 §4.2.7; Go and OpenSSL send an X25519 key share first
const GROUP_SECP256R1 = 0x0017;
const HANDSHAKE = { serverHello: 2, encryptedExtensions: 8, certificate: 11, certificateVerify: 15, finished: 20 } as const;
const EXTENSION = { alpn: 16, supportedVersions: 43, keyShare: 51 } as const;
const HASH_LENGTH = 32;
/** Bytes read after the server's Finished before the connection is closed anyway. */
const MAX_TRAILING_BYTES = 64 * 1024;

const u16 = (value: number) => [value >> 8, value & 0xff];
const u24 = (value: number) => [value >> 16, (value >> 8) & 0xff, value & 0xff];
const vector8 = (bytes: Uint8Array | number[]) => [bytes.length, ...bytes];
const vector16 = (bytes: Uint8Array | number[]) => [...u16(bytes.length), ...bytes];
const handshakeMessage = (type: number, body: number[]) => new Uint8Array([type, ...u24(body.length), ...body]);
const record = (type: number, fragment: Uint8Array) => concatBytes(new Uint8Array([type, 3, 3, ...u16(fragment.length)]), fragment);

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const hmacKey = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, data as Uint8Array<ArrayBuffer>));
}

const sha256 = async (...parts: Uint8Array[]) => new Uint8Array(await crypto.subtle.digest('SHA-256', concatBytes(...parts)));

/** RFC 8446 §7.1 HKDF-Expand-Label, for outputs of at most one SHA-256 block (RFC 5869 §2.3). */
function expandLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Promise<Uint8Array> {
  const info = new Uint8Array([...u16(length), ...vector8(utf8Encode(`tls13 ${label}`)), ...vector8(context), 1]);
  return hmac(secret, info).then((block) => block.subarray(0, length));
}

/** The server's handshake traffic secret (RFC 8446 §7.1): early secret without PSK, then the (EC)DHE secret. */
async function serverHandshakeSecret(sharedSecret: Uint8Array, helloHash: Uint8Array): Promise<Uint8Array> {
  const zeros = new Uint8Array(HASH_LENGTH);
  const early = await hmac(zeros, zeros);
  const derived = await expandLabel(early, 'derived', await sha256(), HASH_LENGTH);
  const handshake = await hmac(derived, sharedSecret);
  return expandLabel(handshake, 's hs traffic', helloHash, HASH_LENGTH);
}

/** Our key share for the first group the client sent a share for that WebCrypto has, and the shared secret. */
async function keyExchange(hello: ClientHello): Promise<{ group: number; publicKey: Uint8Array; sharedSecret: Uint8Array } | undefined> {
  for (const group of [GROUP_X25519, GROUP_SECP256R1]) {
    const peer = hello.keyShares.get(group);
    if (!peer) continue;
    const algorithm = group === GROUP_X25519 ? { name: 'X25519' } : { name: 'ECDH', namedCurve: 'P-256' };
    const ours = (await crypto.subtle.generateKey(algorithm, true, ['deriveBits'])) as CryptoKeyPair;
    const peerKey = await crypto.subtle.importKey('raw', peer as Uint8Array<ArrayBuffer>, algorithm, false, []);
    const sharedSecret = new Uint8Array(await crypto.subtle.deriveBits({ name: algorithm.name, public: peerKey }, ours.privateKey, 256));
    return { group, publicKey: new Uint8Array(await crypto.subtle.exportKey('raw', ours.publicKey)), sharedSecret };
  }
  return undefined;
}

/** Why the handshake cannot go on, as the alert to send; undefined when it can. */
function refusalOf(hello: ClientHello, presented: boolean): number | undefined {
  // RFC 8737 §3: a challenge certificate only for acme-tls/1; RFC 6066 §3 names the alert for an unknown name.
  if (!hello.alpnProtocols.includes(ACME_TLS_ALPN_PROTOCOL)) return ALERT_NO_APPLICATION_PROTOCOL;
  if (!presented) return ALERT_UNRECOGNIZED_NAME;
  if (!hello.versions.includes(TLS13)) return ALERT_PROTOCOL_VERSION;
  if (!hello.cipherSuites.includes(TLS_AES_128_GCM_SHA256) || !hello.signatureSchemes.includes(ECDSA_SECP256R1_SHA256)) return ALERT_HANDSHAKE_FAILURE;
  return undefined;
}

/** The server's flight after ServerHello, protected with its handshake traffic keys (RFC 8446 §5.2, §5.3). */
async function protect(secret: Uint8Array, messages: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey('raw', (await expandLabel(secret, 'key', new Uint8Array(0), 16)) as Uint8Array<ArrayBuffer>, 'AES-GCM', false, ['encrypt']);
  const nonce = await expandLabel(secret, 'iv', new Uint8Array(0), 12); // sequence number 0: the IV itself
  const inner = concatBytes(messages, new Uint8Array([CONTENT_HANDSHAKE]));
  const header = new Uint8Array([CONTENT_APPLICATION_DATA, 3, 3, ...u16(inner.length + 16)]);
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce as Uint8Array<ArrayBuffer>, additionalData: header }, key, inner);
  return concatBytes(header, new Uint8Array(sealed));
}

/** ServerHello through Finished for this ClientHello, presenting `certificate`. */
async function serverFlight(hello: ClientHello, certificate: Uint8Array, key: AcmeKey): Promise<Uint8Array | undefined> {
  const exchange = await keyExchange(hello);
  if (!exchange) return undefined;
  const serverHello = handshakeMessage(HANDSHAKE.serverHello, [
    3, 3, ...crypto.getRandomValues(new Uint8Array(32)), ...vector8(hello.sessionId), ...u16(TLS_AES_128_GCM_SHA256), 0,
    ...vector16([...u16(EXTENSION.supportedVersions), ...vector16(u16(TLS13)),
      ...u16(EXTENSION.keyShare), ...vector16([...u16(exchange.group), ...vector16(exchange.publicKey)])]),
  ]);
  const secret = await serverHandshakeSecret(exchange.sharedSecret, await sha256(hello.message, serverHello));
  const alpn = utf8Encode(ACME_TLS_ALPN_PROTOCOL);
  const encryptedExtensions = handshakeMessage(HANDSHAKE.encryptedExtensions, vector16([...u16(EXTENSION.alpn), ...vector16(vector16(vector8(alpn)))]));
  const certificateMessage = handshakeMessage(HANDSHAKE.certificate, [0, ...u24(certificate.length + 5), ...u24(certificate.length), ...certificate, 0, 0]);
  // RFC 8446 §4.4.3: the signature covers 64 spaces, a context string, a zero and the transcript hash so far.
  const signed = concatBytes(new Uint8Array(64).fill(0x20), utf8Encode('TLS 1.3, server CertificateVerify'), new Uint8Array(1),
    await sha256(hello.message, serverHello, encryptedExtensions, certificateMessage));
  const certificateVerify = handshakeMessage(HANDSHAKE.certificateVerify, [...u16(ECDSA_SECP256R1_SHA256), ...vector16(await derSignature(key, signed))]);
  const finishedKey = await expandLabel(secret, 'finished', new Uint8Array(0), HASH_LENGTH);
  const verifyData = await hmac(finishedKey, await sha256(hello.message, serverHello, encryptedExtensions, certificateMessage, certificateVerify));
  const flight = concatBytes(encryptedExtensions, certificateMessage, certificateVerify, handshakeMessage(HANDSHAKE.finished, [...verifyData]));
  // RFC 8446 §D.4: a client in middlebox compatibility mode (a session id) expects a change_cipher_spec here.
  const compatibility = hello.sessionId.length ? record(CONTENT_CHANGE_CIPHER_SPEC, new Uint8Array([1])) : new Uint8Array(0);
  return concatBytes(record(CONTENT_HANDSHAKE, serverHello), compatibility, await protect(secret, flight));
}

/**
 * Answers one connection to a tls-alpn-01 responder: the certificate that `lookup` gives for the client's server
 * name, over TLS 1.3 with ALPN acme-tls/1, or an alert and no certificate for any other client. Resolves once the
 * connection is over; it never rejects, since a bad client is no failure of the run.
 */
export async function answerTlsAlpnConnection(connection: ByteConnection, lookup: TlsAlpnCertificateLookup): Promise<void> {
  try {
    let received = new Uint8Array(0);
    let hello: ClientHello | undefined;
    while (!hello) {
      const chunk = await connection.read();
      if (!chunk) return;
      received = concatBytes(received, chunk);
      hello = readClientHello(received);
      if (!hello && received.length > MAX_CLIENT_HELLO_BYTES) return;
    }
    const presented = hello.serverName === undefined ? undefined : lookup(hello.serverName);
    const refusal = refusalOf(hello, presented !== undefined);
    const flight = refusal === undefined ? await serverFlight(hello, presented!.certificate, presented!.key) : undefined;
    // No key share in a group we have: a HelloRetryRequest could ask for one, but validators send X25519 first.
    await connection.write(flight ?? tlsAlert(refusal ?? ALERT_HANDSHAKE_FAILURE));
    // The client answers with its Finished and closes; until then the connection stays, so that it is not reset.
    for (let trailing = hello.rest.length; trailing <= MAX_TRAILING_BYTES;) {
      const chunk = await connection.read();
      if (!chunk) return;
      trailing += chunk.length;
    }
  } catch {
    // Not TLS, or a connection that broke: there is no one to tell.
  } finally {
    connection.close();
  }
}
