// The pure response processors (readDirectory, readOrder, …): a parsed body in, a checked resource out, so tests can
// feed them recorded bodies; the names an error message needs come from the URL the body was read from.

import type { Identifier } from './names.ts';
import { UnexpectedResponseError, parseProblem, type Problem } from './errors.ts';
import { checkAcmeUrl } from './http.ts';
import type {
  Account, AccountStatus, Authorization, AuthorizationStatus, Challenge, ChallengeStatus, Directory, Order, OrderStatus,
} from './resources.ts';

type Json = Record<string, unknown>;

function malformed(what: string, url: string, reason: string): UnexpectedResponseError {
  return new UnexpectedResponseError(`Cannot read ${what} ${url}: ${reason}`, url);
}

function objectBody(body: unknown, what: string, url: string): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw malformed(what, url, 'the response is not a JSON object');
  return body as Json;
}

function stringValue(value: unknown, field: string, what: string, url: string): string {
  if (typeof value !== 'string') throw malformed(what, url, `"${field}" is ${value === undefined ? 'missing' : 'not a string'}`);
  return value;
}

function optionalString(raw: Json, field: string): string | undefined {
  return typeof raw[field] === 'string' ? (raw[field] as string) : undefined;
}

/** A URL the CA gave us: absolute, and https unless loopback, like the directory itself. */
function caUrl(value: unknown, field: string, what: string, url: string): string {
  try {
    return checkAcmeUrl(stringValue(value, field, what, url), `"${field}" URL`).href;
  } catch (error) {
    throw malformed(what, url, (error as Error).message);
  }
}

function statusField<T extends string>(raw: Json, allowed: readonly T[], what: string, url: string): T {
  const status = raw.status;
  if (typeof status !== 'string' || !allowed.includes(status as T)) throw malformed(what, url, `status ${JSON.stringify(status)} is not one of ${allowed.join(', ')}`);
  return status as T;
}

function identifierField(value: unknown, what: string, url: string): Identifier {
  const candidate = value as Identifier | undefined;
  if (typeof candidate !== 'object' || candidate === null || typeof candidate.type !== 'string' || typeof candidate.value !== 'string') {
    throw malformed(what, url, `identifier ${JSON.stringify(value)} is not {type, value}`);
  }
  return { type: candidate.type, value: candidate.value };
}

function problemField(raw: Json): Problem | undefined {
  return raw.error === undefined ? undefined : parseProblem(raw.error, 0, 'the CA gave no problem document');
}

/** Copies the optional string fields that are present, so that absent ones stay absent. */
function pickStrings<T>(raw: Json, fields: readonly (keyof T & string)[]): Partial<T> {
  const picked: Partial<Record<string, string>> = {};
  for (const field of fields) {
    const value = optionalString(raw, field);
    if (value !== undefined) picked[field] = value;
  }
  return picked as Partial<T>;
}

/**
 * A directory object (§7.1.1) from a parsed body, checked: the required URLs must be there and https (or loopback).
 *
 * @example
 * ```ts
 * import { readDirectory } from "@acmets/acme-client";
 * const directory = readDirectory(await (await fetch("https://acme-staging-v02.api.letsencrypt.org/directory")).json(), "https://acme-staging-v02.api.letsencrypt.org/directory");
 * ```
 */
export function readDirectory(body: unknown, url: string): Directory {
  const raw = objectBody(body, 'directory', url);
  const directory: Directory = { ...raw, newNonce: '', newAccount: '', newOrder: '', meta: {} };
  for (const field of ['newNonce', 'newAccount', 'newOrder'] as const) directory[field] = caUrl(raw[field], field, 'directory', url);
  for (const field of ['newAuthz', 'revokeCert', 'keyChange', 'renewalInfo'] as const) {
    if (raw[field] !== undefined) directory[field] = caUrl(raw[field], field, 'directory', url);
  }
  const meta = typeof raw.meta === 'object' && raw.meta !== null && !Array.isArray(raw.meta) ? (raw.meta as Json) : {};
  directory.meta = { ...meta };
  for (const field of ['termsOfService', 'website'] as const) if (typeof meta[field] !== 'string') delete directory.meta[field];
  if (!Array.isArray(meta.caaIdentities) || !meta.caaIdentities.every((v) => typeof v === 'string')) delete directory.meta.caaIdentities;
  if (typeof meta.externalAccountRequired !== 'boolean') delete directory.meta.externalAccountRequired;
  const profiles = meta.profiles as Json | undefined;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) delete directory.meta.profiles;
  else directory.meta.profiles = Object.fromEntries(Object.entries(profiles).map(([name, text]) => [name, typeof text === 'string' ? text : '']));
  return directory;
}

/**
 * An account object (§7.1.2) from a parsed body, checked, with its URL.
 *
 * @example
 * ```ts
 * import { readAccount } from "@acmets/acme-client";
 * const account = readAccount({ status: "valid", contact: ["mailto:ops@example.com"] }, "https://ca.example/acct/1");
 * ```
 */
export function readAccount(body: unknown, url: string): Account {
  const raw = objectBody(body, 'account', url);
  const account: Account = { url, status: statusField<AccountStatus>(raw, ['valid', 'deactivated', 'revoked'], 'account', url) };
  if (Array.isArray(raw.contact)) account.contact = raw.contact.filter((c): c is string => typeof c === 'string');
  if (typeof raw.termsOfServiceAgreed === 'boolean') account.termsOfServiceAgreed = raw.termsOfServiceAgreed;
  if (typeof raw.orders === 'string') account.orders = raw.orders;
  return account;
}

/**
 * An order object (§7.1.3) from a parsed body, checked, with its URL.
 *
 * @example
 * ```ts
 * import { readOrder } from "@acmets/acme-client";
 * const order = readOrder({
 *   status: "pending", identifiers: [{ type: "dns", value: "example.com" }],
 *   authorizations: ["https://ca.example/authz/1"], finalize: "https://ca.example/order/1/finalize",
 * }, "https://ca.example/order/1");
 * ```
 */
export function readOrder(body: unknown, url: string): Order {
  const raw = objectBody(body, 'order', url);
  if (!Array.isArray(raw.identifiers)) throw malformed('order', url, '"identifiers" is not an array');
  if (!Array.isArray(raw.authorizations)) throw malformed('order', url, '"authorizations" is not an array');
  const order: Order = {
    url,
    status: statusField<OrderStatus>(raw, ['pending', 'ready', 'processing', 'valid', 'invalid'], 'order', url),
    identifiers: raw.identifiers.map((identifier) => identifierField(identifier, 'order', url)),
    authorizations: raw.authorizations.map((value, i) => caUrl(value, `authorizations[${i}]`, 'order', url)),
    finalize: caUrl(raw.finalize, 'finalize', 'order', url),
    ...pickStrings<Order>(raw, ['expires', 'notBefore', 'notAfter', 'profile', 'replaces']),
  };
  if (raw.certificate !== undefined) order.certificate = caUrl(raw.certificate, 'certificate', 'order', url);
  const error = problemField(raw);
  if (error) order.error = error;
  return order;
}

/**
 * An authorization object (§7.1.4) from a parsed body, checked, with its URL.
 *
 * @example
 * ```ts
 * import { readAuthorization } from "@acmets/acme-client";
 * const authorization = readAuthorization({
 *   status: "pending", identifier: { type: "dns", value: "example.com" },
 *   challenges: [{ type: "http-01", url: "https://ca.example/chall/1", status: "pending", token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA" }],
 * }, "https://ca.example/authz/1");
 * ```
 */
export function readAuthorization(body: unknown, url: string): Authorization {
  const raw = objectBody(body, 'authorization', url);
  if (!Array.isArray(raw.challenges)) throw malformed('authorization', url, '"challenges" is not an array');
  return {
    url,
    identifier: identifierField(raw.identifier, 'authorization', url),
    status: statusField<AuthorizationStatus>(raw, ['pending', 'valid', 'invalid', 'deactivated', 'expired', 'revoked'], 'authorization', url),
    challenges: raw.challenges.map((challenge) => readChallenge(challenge, url)),
    wildcard: raw.wildcard === true,
    ...pickStrings<Authorization>(raw, ['expires']),
  };
}

/**
 * `url` is where the challenge was read from: its authorization, or its own URL after a response.
 *
 * @example
 * ```ts
 * import { readChallenge } from "@acmets/acme-client";
 * const challenge = readChallenge({ type: "dns-01", url: "https://ca.example/chall/2", status: "valid" }, "https://ca.example/authz/1");
 * ```
 */
export function readChallenge(body: unknown, url: string): Challenge {
  const raw = objectBody(body, 'challenge', url);
  const challenge: Challenge = {
    type: stringValue(raw.type, 'type', 'challenge', url),
    url: caUrl(raw.url, 'url', 'challenge', url),
    status: statusField<ChallengeStatus>(raw, ['pending', 'processing', 'valid', 'invalid'], 'challenge', url),
    ...pickStrings<Challenge>(raw, ['token', 'validated']),
  };
  const error = problemField(raw);
  if (error) challenge.error = error;
  return challenge;
}

/**
 * The name as the user wrote it: a wildcard authorization is for "*.NAME" (§7.1.4).
 *
 * @example
 * ```ts
 * import { authorizationName } from "@acmets/acme-client";
 * console.log(authorizationName({ identifier: { type: "dns", value: "example.com" }, wildcard: true })); // "*.example.com"
 * ```
 */
export function authorizationName(authorization: Pick<Authorization, 'identifier' | 'wildcard'>): string {
  return `${authorization.wildcard ? '*.' : ''}${authorization.identifier.value}`;
}
