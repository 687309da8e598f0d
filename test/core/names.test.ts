import { assertEquals, assertThrows, test } from '../_harness.ts';
import { identifierToString, ipFromBytes, ipToBytes, isWildcard, normalizeIdentifiers } from '../../core/names.ts';
import type { Identifier } from '../../core/names.ts';

const dns = (value: string): Identifier => ({ type: 'dns', value });
const ip = (value: string): Identifier => ({ type: 'ip', value });

const GOOD: [string, Identifier][] = [
  ['example.com', dns('example.com')],
  ['  WWW.Example.COM.  ', dns('www.example.com')],
  ['bücher.example', dns('xn--bcher-kva.example')],
  ['Bücher.Example', dns('xn--bcher-kva.example')],
  ['xn--bcher-kva.example', dns('xn--bcher-kva.example')],
  ['*.bücher.example', dns('*.xn--bcher-kva.example')],
  ['*.example.com', dns('*.example.com')],
  ['例え.テスト', dns('xn--r8jz45g.xn--zckzah')],
  ['a\u3002b.example', dns('a.b.example')], // UTS #46 maps the ideographic full stop to "."
  ['ab--c.example', dns('ab--c.example')],
  ['1a.example', dns('1a.example')],
  ['a'.repeat(63) + '.example', dns('a'.repeat(63) + '.example')],
  ['192.0.2.10', ip('192.0.2.10')],
  ['0.0.0.0', ip('0.0.0.0')],
  ['::1', ip('::1')],
  ['::', ip('::')],
  ['2001:DB8::0:1', ip('2001:db8::1')],
  ['2001:0db8:0000:0000:0001:0000:0000:0001', ip('2001:db8::1:0:0:1')], // RFC 5952 §4.2.3: the first of equal runs
  ['1:0:0:2:0:0:0:3', ip('1:0:0:2::3')], // §4.2.3: the longest run
  ['2001:db8:0:1:1:1:1:1', ip('2001:db8:0:1:1:1:1:1')], // §4.2.2: "::" never stands for one group
  ['::ffff:192.0.2.1', ip('::ffff:c000:201')],
  ['fe80::', ip('fe80::')],
];

for (const [input, expected] of GOOD) {
  test(`names: ${JSON.stringify(input)} is ${expected.type} ${expected.value}`, () => {
    assertEquals(normalizeIdentifiers([input]), [expected]);
  });
}

const BAD: [string, string][] = [
  ['', 'Invalid name "": it is empty'],
  ['   ', 'Invalid name "   ": it is empty'],
  ['a..example', 'Invalid name "a..example": it has an empty label'],
  ['.example', 'Invalid name ".example": it has an empty label'],
  ['example..', 'Invalid name "example..": it has an empty label'],
  ['a'.repeat(64) + '.example', 'is 64 octets long (at most 63)'],
  [('a'.repeat(63) + '.').repeat(4) + 'com', 'it is 259 octets long (at most 253)'],
  ['a_b.example', 'character "_" is not allowed in a DNS name'],
  ['a b.example', 'character " " is not allowed in a DNS name'],
  ['a%41.example', 'character "%" is not allowed in a DNS name'],
  ['user@example.com', 'character "@" is not allowed in a DNS name'],
  ['example.com/path', 'character "/" is not allowed in a DNS name'],
  ['-a.example', 'label "-a" starts or ends with a hyphen'],
  ['a-.example', 'label "a-" starts or ends with a hyphen'],
  ['*', '"*" is allowed only as the whole first label'],
  ['a.*.example', '"*" is allowed only as the whole first label'],
  ['*a.example', '"*" is allowed only as the whole first label'],
  ['*.*.example', '"*" is allowed only as the whole first label'],
  ['*.192.0.2.1', 'Invalid name "*.192.0.2.1": a wildcard cannot cover an IP address'],
  ['*.::1', 'Invalid name "*.::1": a wildcard cannot cover an IP address'],
  ['1.2.3', 'Invalid name "1.2.3": its last label is numeric'],
  ['256.1.1.1', 'its last label is numeric'],
  ['01.2.3.4', 'its last label is numeric'],
  ['0x7f.1', 'its last label is numeric'],
  ['example.123', 'its last label is numeric'],
  ['xn--zz.example', 'Invalid name "xn--zz.example": label "xn--zz" is not a valid A-label'],
  ['Bücher.xn--zz', 'label "xn--zz" is not a valid A-label'],
  ['a\uff0fb.example', 'Invalid name "a／b.example": it is not a valid internationalized domain name'], // fullwidth solidus maps to "/"
  ['a\u00a0b.example', 'Invalid name "a\u00a0b.example": it'], // no-break space maps to a space
  ['xn--abc.example', 'Invalid name "xn--abc.example": label "xn--abc" is not a valid A-label'], // decodes to ASCII only
  ['1::2::3', 'Invalid name "1::2::3": it has a colon but is not an IPv6 address'],
  ['fe80::1%eth0', 'it has a colon but is not an IPv6 address'],
  ['1:2:3:4:5:6:7:8:9', 'it has a colon but is not an IPv6 address'],
  ['1.2.3.4::', 'it has a colon but is not an IPv6 address'],
  ['12345::', 'it has a colon but is not an IPv6 address'],
  ['example.com:443', 'it has a colon but is not an IPv6 address'],
];

for (const [input, message] of BAD) {
  test(`names: ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)} is refused`, () => {
    assertThrows(() => normalizeIdentifiers([input]), RangeError, message);
  });
}

test('names: an empty list is refused', () => {
  assertThrows(() => normalizeIdentifiers([]), RangeError, 'No names given');
});

test('names: duplicates after normalisation are refused, naming both spellings', () => {
  assertThrows(() => normalizeIdentifiers(['a.example', 'b.example', 'a.example']), RangeError, 'Duplicate name "a.example"');
  assertThrows(() => normalizeIdentifiers(['bücher.example', 'XN--BCHER-KVA.example.']), RangeError,
    'Duplicate name "XN--BCHER-KVA.example.": it is xn--bcher-kva.example, as is "bücher.example"');
  assertThrows(() => normalizeIdentifiers(['::1', '0:0::1']), RangeError, 'Duplicate name "0:0::1": it is ::1, as is "::1"');
});

test('names: the order is kept and mixed types are allowed', () => {
  assertEquals(normalizeIdentifiers(['b.example', '192.0.2.1', 'a.example', '2001:db8::1']),
    [dns('b.example'), ip('192.0.2.1'), dns('a.example'), ip('2001:db8::1')]);
});

test('names: identifierToString round-trips through normalizeIdentifiers', () => {
  const identifiers = normalizeIdentifiers(['*.bücher.example', '192.0.2.1', '2001:db8::1']);
  assertEquals(normalizeIdentifiers(identifiers.map(identifierToString)), identifiers);
});

test('names: isWildcard', () => {
  assertEquals(isWildcard(dns('*.example.com')), true);
  assertEquals(isWildcard(dns('example.com')), false);
  assertEquals(isWildcard(ip('::1')), false);
});

test('names: ipToBytes and ipFromBytes', () => {
  assertEquals(ipToBytes('192.0.2.1'), new Uint8Array([192, 0, 2, 1]));
  assertEquals(ipToBytes('::1'), new Uint8Array([...new Array<number>(15).fill(0), 1]));
  assertEquals(ipToBytes('2001:db8::ff00:42:8329'), new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29]));
  assertEquals(ipFromBytes(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42, 0x83, 0x29])), '2001:db8::ff00:42:8329');
  assertThrows(() => ipToBytes('example.com'), RangeError, 'Invalid IP address "example.com"');
  assertThrows(() => ipFromBytes(new Uint8Array(5)), RangeError, 'Invalid IP address: 5 octets (expected 4 or 16)');
});

test('names: our IPv6 text agrees with the URL parser (RFC 5952 §4) on assorted forms', () => {
  for (const form of ['2001:db8:0:0:1:0:0:1', '0:0:0:0:0:0:0:0', '1:0:0:0:0:0:0:0', '0:0:0:0:0:0:0:1', '1:2:0:0:5:0:0:8', 'ffff::ffff', '0:1:0:1:0:1:0:1']) {
    assertEquals(`[${normalizeIdentifiers([form])[0]!.value}]`, new URL(`http://[${form}]/`).hostname, form);
  }
});
