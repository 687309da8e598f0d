// The two response headers whose grammar ACME leans on: Link (RFC 8288; RFC 8555 §7.4.2, §7.1) and Retry-After
// (RFC 9110 §10.2.3). Pure parsing, no I/O.

/**
 * One relation of a Link header (RFC 8288): ACME uses `up`, `alternate` and `index` (RFC 8555 §7.4.2, §7.1).
 *
 * @example
 * ```ts
 * import { parseLinkHeader } from "@acmets/acme-client";
 * const [link] = parseLinkHeader('<https://ca.example/chain/1>;rel="alternate"', "https://ca.example/cert/1");
 * console.log(link.rel, link.url); // "alternate" "https://ca.example/chain/1"
 * ```
 */
export interface Link {
  /** The relation type, lowercase. */
  rel: string;
  /** The target, resolved against the request URL. */
  url: string;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const LINK_PARAM = new RegExp(`\\s*;\\s*(${TOKEN})\\s*(?:=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|(${TOKEN})))?`, 'y');

/**
 * RFC 8288 §3: `<url>; rel="up", <url2>; rel="alternate index"`, one entry per relation, URLs resolved against `base`.
 *
 * @example
 * ```ts
 * import { parseLinkHeader } from "@acmets/acme-client";
 * const links = parseLinkHeader('<../dir>;rel="index", <https://ca.example/alt/1>;rel="alternate"', "https://ca.example/cert/1");
 * console.log(links.map((link) => link.rel)); // ["index", "alternate"]
 * ```
 */
export function parseLinkHeader(header: string | null, base: string): Link[] {
  const links: Link[] = [];
  if (!header) return links;
  let at = 0;
  while (at < header.length) {
    const open = header.indexOf('<', at);
    const close = open < 0 ? -1 : header.indexOf('>', open);
    if (close < 0) break;
    const target = header.slice(open + 1, close);
    const rels: string[] = [];
    LINK_PARAM.lastIndex = close + 1;
    for (let match = LINK_PARAM.exec(header); match; match = LINK_PARAM.exec(header)) {
      if (match[1]!.toLowerCase() === 'rel') {
        const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
        rels.push(...value.toLowerCase().split(/\s+/).filter(Boolean));
      }
      at = LINK_PARAM.lastIndex;
    }
    at = Math.max(at, close + 1);
    const comma = header.indexOf(',', at);
    at = comma < 0 ? header.length : comma + 1;
    let url: string;
    try {
      url = new URL(target, base).href;
    } catch {
      continue;
    }
    for (const rel of rels) links.push({ rel, url });
  }
  return links;
}

const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * RFC 9110 §10.2.3: delay-seconds or an IMF-fixdate. Anything else is ignored, as if absent.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "@acmets/acme-client";
 * const when = parseRetryAfter("120", Date.now()); // two minutes from now
 * parseRetryAfter("soon", Date.now()); // undefined
 * ```
 */
export function parseRetryAfter(header: string | null, now: number): Date | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d{1,10}$/.test(text)) return new Date(now + Number(text) * 1000);
  if (!HTTP_DATE.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}
