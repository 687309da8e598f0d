// DNS messages for dynamic updates (RFC 2136) and the lookups around them, on @dnsquery/dns-packet (Uint8Array,
// no Node-only byte type), signed with TSIG (RFC 8945) through WebCrypto's HMAC.

import * as dns from '@dnsquery/dns-packet';
import { bytesEqual, concatBytes, utf8Decode } from './encoding.ts';
import { TSIG_HASHES, type TsigKey } from './tsig-key.ts';

/** RFC 8945 §5.2.3: BIND's default; what the server allows between our clock and its own. */
const TSIG_FUDGE_SECONDS = 300;
const CLASS_ANY = 255;
/** RFC 2136 §2.5.4: "delete an RR from an RRset" is written with class NONE, which the library's class table lacks. */
const CLASS_NONE = 254;
const TYPE_TSIG = 250;
const OPCODE_UPDATE = 5;
const HEADER_LENGTH = 12;
const ARCOUNT_OFFSET = 10;

/** RFC 8945 §3 and RFC 6895: the TSIG error field's values beyond the header's four RCODE bits. */
const TSIG_ERRORS: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

/** A name in uncompressed wire form, lowercased: RFC 8945 §4.3.3 signs key and algorithm names in canonical form (RFC 4034 §6.2). */
function canonicalName(name: string): Uint8Array {
  return dns.name.encode(name.toLowerCase());
}

function uint16(value: number): Uint8Array {
  return new Uint8Array([value >> 8, value & 0xff]);
}

/** RFC 8945 §4.3.3: the 48-bit time signed, then the 16-bit fudge. */
function timeAndFudge(seconds: number, fudge: number): Uint8Array {
  const high = Math.floor(seconds / 2 ** 32);
  return new Uint8Array([high >> 8, high & 0xff, seconds >>> 24, (seconds >>> 16) & 0xff, (seconds >>> 8) & 0xff, seconds & 0xff, fudge >> 8, fudge & 0xff]);
}

/** The TSIG variables that follow the message in the MAC's input (RFC 8945 §4.3.3). */
function tsigVariables(key: TsigKey, seconds: number, fudge: number, error: number, other: Uint8Array): Uint8Array {
  return concatBytes(canonicalName(key.name), uint16(CLASS_ANY), new Uint8Array(4), canonicalName(key.algorithm), timeAndFudge(seconds, fudge),
    uint16(error), uint16(other.length), other);
}

async function hmac(key: TsigKey, data: Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey('raw', new Uint8Array(key.secret), { name: 'HMAC', hash: TSIG_HASHES[key.algorithm] }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, new Uint8Array(data)));
}

/** A signed request, and the MAC that the server's signed answer covers (RFC 8945 §5.3.1). */
export interface SignedMessage {
  message: Uint8Array;
  mac: Uint8Array;
}

/** Appends a TSIG record to `message` (RFC 8945 §5.1), signed at `now` (milliseconds since the epoch). */
export async function signMessage(message: Uint8Array, key: TsigKey, now: number): Promise<SignedMessage> {
  const seconds = Math.floor(now / 1000);
  const mac = await hmac(key, concatBytes(message, tsigVariables(key, seconds, TSIG_FUDGE_SECONDS, 0, new Uint8Array(0))));
  const id = (message[0]! << 8) | message[1]!;
  const rdata = concatBytes(canonicalName(key.algorithm), timeAndFudge(seconds, TSIG_FUDGE_SECONDS), uint16(mac.length), mac, uint16(id), uint16(0), uint16(0));
  const record = concatBytes(canonicalName(key.name), uint16(TYPE_TSIG), uint16(CLASS_ANY), new Uint8Array(4), uint16(rdata.length), rdata);
  const signed = concatBytes(message, record);
  const count = ((message[ARCOUNT_OFFSET]! << 8) | message[ARCOUNT_OFFSET + 1]!) + 1;
  signed.set(uint16(count), ARCOUNT_OFFSET);
  return { message: signed, mac };
}

/** A TSIG record as read from an answer (RFC 8945 §4.2), and where it starts in the message. */
interface TsigRecord {
  offset: number;
  keyName: string;
  algorithm: string;
  seconds: number;
  fudge: number;
  mac: Uint8Array;
  originalId: number;
  error: number;
  other: Uint8Array;
}

/** The library's decoders tell how many bytes the last call read in `decode.bytes`, which its types leave out. */
type Decoder<T> = { decode: ((bytes: Uint8Array, offset?: number) => T) & { bytes: number } };

/** The offset after `count` entries decoded with `codec` from `offset`. */
function skip(bytes: Uint8Array, offset: number, count: number, codec: Decoder<unknown>): number {
  for (let index = 0; index < count; index++) {
    codec.decode(bytes, offset);
    offset += codec.decode.bytes;
  }
  return offset;
}

/** RFC 8945 §5.3: a signed answer ends with its TSIG record, the last of the additional section. */
function readTsigRecord(bytes: Uint8Array): TsigRecord | undefined {
  const count = (index: number) => (bytes[4 + 2 * index]! << 8) | bytes[5 + 2 * index]!;
  const additional = count(3);
  if (additional === 0) return undefined;
  const question = dns.question as unknown as Decoder<unknown>;
  const answer = dns.answer as unknown as Decoder<unknown>;
  const name = dns.name as unknown as Decoder<string>;
  let offset = skip(bytes, HEADER_LENGTH, count(0), question);
  offset = skip(bytes, offset, count(1) + count(2) + additional - 1, answer);
  const start = offset;
  const keyName = name.decode(bytes, offset);
  offset += name.decode.bytes;
  const field = (at: number) => (bytes[at]! << 8) | bytes[at + 1]!;
  if (field(offset) !== TYPE_TSIG) return undefined;
  offset += 10;
  const algorithm = name.decode(bytes, offset);
  offset += name.decode.bytes;
  const seconds = field(offset) * 2 ** 32 + (((field(offset + 2) << 16) | field(offset + 4)) >>> 0);
  const fudge = field(offset + 6);
  const macLength = field(offset + 8);
  offset += 10;
  const mac = bytes.slice(offset, offset + macLength);
  offset += macLength;
  const otherLength = field(offset + 4);
  return {
    offset: start, keyName: keyName.toLowerCase(), algorithm: algorithm.toLowerCase(), seconds, fudge, mac, originalId: field(offset), error: field(offset + 2),
    other: bytes.slice(offset + 6, offset + 6 + otherLength),
  };
}

/**
 * Checks a signed request's answer (RFC 8945 §5.3.2, §5.4): its MAC over the request's MAC, the answer without its
 * TSIG record and the TSIG variables. Returns the TSIG error's name (BADSIG, BADKEY, BADTIME), or undefined when
 * the answer is signed and sound; an answer that fails the check throws.
 */
export async function verifyAnswer(answer: Uint8Array, key: TsigKey, request: SignedMessage, now: number): Promise<string | undefined> {
  const tsig = readTsigRecord(answer);
  if (!tsig) throw new Error('the answer is not signed (no TSIG record)');
  // §5.3.2: errors about our key or MAC come unsigned, since the server cannot sign with a key it does not trust.
  if (tsig.error !== 0) return TSIG_ERRORS[tsig.error] ?? `TSIG error ${tsig.error}`;
  if (tsig.keyName !== key.name || tsig.algorithm !== key.algorithm) throw new Error(`the answer is signed with key "${tsig.keyName}" (${tsig.algorithm}), not ours`);
  const unsigned = answer.slice(0, tsig.offset);
  unsigned.set(uint16(tsig.originalId), 0);
  unsigned.set(uint16(((answer[ARCOUNT_OFFSET]! << 8) | answer[ARCOUNT_OFFSET + 1]!) - 1), ARCOUNT_OFFSET);
  const expected = await hmac(key, concatBytes(uint16(request.mac.length), request.mac, unsigned, tsigVariables(key, tsig.seconds, tsig.fudge, 0, tsig.other)));
  if (!bytesEqual(expected, tsig.mac)) throw new Error('the answer\'s TSIG signature does not verify with our key');
  if (Math.abs(now / 1000 - tsig.seconds) > tsig.fudge) throw new Error(`the answer was signed at ${new Date(tsig.seconds * 1000).toISOString()}, outside the fudge of ${tsig.fudge} s`);
  return undefined;
}

/** A random message ID (RFC 5452 §9.2: guessable IDs invite spoofed answers). */
function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0]!;
}

/** A query for `name`'s records of `type`; `recursive` sets RD for a resolver, off for an authoritative server. */
export function buildQuery(name: string, type: 'CNAME' | 'SOA' | 'NS' | 'A' | 'AAAA' | 'TXT', recursive: boolean): Uint8Array {
  return dns.packet.encode({ type: 'query', id: randomId(), flags: recursive ? dns.RECURSION_DESIRED : 0, questions: [{ type, name }] });
}

/** One TXT record that an update adds (with this TTL) or deletes by name, type and value (RFC 2136 §2.5.1, §2.5.4). */
export interface TxtChange {
  action: 'add' | 'delete';
  name: string;
  value: string;
  ttl: number;
}

/** An UPDATE message (RFC 2136 §2) for `zone`: the zone section names it, the update section holds the change. */
export function buildUpdate(zone: string, change: TxtChange): Uint8Array {
  const record = { type: 'TXT' as const, name: change.name, class: 'IN' as const, ttl: change.action === 'add' ? change.ttl : 0, data: [change.value] };
  const message = dns.packet.encode({ type: 'query', id: randomId(), flags: OPCODE_UPDATE << 11, questions: [{ type: 'SOA', name: zone }], authorities: [record] });
  if (change.action === 'delete') {
    const classOffset = HEADER_LENGTH + dns.question.encodingLength({ type: 'SOA', name: zone }) + dns.name.encodingLength(change.name) + 2;
    message.set(uint16(CLASS_NONE), classOffset);
  }
  return message;
}

/** An answer as the checks read it: header bits, the RCODE's name, and its sections. */
export interface DnsAnswer {
  id: number;
  rcode: string;
  authoritative: boolean;
  truncated: boolean;
  answers: dns.Answer[];
  authorities: dns.Answer[];
}

export function readAnswer(bytes: Uint8Array): DnsAnswer {
  const decoded = dns.packet.decode(bytes);
  return {
    id: decoded.id ?? 0,
    rcode: decoded.rcode ?? 'NOERROR',
    authoritative: decoded.flag_aa ?? false,
    truncated: decoded.flag_tc ?? false,
    answers: decoded.answers ?? [],
    authorities: decoded.authorities ?? [],
  };
}

/** The message ID, which an answer must repeat (RFC 1035 §4.1.1). */
export function messageId(message: Uint8Array): number {
  return (message[0]! << 8) | message[1]!;
}

/** The TXT values in `answers` at `name` (case-insensitive, RFC 4343), each joined from its strings. */
export function txtValues(answers: readonly dns.Answer[], name: string): string[] {
  return answers
    .filter((record) => record.type === 'TXT' && sameName(record.name, name))
    .map((record) => [record.data as Uint8Array[] | Uint8Array].flat().map((part) => utf8Decode(part)).join(''));
}

/** RFC 4343: names compare without regard to ASCII case, and a trailing dot changes nothing. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}
