// CAA lookups for the page's pre-check (core/caa.ts) over a DNS-over-HTTPS resolver's JSON API
// (`?name=…&type=CAA`, `Accept: application/dns-json`, as Google and Cloudflare serve it).

import type { CaaRecord, CaaResolver } from '../core/caa.ts';
import { hexDecode, utf8Decode } from '../core/encoding.ts';
import { dohAnswers, txtData, type DohOptions } from './browser.ts';

const DNS_TYPE_CAA = 257; // RFC 8659 §7.1

/**
 * One CAA record's data as a resolver writes it: the presentation form `0 issue "letsencrypt.org"` (RFC 8659
 * §4.1.1), or RFC 3597's generic `\# LENGTH HEX` (flags octet, tag length octet, tag, value) for a type it does not
 * know, which Cloudflare sends.
 */
export function parseCaaData(data: string): CaaRecord {
  const text = data.trim();
  const generic = /^\\#\s+(\d+)\s*([0-9a-fA-F\s]*)$/.exec(text);
  if (generic) {
    const bytes = hexDecode(generic[2]!.replace(/\s+/g, ''));
    const tagLength = bytes[1] ?? 0;
    if (bytes.length !== Number(generic[1]) || tagLength === 0 || bytes.length < 2 + tagLength) {
      throw new SyntaxError(`Cannot parse CAA record data ${JSON.stringify(data)}: the length or the tag length does not fit the bytes`);
    }
    return { flags: bytes[0]!, tag: String.fromCharCode(...bytes.subarray(2, 2 + tagLength)), value: utf8Decode(bytes.subarray(2 + tagLength)) };
  }
  const presentation = /^(\d{1,3})\s+([A-Za-z0-9]+)\s+(.*)$/s.exec(text);
  if (!presentation || Number(presentation[1]) > 255) {
    throw new SyntaxError(`Cannot parse CAA record data ${JSON.stringify(data)}: expected "FLAGS TAG VALUE" or "\\# LENGTH HEX"`);
  }
  return { flags: Number(presentation[1]), tag: presentation[2]!, value: txtData(presentation[3]!) };
}

/** A resolver for checkCaa; the DoH server follows CNAMEs, and each record keeps the name it was found on. */
export function dohCaaResolver(resolverUrl: string, options: DohOptions = {}): CaaResolver {
  return {
    async caa(name) {
      const answers = await dohAnswers(resolverUrl, name, 'CAA', options);
      return answers.filter((answer) => answer.type === DNS_TYPE_CAA).map((answer) => {
        const record = parseCaaData(answer.data);
        const owner = answer.name.replace(/\.$/, '');
        if (owner.toLowerCase() !== name.replace(/\.$/, '').toLowerCase()) record.owner = owner;
        return record;
      });
    },
  };
}
