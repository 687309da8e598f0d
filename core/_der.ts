// Strict DER reading and writing over asn1js for the key formats: each accessor checks the ASN.1 type it expects
// and names the structure in its SyntaxError, so a damaged key file says where it is damaged.

import * as asn1js from 'asn1js';
import { withoutLeadingZeros } from './encoding.ts';

export type DerNode = asn1js.AsnType;

export function parseDer(der: Uint8Array, what: string): DerNode {
  let parsed: ReturnType<typeof asn1js.fromBER>;
  try {
    parsed = asn1js.fromBER(der);
  } catch (error) {
    // asn1js throws, rather than reporting, on some bad contents, such as a GeneralizedTime that is no date.
    throw new SyntaxError(`Cannot parse ${what}: not DER (${(error as Error).message})`);
  }
  const { offset, result } = parsed;
  if (offset === -1) throw new SyntaxError(`Cannot parse ${what}: not DER (${result.error || 'malformed'})`);
  if (offset !== der.length) throw new SyntaxError(`Cannot parse ${what}: ${der.length - offset} bytes follow the DER value`);
  return result;
}

function typeName(node: DerNode): string {
  const id = node.idBlock;
  if (id.tagClass === 3) return `[${id.tagNumber}]`;
  return (node.constructor as { NAME?: string }).NAME ?? `tag ${id.tagNumber}`;
}

function mismatch(node: DerNode, expected: string, what: string): SyntaxError {
  return new SyntaxError(`Cannot parse ${what}: expected ${expected}, found ${typeName(node)}`);
}

/** The elements of a SEQUENCE, whose count must lie in [min, max]. */
export function sequenceOf(node: DerNode | undefined, what: string, min = 0, max = Infinity): DerNode[] {
  if (!node) throw new SyntaxError(`Cannot parse ${what}: it is missing`);
  if (!(node instanceof asn1js.Sequence)) throw mismatch(node, 'SEQUENCE', what);
  const items = node.valueBlock.value;
  if (items.length < min || items.length > max) {
    const expected = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new SyntaxError(`Cannot parse ${what}: ${items.length} elements, expected ${expected}`);
  }
  return items;
}

/** A non-negative INTEGER as big-endian bytes without leading zeros (the JWK form, RFC 7518 §6.3). */
export function unsignedInteger(node: DerNode | undefined, what: string): Uint8Array<ArrayBuffer> {
  if (!node) throw new SyntaxError(`Cannot parse ${what}: it is missing`);
  if (!(node instanceof asn1js.Integer)) throw mismatch(node, 'INTEGER', what);
  const bytes = node.valueBlock.valueHexView;
  if (bytes.length > 0 && bytes[0]! & 0x80) throw new SyntaxError(`Cannot parse ${what}: the INTEGER is negative`);
  return withoutLeadingZeros(bytes).slice();
}

export function smallInteger(node: DerNode | undefined, what: string): number {
  const bytes = unsignedInteger(node, what);
  if (bytes.length > 4) throw new SyntaxError(`Cannot parse ${what}: the INTEGER is too large`);
  return bytes.reduce((value, byte) => value * 256 + byte, 0);
}

export function objectIdentifier(node: DerNode | undefined, what: string): string {
  if (!node) throw new SyntaxError(`Cannot parse ${what}: it is missing`);
  if (!(node instanceof asn1js.ObjectIdentifier)) throw mismatch(node, 'OBJECT IDENTIFIER', what);
  return node.getValue();
}

export function octetString(node: DerNode | undefined, what: string): Uint8Array<ArrayBuffer> {
  if (!node) throw new SyntaxError(`Cannot parse ${what}: it is missing`);
  if (!(node instanceof asn1js.OctetString) || node.idBlock.isConstructed) throw mismatch(node, 'OCTET STRING', what);
  return node.valueBlock.valueHexView.slice();
}

/** A BIT STRING holding whole bytes, as keys and signatures always do. */
export function bitStringBytes(node: DerNode | undefined, what: string): Uint8Array<ArrayBuffer> {
  if (!node) throw new SyntaxError(`Cannot parse ${what}: it is missing`);
  if (!(node instanceof asn1js.BitString) || node.idBlock.isConstructed) throw mismatch(node, 'BIT STRING', what);
  if (node.valueBlock.unusedBits !== 0) throw new SyntaxError(`Cannot parse ${what}: the BIT STRING is not whole bytes`);
  return node.valueBlock.valueHexView.slice();
}

/** The content of the context-specific explicit tag [tag] among `items`, if present. */
export function explicitTagged(items: readonly DerNode[], tag: number, what: string): DerNode | undefined {
  const tagged = items.find((item) => item.idBlock.tagClass === 3 && item.idBlock.tagNumber === tag);
  if (!tagged) return undefined;
  if (!(tagged instanceof asn1js.Constructed) || tagged.valueBlock.value.length !== 1) {
    throw new SyntaxError(`Cannot parse ${what}: [${tag}] does not hold exactly one value`);
  }
  return tagged.valueBlock.value[0];
}

export function isNull(node: DerNode | undefined): boolean {
  return node instanceof asn1js.Null;
}

export function isSequence(node: DerNode | undefined): boolean {
  return node instanceof asn1js.Sequence;
}

// Writers: the few constructors the key formats need, so callers never touch asn1js directly.

/** An INTEGER from unsigned big-endian bytes, with the 0x00 that keeps a set top bit positive (X.690 §8.3). */
export function derUnsignedInteger(bytes: Uint8Array): DerNode {
  const trimmed = withoutLeadingZeros(bytes);
  const valueHex = trimmed.length > 0 && trimmed[0]! & 0x80 ? new Uint8Array([0, ...trimmed]) : trimmed.slice();
  return new asn1js.Integer({ valueHex: valueHex.length > 0 ? valueHex : new Uint8Array(1) });
}

export function derSmallInteger(value: number): DerNode {
  return new asn1js.Integer({ value });
}

export function derSequence(...items: DerNode[]): DerNode {
  return new asn1js.Sequence({ value: items });
}

export function derObjectIdentifier(oid: string): DerNode {
  return new asn1js.ObjectIdentifier({ value: oid });
}

export function derNull(): DerNode {
  return new asn1js.Null();
}

export function derOctetString(bytes: Uint8Array): DerNode {
  return new asn1js.OctetString({ valueHex: bytes.slice() });
}

export function derBitString(bytes: Uint8Array): DerNode {
  return new asn1js.BitString({ valueHex: bytes.slice() });
}

export function derExplicit(tag: number, inner: DerNode): DerNode {
  return new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: tag }, value: [inner] });
}

export function encodeDer(node: DerNode): Uint8Array<ArrayBuffer> {
  return new Uint8Array(node.toBER());
}
