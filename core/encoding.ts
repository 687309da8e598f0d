// Byte encodings the protocol and the key formats need: base64url (RFC 4648 §5), hex, UTF-8 and PEM (RFC 7468).
// Written against Uint8Array only, so the same code runs in Node, Deno and browsers.

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(text: string): Uint8Array<ArrayBuffer> {
  return textEncoder.encode(text);
}

export function utf8Decode(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Big-endian unsigned bytes without leading zeros, one byte kept for zero: the JWK integer form (RFC 7518 §6.3). */
export function withoutLeadingZeros(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function encodeWithAlphabet(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? '=' : '');
  }
  return out;
}

function decodeWithAlphabet(text: string, alphabet: string, what: string): Uint8Array<ArrayBuffer> {
  if (text.length % 4 === 1) throw new SyntaxError(`Cannot decode ${what}: length ${text.length} is impossible`);
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let buffer = 0;
  let written = 0;
  for (let i = 0; i < text.length; i++) {
    const value = alphabet.indexOf(text[i]!);
    if (value < 0) throw new SyntaxError(`Cannot decode ${what}: invalid character ${JSON.stringify(text[i])} at ${i}`);
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = (buffer >> bits) & 0xff;
    }
  }
  return out.subarray(0, written);
}

export function base64UrlEncode(input: Uint8Array | string): string {
  return encodeWithAlphabet(typeof input === 'string' ? utf8Encode(input) : input, BASE64URL_ALPHABET, false);
}

/** Strict RFC 7515 §2 base64url: no padding, no whitespace, URL-safe alphabet only. */
export function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  return decodeWithAlphabet(text, BASE64URL_ALPHABET, 'base64url');
}

export function isBase64Url(text: string): boolean {
  return text.length > 0 && BASE64URL_PATTERN.test(text) && text.length % 4 !== 1;
}

function base64Encode(bytes: Uint8Array): string {
  return encodeWithAlphabet(bytes, BASE64_ALPHABET, true);
}

/** Standard base64 as PEM bodies and BIND's key files use it; whitespace is ignored, padding optional. */
export function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  return decodeWithAlphabet(text.replace(/\s+/g, '').replace(/=+$/, ''), BASE64_ALPHABET, 'base64');
}

export function hexEncode(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

export function hexDecode(hex: string): Uint8Array<ArrayBuffer> {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new SyntaxError(`Cannot decode hex: ${JSON.stringify(hex.slice(0, 16))} is not an even run of hex digits`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export interface PemBlock {
  /** The word(s) between "BEGIN " and the dashes, e.g. "CERTIFICATE" or "EC PRIVATE KEY". */
  label: string;
  /** Header lines such as "Proc-Type: 4,ENCRYPTED" (RFC 1421), which mark legacy encrypted keys. */
  headers: Record<string, string>;
  der: Uint8Array<ArrayBuffer>;
}

export function pemEncode(label: string, der: Uint8Array): string {
  const body = base64Encode(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Every PEM block in the text, in order; text around and between blocks is ignored, CRLF is tolerated. */
export function pemDecodeAll(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    const headers: Record<string, string> = {};
    const bodyLines: string[] = [];
    for (const line of match[2]!.split(/\r?\n/)) {
      const header = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (header && bodyLines.length === 0) headers[header[1]!] = header[2]!;
      else bodyLines.push(line);
    }
    const label = match[1]!;
    let der: Uint8Array<ArrayBuffer>;
    try {
      der = base64Decode(bodyLines.join(''));
    } catch (error) {
      throw new SyntaxError(`Cannot parse PEM: the body of "${label}" is not base64 (${(error as Error).message})`);
    }
    blocks.push({ label, headers, der });
  }
  if (blocks.length === 0) {
    throw new SyntaxError(
      text.includes('-----BEGIN') ? 'Cannot parse PEM: a "-----BEGIN" line has no matching "-----END" line' : 'Cannot parse PEM: no "-----BEGIN" line',
    );
  }
  return blocks;
}

/** The first PEM block; with `labels`, the first whose label is one of them. */
export function pemDecode(text: string, labels?: readonly string[]): PemBlock {
  const blocks = pemDecodeAll(text);
  const block = labels ? blocks.find((candidate) => labels.includes(candidate.label)) : blocks[0];
  if (!block) {
    throw new SyntaxError(`Cannot parse PEM: expected ${labels!.map((l) => `"${l}"`).join(' or ')}, found ${blocks.map((b) => `"${b.label}"`).join(', ')}`);
  }
  return block;
}
