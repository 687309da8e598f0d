// Certificate names as ACME identifiers: DNS names in A-label form (RFC 5890) and IP addresses (RFC 8738),
// checked and normalised once so that the order, the CSR and the downloaded certificate all agree.

/**
 * The identifier types: DNS names (RFC 8555 §9.7.7) and IP addresses (RFC 8738).
 *
 * @example
 * ```ts
 * import type { IdentifierType } from "@acmets/acme-client";
 * const type: IdentifierType = "ip";
 * ```
 */
export type IdentifierType = 'dns' | 'ip';

/**
 * An ACME identifier, normalised: a DNS name in A-label form, or an IP address in canonical text.
 *
 * @example
 * ```ts
 * import { normalizeIdentifiers } from "@acmets/acme-client";
 * const [identifier] = normalizeIdentifiers(["Bücher.Example."]);
 * console.log(identifier); // { type: "dns", value: "xn--bcher-kva.example" }
 * ```
 */
export interface Identifier {
  /** "dns" or "ip". */
  type: IdentifierType;
  /** The name or address, normalised. */
  value: string;
}

const MAX_LABEL_OCTETS = 63; // RFC 1035 §2.3.4
const MAX_NAME_OCTETS = 253; // RFC 1035 §2.3.4: 255 on the wire, less the length octet and the root label

/**
 * Checks and normalises the names a user typed: trims, lowercases, converts Unicode to A-labels, strips one
 * trailing dot and recognises IPv4 and IPv6 addresses. Order is kept, since the first name becomes the CSR's CN.
 *
 * @example
 * ```ts
 * import { normalizeIdentifiers } from "@acmets/acme-client";
 * normalizeIdentifiers(["Example.COM", "*.example.com", "2001:DB8::1"]);
 * // [{ type: "dns", value: "example.com" }, { type: "dns", value: "*.example.com" }, { type: "ip", value: "2001:db8::1" }]
 * ```
 */
export function normalizeIdentifiers(names: readonly string[]): Identifier[] {
  if (names.length === 0) throw new RangeError('No names given: a certificate needs at least one name');
  const seen = new Map<string, string>();
  const identifiers: Identifier[] = [];
  for (const name of names) {
    const identifier = normalizeIdentifier(name);
    const key = `${identifier.type}:${identifier.value}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new RangeError(
        earlier === name
          ? `Duplicate name ${JSON.stringify(name)}`
          : `Duplicate name ${JSON.stringify(name)}: it is ${identifier.value}, as is ${JSON.stringify(earlier)}`,
      );
    }
    seen.set(key, name);
    identifiers.push(identifier);
  }
  return identifiers;
}

function normalizeIdentifier(name: string): Identifier {
  const invalid = (reason: string) => new RangeError(`Invalid name ${JSON.stringify(name)}: ${reason}`);
  let text = name.trim().toLowerCase();
  if (text.endsWith('.')) text = text.slice(0, -1);
  if (text === '') throw invalid('it is empty');

  const wildcard = text.startsWith('*.');
  const base = wildcard ? text.slice(2) : text;
  // Only IPv6 has colons; a zone (fe80::1%eth0) is local to one host, so no certificate can name it.
  const ip = base.includes(':') ? parseIpv6(base) : parseIpv4(base);
  if (ip) {
    if (wildcard) throw invalid('a wildcard cannot cover an IP address');
    return { type: 'ip', value: ipFromBytes(ip) };
  }
  if (base.includes(':')) throw invalid('it has a colon but is not an IPv6 address');
  // RFC 8555 §7.1.3: the wildcard is the whole leftmost label, and nothing else may carry one.
  if (base.includes('*')) throw invalid('"*" is allowed only as the whole first label, as in *.example.com');
  for (const char of base) {
    if (char.codePointAt(0)! < 0x80 && !/[a-z0-9.-]/.test(char)) throw invalid(`character ${JSON.stringify(char)} is not allowed in a DNS name`);
  }
  // A numeric last label is how the URL parser (and many resolvers) recognise IPv4 shorthands such as 1.2.3
  // or 0x7f.1; no top-level domain is numeric (RFC 3696 §2), so such a name can only be a malformed address.
  if (/(^|\.)(\d+|0x[0-9a-f]*)$/.test(base)) throw invalid('its last label is numeric, but it is not an IPv4 address (four numbers 0-255, no leading zeros)');

  const ascii = (wildcard ? '*.' : '') + toAscii(base, invalid);
  checkDnsName(ascii, invalid);
  return { type: 'dns', value: ascii };
}

/** UTS #46 mapping and Punycode through the URL parser, which every runtime ships (WHATWG URL "domain to ASCII"). */
function toAscii(text: string, invalid: (reason: string) => RangeError): string {
  // Chromium's URL parser passes A-labels through unchecked, so each one given is decoded here (RFC 5891 §5.4)
  // and must come back unchanged from its Unicode form.
  for (const label of text.split('.')) {
    if (!label.startsWith('xn--')) continue;
    const unicode = punycodeDecode(label.slice(4));
    if (unicode === undefined || /^[\x00-\x7f]*$/.test(unicode) || urlHostname(unicode) !== label) {
      throw invalid(`label ${JSON.stringify(label)} is not a valid A-label`);
    }
  }
  if (/^[a-z0-9.-]*$/.test(text)) return text;
  const hostname = urlHostname(text);
  if (hostname === undefined) throw invalid('it is not a valid internationalized domain name');
  if (!/^[a-z0-9.-]*$/.test(hostname)) throw invalid(`it maps to ${JSON.stringify(hostname)}, which is not a DNS name`);
  if (/(^|\.)\d+$/.test(hostname)) throw invalid(`it maps to ${JSON.stringify(hostname)}, whose last label is numeric`);
  return hostname;
}

function urlHostname(host: string): string | undefined {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

/** RFC 3492 §6.2 decoding, only to check A-labels; undefined when the input is not valid Punycode. */
function punycodeDecode(input: string): string | undefined {
  const BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700;
  const adapt = (delta: number, points: number, first: boolean): number => {
    delta = first ? Math.floor(delta / DAMP) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    for (; delta > ((BASE - TMIN) * TMAX) >> 1; k += BASE) delta = Math.floor(delta / (BASE - TMIN));
    return k + Math.floor(((BASE - TMIN + 1) * delta) / (delta + SKEW));
  };
  const delimiter = input.lastIndexOf('-');
  const output = Array.from(delimiter < 0 ? '' : input.slice(0, delimiter), (char) => char.codePointAt(0)!);
  let [n, i, bias, position] = [128, 0, 72, delimiter + 1];
  while (position < input.length) {
    const oldI = i;
    for (let w = 1, k = BASE; ; k += BASE) {
      if (position >= input.length) return undefined;
      const code = input.charCodeAt(position++);
      const digit = code >= 0x30 && code <= 0x39 ? code - 22 : code >= 0x61 && code <= 0x7a ? code - 0x61 : BASE;
      if (digit >= BASE) return undefined;
      i += digit * w;
      const t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
      if (digit < t) break;
      w *= BASE - t;
      if (i > 0x10ffff * (output.length + 1)) return undefined;
    }
    bias = adapt(i - oldI, output.length + 1, oldI === 0);
    n += Math.floor(i / (output.length + 1));
    i %= output.length + 1;
    if (n > 0x10ffff) return undefined;
    output.splice(i++, 0, n);
  }
  return String.fromCodePoint(...output);
}

function checkDnsName(ascii: string, invalid: (reason: string) => RangeError): void {
  const labels = ascii.split('.');
  for (const [index, label] of labels.entries()) {
    if (index === 0 && label === '*') continue;
    if (label === '') throw invalid('it has an empty label');
    if (label.length > MAX_LABEL_OCTETS) throw invalid(`label "${label.slice(0, 20)}…" is ${label.length} octets long (at most ${MAX_LABEL_OCTETS})`);
    if (label.startsWith('-') || label.endsWith('-')) throw invalid(`label ${JSON.stringify(label)} starts or ends with a hyphen`);
  }
  if (ascii.length > MAX_NAME_OCTETS) throw invalid(`it is ${ascii.length} octets long (at most ${MAX_NAME_OCTETS})`);
}

/**
 * The value as a user would type it; normalizeIdentifiers() maps it back to the same identifier.
 *
 * @example
 * ```ts
 * import { identifierToString } from "@acmets/acme-client";
 * console.log(identifierToString({ type: "ip", value: "192.0.2.1" })); // "192.0.2.1"
 * ```
 */
export function identifierToString(identifier: Identifier): string {
  return identifier.value;
}

/**
 * The identifiers one set has and the other lacks, by type and value; certificates, CSRs and orders all compare this
 * way.
 *
 * @example
 * ```ts
 * import { compareIdentifiers, normalizeIdentifiers } from "@acmets/acme-client";
 * const { missing, extra } = compareIdentifiers(normalizeIdentifiers(["a.example"]), normalizeIdentifiers(["a.example", "b.example"]));
 * // missing: [b.example], extra: []
 * ```
 */
export function compareIdentifiers(held: readonly Identifier[], wanted: readonly Identifier[]): { missing: Identifier[]; extra: Identifier[] } {
  const key = (identifier: Identifier) => `${identifier.type}:${identifier.value.toLowerCase()}`;
  const heldKeys = new Set(held.map(key));
  const wantedKeys = new Set(wanted.map(key));
  return { missing: wanted.filter((identifier) => !heldKeys.has(key(identifier))), extra: held.filter((identifier) => !wantedKeys.has(key(identifier))) };
}

/**
 * The identifiers a certificate names in its subjectAltName.
 *
 * @example
 * ```ts
 * import { identifiersOf } from "@acmets/acme-client";
 * identifiersOf({ dnsNames: ["example.com"], ipAddresses: ["192.0.2.1"] });
 * // [{ type: "dns", value: "example.com" }, { type: "ip", value: "192.0.2.1" }]
 * ```
 */
export function identifiersOf(names: { dnsNames: readonly string[]; ipAddresses: readonly string[] }): Identifier[] {
  return [...names.dnsNames.map((value) => ({ type: 'dns' as const, value })), ...names.ipAddresses.map((value) => ({ type: 'ip' as const, value }))];
}

/**
 * Whether a DNS identifier is a wildcard, "*.NAME" (RFC 8555 §7.1.3).
 *
 * @example
 * ```ts
 * import { isWildcard } from "@acmets/acme-client";
 * console.log(isWildcard({ type: "dns", value: "*.example.com" })); // true
 * ```
 */
export function isWildcard(identifier: Identifier): boolean {
  return identifier.type === 'dns' && identifier.value.startsWith('*.');
}

/**
 * The 4 or 16 octets of an IP identifier, as the SAN iPAddress carries them (RFC 5280 §4.2.1.6).
 *
 * @example
 * ```ts
 * import { ipToBytes } from "@acmets/acme-client";
 * console.log(ipToBytes("192.0.2.1")); // Uint8Array [192, 0, 2, 1]
 * ```
 */
export function ipToBytes(value: string): Uint8Array<ArrayBuffer> {
  const bytes = value.includes(':') ? parseIpv6(value) : parseIpv4(value);
  if (!bytes) throw new RangeError(`Invalid IP address ${JSON.stringify(value)}`);
  return bytes;
}

/**
 * Canonical text of 4 or 16 octets: dotted decimal (RFC 1123 §2.1) or RFC 5952 §4 IPv6, as RFC 8738 §3 asks.
 *
 * @example
 * ```ts
 * import { ipFromBytes } from "@acmets/acme-client";
 * console.log(ipFromBytes(new Uint8Array([32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))); // "2001:db8::1"
 * ```
 */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new RangeError(`Invalid IP address: ${bytes.length} octets (expected 4 or 16)`);
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = (part: number[]) => part.map((group) => group.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** Strict dotted decimal; leading zeros are refused because some parsers read them as octal. */
function parseIpv4(text: string): Uint8Array<ArrayBuffer> | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) return undefined;
  return new Uint8Array(parts.map(Number));
}

/** RFC 4291 §2.2 text forms, including "::" and a trailing dotted IPv4. */
function parseIpv6(text: string): Uint8Array<ArrayBuffer> | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = ipv6Groups(halves[0]!, !compressed);
  const tail = compressed ? ipv6Groups(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** The 16-bit groups of one side of "::"; a dotted IPv4 may only end the address. */
function ipv6Groups(half: string, endsAddress: boolean): number[] | undefined {
  if (half === '') return [];
  const groups: number[] = [];
  const parts = half.split(':');
  for (const [index, part] of parts.entries()) {
    const v4 = endsAddress && index === parts.length - 1 ? parseIpv4(part) : undefined;
    if (v4) groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    else if (/^[0-9a-f]{1,4}$/i.test(part)) groups.push(parseInt(part, 16));
    else return undefined;
  }
  return groups;
}
