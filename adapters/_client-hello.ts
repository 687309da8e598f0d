// The two things a tls-alpn-01 responder must know before it answers a TLS connection, read from the client's
// first flight in web standards only: the server name (RFC 6066 §3) and the offered ALPN protocols (RFC 7301 §3.1).
// The TLS libraries choose the certificate before they look at ALPN, and go on without ALPN when none is offered,
// so the responder reads the ClientHello itself and refuses a client that does not ask for acme-tls/1.

/** What the ClientHello asks for. */
export interface ClientHello {
  /** The host_name of the server_name extension, lowercased; undefined when absent. */
  serverName?: string;
  /** The protocol names of the ALPN extension, in the client's order; empty when absent. */
  alpnProtocols: string[];
}

const RECORD_HEADER_LENGTH = 5;
const CONTENT_TYPE_HANDSHAKE = 22; // RFC 8446 §5.1
const HANDSHAKE_CLIENT_HELLO = 1; // RFC 8446 §4
const EXTENSION_SERVER_NAME = 0; // RFC 6066 §3
const EXTENSION_ALPN = 16; // RFC 7301 §3.1
const SERVER_NAME_HOST_NAME = 0;
/** RFC 8446 §5.1: a record fragment is at most 2^14 octets; a ClientHello this responder needs fits well within two. */
export const MAX_CLIENT_HELLO_BYTES = 2 * (RECORD_HEADER_LENGTH + 16384);

/** Reads big-endian lengths and length-prefixed vectors, failing with the field it was reading. */
class Reader {
  #at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.#at === this.bytes.length;
  }

  number(size: number, what: string): number {
    if (this.#at + size > this.bytes.length) throw new SyntaxError(`Cannot parse TLS ClientHello: ${what} is cut short`);
    let value = 0;
    for (let i = 0; i < size; i++) value = value * 256 + this.bytes[this.#at++]!;
    return value;
  }

  /** A vector whose length takes `lengthSize` octets (RFC 8446 §3.4). */
  vector(lengthSize: number, what: string): Reader {
    const length = this.number(lengthSize, what);
    if (this.#at + length > this.bytes.length) throw new SyntaxError(`Cannot parse TLS ClientHello: ${what} is cut short`);
    const inner = new Reader(this.bytes.subarray(this.#at, this.#at + length));
    this.#at += length;
    return inner;
  }

  skip(size: number, what: string): void {
    if (this.#at + size > this.bytes.length) throw new SyntaxError(`Cannot parse TLS ClientHello: ${what} is cut short`);
    this.#at += size;
  }

  lowercaseText(): string {
    return String.fromCharCode(...this.bytes).toLowerCase();
  }
}

/**
 * The handshake bytes of the leading handshake records, joined: a ClientHello may span records (RFC 8446 §5.1).
 * Undefined while the records that hold it have not all arrived.
 */
function handshakeBytes(data: Uint8Array): Uint8Array | undefined {
  const fragments: Uint8Array[] = [];
  let length = 0;
  let at = 0;
  for (;;) {
    if (at + RECORD_HEADER_LENGTH > data.length) return undefined;
    if (data[at] !== CONTENT_TYPE_HANDSHAKE) throw new SyntaxError(`Cannot parse TLS ClientHello: record type ${data[at]} is not a handshake`);
    const fragmentLength = (data[at + 3]! << 8) | data[at + 4]!;
    if (at + RECORD_HEADER_LENGTH + fragmentLength > data.length) return undefined;
    fragments.push(data.subarray(at + RECORD_HEADER_LENGTH, at + RECORD_HEADER_LENGTH + fragmentLength));
    length += fragmentLength;
    at += RECORD_HEADER_LENGTH + fragmentLength;
    if (length >= 4) {
      const joined = new Uint8Array(length);
      let offset = 0;
      for (const fragment of fragments) {
        joined.set(fragment, offset);
        offset += fragment.length;
      }
      const messageLength = (joined[1]! << 16) | (joined[2]! << 8) | joined[3]!;
      if (length >= 4 + messageLength) return joined.subarray(0, 4 + messageLength);
    }
  }
}

/**
 * The server name and ALPN protocols of the ClientHello at the start of `data`, the bytes a TLS client sent first;
 * undefined while more bytes are needed. Throws SyntaxError when the bytes are no TLS ClientHello.
 */
export function readClientHello(data: Uint8Array): ClientHello | undefined {
  const handshake = handshakeBytes(data);
  if (!handshake) return undefined;
  const message = new Reader(handshake);
  const type = message.number(1, 'handshake type');
  if (type !== HANDSHAKE_CLIENT_HELLO) throw new SyntaxError(`Cannot parse TLS ClientHello: handshake type ${type} is not a ClientHello`);
  const body = message.vector(3, 'ClientHello');
  body.skip(2 + 32, 'version and random');
  body.vector(1, 'session id');
  body.vector(2, 'cipher suites');
  body.vector(1, 'compression methods');
  const hello: ClientHello = { alpnProtocols: [] };
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
        if (nameType === SERVER_NAME_HOST_NAME) hello.serverName = name.lowercaseText();
      }
    } else if (extensionType === EXTENSION_ALPN) {
      const protocols = data.vector(2, 'ALPN protocol list');
      while (!protocols.done) hello.alpnProtocols.push(String.fromCharCode(...protocols.vector(1, 'ALPN protocol').bytes));
    }
  }
  return hello;
}

/** RFC 8446 §6: a fatal alert record, sent in the clear before any ServerHello. */
export function tlsAlert(description: number): Uint8Array {
  return new Uint8Array([21, 3, 3, 0, 2, 2, description]);
}

/** RFC 8446 §6.2 alert descriptions this responder sends. */
export const ALERT_UNRECOGNIZED_NAME = 112;
export const ALERT_NO_APPLICATION_PROTOCOL = 120;
