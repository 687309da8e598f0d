// CAA pre-check (RFC 8659): before ordering, find each name's relevant CAA record set and refuse early, naming the
// record and where it sits, when it does not let this CA issue, instead of failing later at validation.

import type { Identifier } from './names.ts';

/**
 * One CAA record (RFC 8659 §4.1).
 *
 * @example
 * ```ts
 * import type { CaaRecord } from "@acmets/acme-client";
 * const record: CaaRecord = { flags: 0, tag: "issue", value: "letsencrypt.org; validationmethods=dns-01" };
 * ```
 */
export interface CaaRecord {
  /** The flags octet; 128 is the issuer critical flag. */
  flags: number;
  /** The property tag: issue, issuewild, iodef, … */
  tag: string;
  /** The property value, as text. */
  value: string;
  /** The name the record sits on when the lookup followed a CNAME to it; the queried name otherwise. */
  owner?: string;
}

/**
 * Looks up the CAA record set at one name, following CNAMEs as any DNS query does (RFC 8659 §3). No records
 * (NXDOMAIN, NODATA) is an empty array; a lookup that fails (SERVFAIL, timeout) rejects.
 *
 * @example
 * ```ts
 * import type { CaaResolver } from "@acmets/acme-client";
 * // Records from a fixed table, e.g. for a test.
 * const resolver: CaaResolver = {
 *   caa: async (name) => (name === "example.com" ? [{ flags: 0, tag: "issue", value: "letsencrypt.org" }] : []),
 * };
 * ```
 */
export interface CaaResolver {
  /** The CAA records at `name`, empty when it has none. */
  caa(name: string): Promise<CaaRecord[]>;
}

/**
 * What checkCaa needs: the names, the CA's identities, and a resolver.
 *
 * @example
 * ```ts
 * import { checkCaa, normalizeIdentifiers } from "@acmets/acme-client";
 * const result = await checkCaa({
 *   identifiers: normalizeIdentifiers(["www.example.com"]),
 *   caaIdentities: ["letsencrypt.org"],
 *   resolver: { caa: async () => [] },
 * });
 * ```
 */
export interface CaaCheckOptions {
  /** The names to check; IP addresses are skipped. */
  identifiers: readonly Identifier[];
  /** The directory's `meta.caaIdentities` (RFC 8555 §7.1.1). */
  caaIdentities?: readonly string[];
  /** Looks up the records. */
  resolver: CaaResolver;
  /** For RFC 8657's `accounturi` parameter; unchecked when absent. */
  accountUrl?: string;
  /** The challenge types the client can answer, for RFC 8657's `validationmethods`; unchecked when absent. */
  challengeTypes?: readonly string[];
}

/**
 * What checkCaa found when nothing forbids issuance.
 *
 * @example
 * ```ts
 * import { checkCaa, normalizeIdentifiers } from "@acmets/acme-client";
 * const { checked, notes } = await checkCaa({ identifiers: normalizeIdentifiers(["example.com"]), caaIdentities: ["letsencrypt.org"], resolver: { caa: async () => [] } });
 * for (const note of notes) console.warn(note);
 * ```
 */
export interface CaaCheckResult {
  /** False when the check could not run at all (the CA lists no caaIdentities). */
  checked: boolean;
  /** What the user should know although nothing was refused, e.g. a lookup that failed. */
  notes: string[];
}

/**
 * One name the CA would refuse, with the records that forbid it.
 *
 * @example
 * ```ts
 * import { CaaError, checkCaa, normalizeIdentifiers } from "@acmets/acme-client";
 * try {
 *   await checkCaa({ identifiers: normalizeIdentifiers(["example.com"]), caaIdentities: ["letsencrypt.org"], resolver: { caa: async () => [{ flags: 0, tag: "issue", value: "other.example" }] } });
 * } catch (error) {
 *   if (error instanceof CaaError) for (const refusal of error.refusals) console.error(refusal.name, refusal.records);
 * }
 * ```
 */
export interface CaaRefusal {
  /** The identifier refused. */
  identifier: Identifier;
  /** The name whose record set applies: the identifier's name or a parent. */
  name: string;
  /** The relevant record set. */
  records: CaaRecord[];
  /** One line naming the record, where it sits and the name refused. */
  message: string;
}

/**
 * The CA would refuse at least one name; `refusals` holds each, and the message joins theirs.
 *
 * @example
 * ```ts
 * import { CaaError, checkCaa, normalizeIdentifiers } from "@acmets/acme-client";
 * try {
 *   await checkCaa({ identifiers: normalizeIdentifiers(["example.com"]), caaIdentities: ["letsencrypt.org"], resolver: { caa: async () => [{ flags: 0, tag: "issue", value: ";" }] } });
 * } catch (error) {
 *   if (error instanceof CaaError) console.error(error.message);
 * }
 * ```
 */
export class CaaError extends Error {
  /** Always "CaaError". */
  override name = 'CaaError';
  /** Each name refused. */
  readonly refusals: CaaRefusal[];

  /** The message joins the refusals' messages. */
  constructor(refusals: CaaRefusal[]) {
    super(refusals.map((refusal) => refusal.message).join('; '));
    this.refusals = refusals;
  }
}

/**
 * Property tags a CA understands, so a critical flag on them is no reason to refuse (the IANA "Certification
 * Authority Restriction Properties" registry). Only a critical tag outside it makes every CA refuse (§4.1);
 * the CA applies the others itself, so the pre-check does not second-guess them.
 */
const KNOWN_TAGS = new Set(['issue', 'issuewild', 'iodef', 'contactemail', 'contactphone', 'issuemail', 'issuevmc']);
const CRITICAL_FLAG = 128; // §4.1: bit 0, the most significant bit of the flags octet

/**
 * Checks every DNS identifier against its relevant CAA record set (§3). Resolves when issuance is allowed, or when
 * the CA publishes no caaIdentities (then `checked` is false); rejects with a CaaError naming each refusing record.
 * CAA is defined for DNS names only, so IP identifiers are skipped.
 *
 * @example
 * ```ts
 * import { checkCaa, normalizeIdentifiers } from "@acmets/acme-client";
 * await checkCaa({
 *   identifiers: normalizeIdentifiers(["example.com", "*.example.com"]),
 *   caaIdentities: ["letsencrypt.org"],
 *   resolver: { caa: async (name) => (name === "example.com" ? [{ flags: 0, tag: "issue", value: "letsencrypt.org" }] : []) },
 * });
 * ```
 */
export async function checkCaa(options: CaaCheckOptions): Promise<CaaCheckResult> {
  const identities = (options.caaIdentities ?? []).map((identity) => identity.toLowerCase().replace(/\.$/, ''));
  if (identities.length === 0) return { checked: false, notes: ['The CA lists no caaIdentities in its directory, so CAA records were not checked'] };
  const lookups = new Map<string, Promise<CaaRecord[]>>();
  const lookup = (name: string) => {
    let pending = lookups.get(name);
    if (!pending) lookups.set(name, (pending = options.resolver.caa(name)));
    return pending;
  };
  const notes: string[] = [];
  const refusals: CaaRefusal[] = [];
  await Promise.all(options.identifiers.filter((identifier) => identifier.type === 'dns').map(async (identifier) => {
    const wildcard = identifier.value.startsWith('*.');
    let found: { name: string; records: CaaRecord[] } | undefined;
    try {
      found = await relevantRecordSet(wildcard ? identifier.value.slice(2) : identifier.value, lookup);
    } catch (error) {
      notes.push(`CAA lookup for ${identifier.value} failed (${(error as Error).message}); the CA will check it itself`);
      return;
    }
    if (!found) return;
    const refusal = judge(identifier, wildcard, found.name, found.records, identities, options);
    if (refusal) refusals.push(refusal);
  }));
  if (refusals.length > 0) throw new CaaError(refusals);
  return { checked: true, notes };
}

/** §3: the first non-empty CAA record set from the name toward the root, not including the root itself. */
async function relevantRecordSet(name: string, lookup: (name: string) => Promise<CaaRecord[]>): Promise<{ name: string; records: CaaRecord[] } | undefined> {
  const labels = name.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length; i++) {
    const candidate = labels.slice(i).join('.');
    const records = await lookup(candidate);
    if (records.length > 0) return { name: candidate, records };
  }
  return undefined;
}

function judge(
  identifier: Identifier, wildcard: boolean, name: string, records: CaaRecord[], identities: string[], options: CaaCheckOptions,
): CaaRefusal | undefined {
  const refuse = (refusing: CaaRecord[], why: string): CaaRefusal => {
    const owner = refusing[0]!.owner?.replace(/\.$/, '');
    const where = owner && owner.toLowerCase() !== name.toLowerCase() ? `${owner} (CNAME target of ${name})` : name;
    const shown = refusing.map((record) => `${record.flags} ${record.tag} ${JSON.stringify(record.value)}`).join(', ');
    const message = `CAA record${refusing.length > 1 ? 's' : ''} ${shown} on ${where} ${refusing.length > 1 ? 'forbid' : 'forbids'} issuance for ${identifier.value} ${why}`;
    return { identifier, name, records: refusing, message };
  };

  const critical = records.filter((record) => (record.flags & CRITICAL_FLAG) !== 0 && !KNOWN_TAGS.has(record.tag.toLowerCase()));
  if (critical.length > 0) return refuse(critical, 'by any CA: the tag is unknown and flagged critical (RFC 8659 §4.1)');

  // §4.3: for a wildcard, issuewild records replace issue records when there are any.
  const issuewild = records.filter((record) => record.tag.toLowerCase() === 'issuewild');
  const relevant = wildcard && issuewild.length > 0 ? issuewild : records.filter((record) => record.tag.toLowerCase() === 'issue');
  if (relevant.length === 0) return undefined;

  const reasons: string[] = [];
  for (const record of relevant) {
    const reason = mismatch(parseIssueValue(record.value), identities, options);
    if (reason === undefined) return undefined;
    reasons.push(reason);
  }
  const distinct = [...new Set(reasons)].filter(Boolean);
  return refuse(relevant, `by this CA (caaIdentities: ${identities.join(', ')}${distinct.length ? `; ${distinct.join('; ')}` : ''})`);
}

/**
 * An `issue` or `issuewild` value, read (RFC 8659 §4.2).
 *
 * @example
 * ```ts
 * import { parseIssueValue } from "@acmets/acme-client";
 * const value = parseIssueValue("letsencrypt.org; validationmethods=dns-01");
 * console.log(value?.issuer, value?.parameters.get("validationmethods"));
 * ```
 */
export interface IssueValue {
  /** Lowercase; empty when the record forbids every CA, as `;` does. */
  issuer: string;
  /** The parameters by tag, e.g. accounturi and validationmethods (RFC 8657). */
  parameters: Map<string, string>;
}

const ISSUER_DOMAIN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;
const PARAMETER = /^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)[ \t]*=[ \t]*([\x21-\x3a\x3c-\x7e]*)$/i;

/**
 * §4.2: issuer-domain-name, then optional `; tag=value` parameters. Undefined when the value is malformed.
 *
 * @example
 * ```ts
 * import { parseIssueValue } from "@acmets/acme-client";
 * parseIssueValue(";"); // { issuer: "", parameters: Map {} }: no CA may issue
 * ```
 */
export function parseIssueValue(value: string): IssueValue | undefined {
  const [domainPart, ...parameterParts] = value.split(';');
  const issuer = domainPart!.trim().toLowerCase();
  if (issuer !== '' && !ISSUER_DOMAIN.test(issuer)) return undefined;
  const parameters = new Map<string, string>();
  for (const part of parameterParts) {
    const text = part.trim();
    if (text === '') continue;
    const match = PARAMETER.exec(text);
    if (!match) return undefined;
    parameters.set(match[1]!.toLowerCase(), match[2]!);
  }
  return { issuer, parameters };
}

/** Why one issue/issuewild value does not admit this CA, or undefined when it does; '' needs no explanation. */
function mismatch(value: IssueValue | undefined, identities: string[], options: CaaCheckOptions): string | undefined {
  if (!value) return 'a record is malformed, which admits no CA (RFC 8659 §4.2)';
  if (value.issuer === '' || !identities.includes(value.issuer)) return '';
  // RFC 8657 §3 and §4: the CA enforces these parameters; check them when the caller knows the answer.
  const accountUri = value.parameters.get('accounturi');
  if (accountUri !== undefined && options.accountUrl !== undefined && accountUri !== options.accountUrl) {
    return `accounturi ${accountUri} is not this account (${options.accountUrl})`;
  }
  const methods = value.parameters.get('validationmethods');
  const types = options.challengeTypes;
  if (methods !== undefined && types !== undefined && !methods.split(',').some((method) => types.includes(method))) {
    return `validationmethods ${methods} allows none of ${types.join(', ')}`;
  }
  return undefined;
}
