// The client's first flight of a TLS connection, read in web standards only (RFC 8446 §4.1.2): what a tls-alpn-01
// responder needs to decide whether to answer, the server name (RFC 6066 §3) and the ALPN protocols (RFC 7301
// §3.1), and what its TLS 1.3 handshake needs (versions, suites, key shares, signature schemes). Private to core.

/** What the ClientHello asks for. */
export interface ClientHello {
  /** The host_name of the server_name extension, lowercased; undefined when absent. */
  serverName?: string;
  /** The protocol names of the ALPN extension, in the client's order; empty when absent. */
  alpnProtocols: string[];
  /** legacy_session_id, which a TLS 1.3 server echoes (RFC 8446 §4.1.3). */
  sessionId: Uint8Array;
  cipherSuites: number[];
  /** supported_versions (RFC 8446 §4.2.1); empty when absent, which means TLS 1.2 at most. */
  versions: number[];
  signatureSchemes: number[];
  /** key_share entries (RFC 8446 §4.2.8) by named group. */
  keyShares: Map<number, Uint8Array>;
  /** The whole handshake message, header included, as the transcript hash takes it (RFC 8446 §4.4.1). */
  message: Uint8Array;
  /** The bytes after the records that carried it. */
  rest: Uint8Array;
}

export const RECORD_HEADER_LENGTH = 5;
export const CONTENT_CHANGE_CIPHER_SPEC = 20; // RFC 8446 §5.1
export const CONTENT_ALERT = 21;
export const CONTENT_HANDSHAKE = 22;
export const CONTENT_APPLICATION_DATA = 23;
const HANDSHAKE_CLIENT_HELLO = 1; // RFC 8446 §4
const EXTENSION_SERVER_NAME = 0; // RFC 6066 §3
const EXTENSION_SIGNATURE_ALGORITHMS = 13; // RFC 8446 §4.2.3
const EXTENSION_ALPN = 16; // RFC 7301 §3.1
const EXTENSION_SUPPORTED_VERSIONS = 43; // RFC 8446 §4.2.1
const EXTENSION_KEY_SHARE = 51; // RFC 8446 §4.2.8
const SERVER_NAME_HOST_NAME = 0;
/** RFC 8446 §5.1: a record fragment is at most 2^14 octets; a ClientHello fits well within two. */
export const MAX_CLIENT_HELLO_BYTES = 2 * (RECORD_HEADER_LENGTH + 16384);

/** RFC 8446 §6.2 alert descriptions a tls-alpn-01 responder sends. */
export const ALERT_HANDSHAKE_FAILURE = 40;
export const ALERT_PROTOCOL_VERSION = 70;
export const ALERT_UNRECOGNIZED_NAME = 112;
export const ALERT_NO_APPLICATION_PROTOCOL = 120;

/** Reads big-endian numbers and length-prefixed vectors (RFC 8446 §3.4), failing with the field it was reading. */
class Reader {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.#at === this.bytes.length;
  }

  number(size: number, what: string): number {
    let value = 0;
    for (const byte of this.take(size, what)) value = value * 256 + byte;
    return value;
  }

  take(size: number, what: string): Uint8Array {
    if (this.#at + size > this.bytes.length) throw new SyntaxError(`Cannot parse TLS ClientHello: ${what} is cut short`);
    this.#at += size;
    return this.bytes.subarray(this.#at - size, this.#at);
  }

  /** A vector whose length takes `lengthSize` octets. */
  vector(lengthSize: number, what: string): Reader {
    return new Reader(this.take(this.number(lengthSize, what), what));
  }

  /** The whole vector as numbers of `size` octets each. */
  numbers(size: number, what: string): number[] {
    const values: number[] = [];
    while (!this.done) values.push(this.number(size, what));
    return values;
  }
}

const ascii = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/**
 * The handshake bytes of the leading handshake records, joined, since a ClientHello may span records (RFC 8446
 * §5.1), and the bytes after those records; undefined while the records that hold the ClientHello have not all come.
 */
function handshakeBytes(data: Uint8Array): { handshake: Uint8Array; rest: Uint8Array } | undefined {
  const fragments: number[] = [];
  let at = 0;
  for (;;) {
    if (at + RECORD_HEADER_LENGTH > data.length) return undefined;
    if (data[at] !== CONTENT_HANDSHAKE) throw new SyntaxError(`Cannot parse TLS ClientHello: record type ${data[at]} is not a handshake`);
    const end = at + RECORD_HEADER_LENGTH + ((data[at + 3]! << 8) | data[at + 4]!);
    if (end > data.length) return undefined;
    fragments.push(...data.subarray(at + RECORD_HEADER_LENGTH, end));
    at = end;
    if (fragments.length >= 4) {
      const length = 4 + ((fragments[1]! << 16) | (fragments[2]! << 8) | fragments[3]!);
      if (fragments.length >= length) return { handshake: new Uint8Array(fragments.slice(0, length)), rest: data.subarray(at) };
    }
  }
}

/**
 * The ClientHello at the start of `data`, the bytes a TLS client sent first; undefined while more bytes are needed.
 * Throws SyntaxError when the bytes are no TLS ClientHello.
 */
export function readClientHello(data: Uint8Array): ClientHello | undefined {
  const found = handshakeBytes(data);
  if (!found) return undefined;
  const message = new Reader(found.handshake);
  const type = message.number(1, 'handshake type');
  if (type !== HANDSHAKE_CLIENT_HELLO) throw new SyntaxError(`Cannot parse TLS ClientHello: handshake type ${type} is not a ClientHello`);
  const body = message.vector(3, 'ClientHello');
  body.take(2 + 32, 'version and random');
  const hello: ClientHello = {
    alpnProtocols: [], sessionId: body.vector(1, 'session id').bytes, cipherSuites: body.vector(2, 'cipher suites').numbers(2, 'cipher suite'),
    versions: [], signatureSchemes: [], keyShares: new Map(), message: found.handshake, rest: found.rest,
  };
  body.vector(1, 'compression methods');
  if (body.done) return hello; // no extensions at all
  const extensions = body.vector(2, 'extensions');
  while (!extensions.done) {
    const extensionType = extensions.number(2, 'extension type');
    const data = extensions.vector(2, `extension ${extensionType}`);
    if (extensionType === EXTENSION_SERVER_NAME) {
      const names = data.vector(2, 'server name list');
      while (!names.done) {
        const nameType = names.number(1, 'server name type');
        const name = names.vector(2, 'server name');
        if (nameType === SERVER_NAME_HOST_NAME) hello.serverName = ascii(name.bytes).toLowerCase();
      }
    } else if (extensionType === EXTENSION_ALPN) {
      const protocols = data.vector(2, 'ALPN protocol list');
      while (!protocols.done) hello.alpnProtocols.push(ascii(protocols.vector(1, 'ALPN protocol').bytes));
    } else if (extensionType === EXTENSION_SUPPORTED_VERSIONS) {
      hello.versions = data.vector(1, 'supported versions').numbers(2, 'version');
    } else if (extensionType === EXTENSION_SIGNATURE_ALGORITHMS) {
      hello.signatureSchemes = data.vector(2, 'signature algorithms').numbers(2, 'signature scheme');
    } else if (extensionType === EXTENSION_KEY_SHARE) {
      const shares = data.vector(2, 'key shares');
      while (!shares.done) hello.keyShares.set(shares.number(2, 'key share group'), shares.vector(2, 'key exchange').bytes);
    }
  }
  return hello;
}

/** A fatal alert record (RFC 8446 §6), sent in the clear before any ServerHello. */
export function tlsAlert(description: number): Uint8Array {
  return new Uint8Array([CONTENT_ALERT, 3, 3, 0, 2, 2, description]);
}
