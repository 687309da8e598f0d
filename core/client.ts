// The ACME client (RFC 8555 §7): one method per operation on the CA's resources, each a request built here and
// a response read by a pure function below (readDirectory, readOrder, …) that tests can feed recorded bodies.

import type { AcmeKey } from './keys.ts';
import type { Identifier } from './names.ts';
import { dns01TxtValue, keyAuthorization, signExternalAccountBinding, type ExternalAccountBinding } from './jws.ts';
import { signerOf, type KeySigner } from './signer.ts';
import { base64UrlEncode } from './encoding.ts';
import { AcmeError, UnexpectedResponseError, isAccountDoesNotExist, isAlreadyRevoked, parseProblem, type Problem } from './errors.ts';
import { Transport, checkAcmeUrl, type AcmeResponse, type Expect, type RequestSpec, type Signer, type TransportOptions } from './http.ts';
import type { Link } from './headers.ts';
import { parseCertificateChain, type CertificateInfo } from './x509.ts';
import { checkProfile } from './profiles.ts';

/**
 * The directory's `meta` object (RFC 8555 §7.1.1), with the profiles of draft-ietf-acme-profiles; fields the client
 * does not know stay readable.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * console.log(client.directory.meta.termsOfService, client.directory.meta.caaIdentities);
 * ```
 */
export interface DirectoryMeta {
  /** The URL of the terms the account agrees to. */
  termsOfService?: string;
  /** The CA's web site. */
  website?: string;
  /** The domains in CAA `issue` records that let this CA issue (RFC 8659). */
  caaIdentities?: string[];
  /** Whether a new account needs external account binding (§7.3.4). */
  externalAccountRequired?: boolean;
  /** draft-ietf-acme-profiles: profile name → description. */
  profiles?: Record<string, string>;
  /** Any other field, as the CA sent it. */
  [field: string]: unknown;
}

/**
 * §7.1.1, plus RFC 9773's renewalInfo; `meta` is always present (empty when the CA sends none).
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * console.log(client.directory.newOrder, client.directory.renewalInfo ?? "no ARI");
 * ```
 */
export interface Directory {
  /** Where a fresh nonce comes from (HEAD, §7.2). */
  newNonce: string;
  /** Where accounts are created and found (§7.3). */
  newAccount: string;
  /** Where orders are placed (§7.4). */
  newOrder: string;
  /** Pre-authorization (§7.4.1); few CAs offer it. */
  newAuthz?: string;
  /** Where certificates are revoked (§7.6). */
  revokeCert?: string;
  /** Where an account key is rolled over (§7.3.5). */
  keyChange?: string;
  /** RFC 9773's renewal information, when the CA offers ARI. */
  renewalInfo?: string;
  /** The CA's metadata. */
  meta: DirectoryMeta;
  /** Any other field, as the CA sent it. */
  [field: string]: unknown;
}

/**
 * An account's status (RFC 8555 §7.1.6).
 *
 * @example
 * ```ts
 * import type { AccountStatus } from "@acmets/acme-client";
 * const status: AccountStatus = "valid";
 * ```
 */
export type AccountStatus = 'valid' | 'deactivated' | 'revoked';

/**
 * An account object (RFC 8555 §7.1.2) and its URL.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const account = await client.createAccount({ termsOfServiceAgreed: true, contact: ["mailto:ops@example.com"] });
 * console.log(account.url, account.status);
 * ```
 */
export interface Account {
  /** The account URL, which signed requests name as `kid`. */
  url: string;
  /** The account's status. */
  status: AccountStatus;
  /** mailto: URLs the CA may write to. */
  contact?: string[];
  /** Whether the terms were agreed to. */
  termsOfServiceAgreed?: boolean;
  /** The URL of the account's order list. */
  orders?: string;
}

/**
 * An order's status (RFC 8555 §7.1.6).
 *
 * @example
 * ```ts
 * import type { OrderStatus } from "@acmets/acme-client";
 * const ready: OrderStatus = "ready";
 * ```
 */
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';

/**
 * An order object (RFC 8555 §7.1.3) and its URL.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * await client.createAccount({ termsOfServiceAgreed: true });
 * const order = await client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }] });
 * console.log(order.status, order.authorizations.length);
 * ```
 */
export interface Order {
  /** The order URL. */
  url: string;
  /** The order's status. */
  status: OrderStatus;
  /** When a pending or ready order lapses (RFC 3339). */
  expires?: string;
  /** The names the certificate is for. */
  identifiers: Identifier[];
  /** The requested start of validity, when one was asked for. */
  notBefore?: string;
  /** The requested end of validity, when one was asked for. */
  notAfter?: string;
  /** Why the order became invalid. */
  error?: Problem;
  /** One authorization URL per name. */
  authorizations: string[];
  /** Where the CSR goes once the order is ready. */
  finalize: string;
  /** Where the certificate is, once the order is valid. */
  certificate?: string;
  /** The profile the order is for (draft-ietf-acme-profiles). */
  profile?: string;
  /** The ARI identifier of the certificate this order renews (RFC 9773 §5). */
  replaces?: string;
}

/**
 * An authorization's status (RFC 8555 §7.1.6).
 *
 * @example
 * ```ts
 * import type { AuthorizationStatus } from "@acmets/acme-client";
 * const status: AuthorizationStatus = "pending";
 * ```
 */
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';

/**
 * An authorization object (RFC 8555 §7.1.4) and its URL.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const order = await client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }] });
 * const authorization = await client.getAuthorization(order.authorizations[0]!);
 * console.log(authorization.challenges.map((challenge) => challenge.type));
 * ```
 */
export interface Authorization {
  /** The authorization URL. */
  url: string;
  /** For a wildcard order, the name without "*." (§7.1.4). */
  identifier: Identifier;
  /** The authorization's status. */
  status: AuthorizationStatus;
  /** When it lapses (RFC 3339). */
  expires?: string;
  /** The ways the CA offers to prove control of the name. */
  challenges: Challenge[];
  /** Whether the order asked for "*.NAME". */
  wildcard: boolean;
}

/**
 * A challenge's status (RFC 8555 §7.1.6).
 *
 * @example
 * ```ts
 * import type { ChallengeStatus } from "@acmets/acme-client";
 * const status: ChallengeStatus = "processing";
 * ```
 */
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/**
 * A challenge object (RFC 8555 §8) and its URL.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const order = await client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }] });
 * const { challenges } = await client.getAuthorization(order.authorizations[0]!);
 * const dns = challenges.find((challenge) => challenge.type === "dns-01");
 * ```
 */
export interface Challenge {
  /** The challenge type, e.g. "http-01". */
  type: string;
  /** Where the client answers it. */
  url: string;
  /** The challenge's status. */
  status: ChallengeStatus;
  /** The CA's token, base64url (§8.1). */
  token?: string;
  /** When the CA validated it (RFC 3339). */
  validated?: string;
  /** Why validation failed. */
  error?: Problem;
}

/**
 * The challenge types the flow can answer: http-01, dns-01 (RFC 8555 §8.3, §8.4) and tls-alpn-01 (RFC 8737).
 *
 * @example
 * ```ts
 * import type { ChallengeType } from "@acmets/acme-client";
 * const preferred: ChallengeType[] = ["dns-01"];
 * ```
 */
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

/**
 * Every ChallengeType.
 *
 * @example
 * ```ts
 * import { CHALLENGE_TYPES } from "@acmets/acme-client";
 * console.log(CHALLENGE_TYPES.includes("dns-01")); // true
 * ```
 */
export const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];

/**
 * Everything a responder needs to answer one challenge, computed once.
 *
 * @example
 * ```ts
 * import type { ChallengeResponder } from "@acmets/acme-client";
 * const responder: ChallengeResponder = {
 *   types: ["dns-01"],
 *   async present(task) {
 *     await fetch("https://dns.example.net/v1/txt", { method: "POST", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) });
 *   },
 *   async cleanup(task) {
 *     await fetch(`https://dns.example.net/v1/txt/${task.dnsName}`, { method: "DELETE" });
 *   },
 * };
 * ```
 */
export interface ChallengeTask {
  /** The name being validated (without "*."). */
  identifier: Identifier;
  /** Whether the order asked for "*.NAME". */
  wildcard: boolean;
  /** The challenge type chosen. */
  type: ChallengeType;
  /** The CA's token, checked to be base64url. */
  token: string;
  /** §8.1: token.thumbprint; http-01 serves it, tls-alpn-01 hashes it into the certificate (RFC 8737 §3). */
  keyAuthorization: string;
  /** §8.3: /.well-known/acme-challenge/TOKEN */
  httpPath: string;
  /** §8.4: _acme-challenge.NAME, without the "*." of a wildcard. */
  dnsName: string;
  /** §8.4: base64url(SHA-256(keyAuthorization)). */
  dnsValue: string;
  /** The authorization this challenge belongs to. */
  authorizationUrl: string;
  /** The challenge's own URL. */
  challengeUrl: string;
}

/**
 * A certificate chain as downloaded (RFC 8555 §7.4.2): the PEM text, each certificate read, and the links to alternate
 * chains.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const chain = await client.downloadCertificate("https://ca.example/cert/1", { preferredChain: "ISRG Root X1" });
 * console.log(chain.certificates[0]!.dnsNames);
 * ```
 */
export interface CertificateChain {
  /** Where it was downloaded from. */
  url: string;
  /** The chain as the CA served it: leaf first. */
  pem: string;
  /** Each certificate in the chain, leaf first. */
  certificates: CertificateInfo[];
  /** The response's Link relations, `alternate` ones included. */
  links: Link[];
}

/**
 * What an AcmeClient needs: the account key, and what a Transport takes.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await generateKey("ec256"),
 *   accountUrl: "https://acme-staging-v02.api.letsencrypt.org/acme/acct/123",
 *   pollTimeout: 60_000,
 * });
 * ```
 */
export interface ClientOptions extends TransportOptions {
  /** The key that signs for the account, or a signer that holds it (in another process, say). */
  accountKey: AcmeKey | KeySigner;
  /** The account URL, when it is already known: saves the lookup before signed requests. */
  accountUrl?: string;
  /** The longest pollOrder/pollAuthorization wait, in ms (default 2 minutes). */
  pollTimeout?: number;
}

/**
 * What a new order asks for (RFC 8555 §7.4).
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const order = await client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }], profile: "tlsserver" });
 * ```
 */
export interface NewOrderOptions {
  /** The names, as normalizeIdentifiers returns them. */
  identifiers: readonly Identifier[];
  /** The requested start of validity; most CAs ignore or refuse it. */
  notBefore?: Date;
  /** The requested end of validity; most CAs ignore or refuse it. */
  notAfter?: Date;
  /** draft-ietf-acme-profiles; checked against the directory's meta.profiles. */
  profile?: string;
  /** RFC 9773 §5: the ARI certificate identifier of the certificate this order renews. */
  replaces?: string;
}

/**
 * RFC 5280 §5.3.1 CRLReason codes; 7 is unused.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * declare const certificateDer: Uint8Array; // e.g. pemDecode(text).der
 * await client.revokeCertificate(certificateDer, { reason: 4 }); // superseded
 * ```
 */
export type RevocationReason = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 8 | 9 | 10;

// Validation takes a few hundred ms at most CAs: start fast, then back off so a slow CA is not flooded.

/**
 * The first wait before polling an order or authorization again, in ms; later waits grow by POLL_BACKOFF up to
 * POLL_MAX_DELAY_MS.
 *
 * @example
 * ```ts
 * import { POLL_BACKOFF, POLL_FIRST_DELAY_MS, POLL_MAX_DELAY_MS } from "@acmets/acme-client";
 * const waits = [0, 1, 2, 3].map((n) => Math.min(POLL_FIRST_DELAY_MS * POLL_BACKOFF ** n, POLL_MAX_DELAY_MS));
 * ```
 */
export const POLL_FIRST_DELAY_MS = 40;

/**
 * The factor each poll's wait grows by.
 *
 * @example
 * ```ts
 * import { POLL_BACKOFF } from "@acmets/acme-client";
 * console.log(POLL_BACKOFF); // 1.6
 * ```
 */
export const POLL_BACKOFF = 1.6;

/**
 * The longest wait between polls, in ms, unless the CA's Retry-After asks for longer.
 *
 * @example
 * ```ts
 * import { POLL_MAX_DELAY_MS } from "@acmets/acme-client";
 * console.log(POLL_MAX_DELAY_MS); // 3000
 * ```
 */
export const POLL_MAX_DELAY_MS = 3000;
const DEFAULT_POLL_TIMEOUT_MS = 120_000;
/** A CA may offer many alternate chains; a hostile one could offer endless ones. */
const MAX_ALTERNATE_CHAINS = 8;
/** §8.1: base64url with at least 128 bits of entropy; 255 keeps it a valid file name everywhere. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,255}$/;

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

function isChallengeType(type: string): type is ChallengeType {
  return (CHALLENGE_TYPES as readonly string[]).includes(type);
}

function requireLocation(response: AcmeResponse, what: string): string {
  if (!response.location) throw new UnexpectedResponseError(`Cannot read ${what} from ${response.url}: the response has no Location header`, response.url, response.status);
  return response.location;
}

function rfc3339(date: Date, what: string): string {
  if (Number.isNaN(date.getTime())) throw new RangeError(`Cannot create order: ${what} is an invalid date`);
  return date.toISOString();
}

/**
 * GET the directory (§7.1.1), refusing a URL that is not https unless it is loopback.
 *
 * @example
 * ```ts
 * import { fetchDirectory } from "@acmets/acme-client";
 * const directory = await fetchDirectory("https://acme-staging-v02.api.letsencrypt.org/directory");
 * console.log(directory.meta.profiles);
 * ```
 */
export async function fetchDirectory(directoryUrl: string, transport: Transport = new Transport()): Promise<Directory> {
  const url = checkAcmeUrl(directoryUrl, 'directory URL').href;
  const response = await transport.get(url, { action: `fetch directory ${url}`, expect: 'json' });
  return readDirectory(response.body, url);
}

/**
 * An ACME client for one CA and one account key (RFC 8555 §7): one method per operation, each a signed request and a
 * checked answer. `issueCertificate` runs the whole issuance with it.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const account = await client.createAccount({ termsOfServiceAgreed: true });
 * const order = await client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }] });
 * ```
 */
export class AcmeClient {
  /** The CA's directory. */
  readonly directory: Directory;
  /** Shared with requests outside RFC 8555 proper, such as ARI's renewalInfo GET. */
  readonly transport: Transport;
  #accountKey: AcmeKey | KeySigner;
  #signer: KeySigner;
  #accountUrl?: string;
  readonly #pollTimeout: number;

  /** No I/O: give it a directory already read (or use AcmeClient.create), and optionally the transport that read it. */
  constructor(directory: Directory, options: ClientOptions, transport: Transport = new Transport(options)) {
    this.directory = directory;
    this.transport = transport;
    this.transport.newNonceUrl = directory.newNonce;
    this.#accountKey = options.accountKey;
    this.#signer = signerOf(options.accountKey);
    if (options.accountUrl) this.#accountUrl = checkAcmeUrl(options.accountUrl, 'account URL').href;
    this.#pollTimeout = options.pollTimeout ?? DEFAULT_POLL_TIMEOUT_MS;
  }

  /** Reads the directory (§7.1.1) and returns a client for it. */
  static async create(directoryUrl: string, options: ClientOptions): Promise<AcmeClient> {
    // One transport for the directory and what follows, so a nonce the directory answer carries is not lost.
    const transport = new Transport(options);
    return new AcmeClient(await fetchDirectory(directoryUrl, transport), options, transport);
  }

  /** The key or signer that signs for the account, as given (the new one after rolloverKey). */
  get accountKey(): AcmeKey | KeySigner {
    return this.#accountKey;
  }

  /** The account key's signer; its public key names the account and makes key authorizations. */
  get accountSigner(): KeySigner {
    return this.#signer;
  }

  /** The account URL, once known from options, createAccount or findAccount. */
  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  #accountSigner(action: string): Signer {
    if (!this.#accountUrl) throw new TypeError(`Cannot ${action}: no account URL yet (call createAccount() or findAccount() first, or pass accountUrl)`);
    return { key: this.#signer, kid: this.#accountUrl };
  }

  #postAsAccount(url: string, payload: unknown, action: string, expect: Expect = 'json', recover?: RequestSpec['recover']): Promise<AcmeResponse> {
    return this.transport.post(url, payload, this.#accountSigner(action), { action, expect, ...(recover && { recover }) });
  }

  /**
   * §7.3: a CA that already has an account for this key answers 200 with it rather than 201. That makes a lost answer
   * harmless: the transport sends the request again and gets the account the first one created (§7.3.1), reported
   * then as not created.
   */
  async createAccount(options: { contact?: string[]; termsOfServiceAgreed?: boolean; externalAccountBinding?: ExternalAccountBinding } = {}): Promise<Account & { created: boolean }> {
    const payload: Json = {};
    if (options.contact) payload.contact = options.contact;
    if (options.termsOfServiceAgreed !== undefined) payload.termsOfServiceAgreed = options.termsOfServiceAgreed;
    if (options.externalAccountBinding) {
      payload.externalAccountBinding = await signExternalAccountBinding(options.externalAccountBinding, this.#signer.publicJwk, this.directory.newAccount);
    }
    const response = await this.transport.post(this.directory.newAccount, payload, { key: this.#signer }, { action: 'create account', expect: 'json' });
    this.#accountUrl = requireLocation(response, 'account');
    return { ...readAccount(response.body, this.#accountUrl), created: response.status === 201 };
  }

  /** §7.3.1: the account of this key, or undefined when the CA has none. */
  async findAccount(): Promise<Account | undefined> {
    let response: AcmeResponse;
    try {
      response = await this.transport.post(this.directory.newAccount, { onlyReturnExisting: true }, { key: this.#signer }, { action: 'find account', expect: 'json' });
    } catch (error) {
      if (isAccountDoesNotExist(error)) return undefined;
      throw error;
    }
    this.#accountUrl = requireLocation(response, 'account');
    return readAccount(response.body, this.#accountUrl);
  }

  /** POST-as-GET (§6.3); an empty update `{}` would do too, but some CAs (Pebble 2.4) refuse it. */
  async getAccount(): Promise<Account> {
    return this.#postToAccount('fetch account', undefined);
  }

  /** §7.3.2 */
  async updateAccount(options: { contact: string[] }): Promise<Account> {
    return this.#postToAccount('update account', { contact: options.contact });
  }

  /** §7.3.6: final; the CA refuses every later request signed for this account. */
  async deactivateAccount(): Promise<Account> {
    return this.#postToAccount('deactivate account', { status: 'deactivated' });
  }

  /** A signed POST to the account URL itself, which the CA answers with the account (§7.3.2). */
  async #postToAccount(action: string, payload: unknown): Promise<Account> {
    const url = this.#accountSigner(action).kid!;
    return readAccount((await this.#postAsAccount(url, payload, `${action} ${url}`)).body, url);
  }

  /** §7.3.5: the new key signs the inner JWS, the old one the outer; afterwards this client signs with the new key. */
  async rolloverKey(newKey: AcmeKey | KeySigner): Promise<void> {
    const keyChange = this.directory.keyChange;
    if (!keyChange) throw new TypeError('Cannot roll over the account key: the CA\'s directory has no keyChange URL');
    const { kid: accountUrl } = this.#accountSigner('roll over the account key');
    const newSigner = signerOf(newKey);
    if (JSON.stringify(newSigner.publicJwk) === JSON.stringify(this.#signer.publicJwk)) {
      throw new RangeError('Cannot roll over the account key: the new key is the current key');
    }
    const inner = await newSigner.signJws({ account: accountUrl, oldKey: this.#signer.publicJwk }, { url: keyChange });
    // After a lost answer only the CA knows which key the account has now: asking newAccount with onlyReturnExisting
    // (§7.3.1), signed by the new key, finds the account if the rollover happened; otherwise it is sent again.
    const recover = async () => {
      try {
        const found = await this.transport.post(this.directory.newAccount, { onlyReturnExisting: true }, { key: newSigner }, { action: 'find account', expect: 'json' });
        return found.location === accountUrl ? found : undefined;
      } catch (error) {
        if (isAccountDoesNotExist(error)) return undefined;
        throw error;
      }
    };
    await this.#postAsAccount(keyChange, inner, `roll over the key of account ${accountUrl}`, 'none', recover);
    this.#accountKey = newKey;
    this.#signer = newSigner;
  }

  /** §7.4; after a lost answer the transport simply orders again, and the first order, if the CA made it, lapses unused. */
  async newOrder(options: NewOrderOptions): Promise<Order> {
    if (options.identifiers.length === 0) throw new RangeError('Cannot create order: no identifiers');
    const payload: Json = { identifiers: options.identifiers.map(({ type, value }) => ({ type, value })) };
    if (options.notBefore) payload.notBefore = rfc3339(options.notBefore, 'notBefore');
    if (options.notAfter) payload.notAfter = rfc3339(options.notAfter, 'notAfter');
    // A CA that does not know the field ignores it (Pebble 2.4 does), so an unknown profile is caught here.
    if (options.profile !== undefined) payload.profile = checkProfile(this.directory, options.profile);
    if (options.replaces !== undefined) payload.replaces = options.replaces;
    const response = await this.#postAsAccount(this.directory.newOrder, payload, 'create order');
    return readOrder(response.body, requireLocation(response, 'order'));
  }

  /** The order at `url`, as it is now. */
  async getOrder(url: string): Promise<Order> {
    return (await this.#fetchOrder(url)).value;
  }

  async #fetchOrder(url: string) {
    const response = await this.#postAsAccount(url, undefined, `fetch order ${url}`);
    return { value: readOrder(response.body, url), retryAfter: response.retryAfter };
  }

  /** The authorization at `url`, as it is now. */
  async getAuthorization(url: string): Promise<Authorization> {
    return (await this.#fetchAuthorization(url)).value;
  }

  async #fetchAuthorization(url: string) {
    const response = await this.#postAsAccount(url, undefined, `fetch authorization ${url}`);
    return { value: readAuthorization(response.body, url), retryAfter: response.retryAfter };
  }

  /**
   * §7.5.1: the payload `{}` tells the CA to validate. After a lost answer the response is sent again, which the RFC
   * allows; a CA that refuses it because the first one already started validation (Pebble: malformed, "Cannot update
   * challenge with status processing") is asked for the challenge, and a challenge no longer pending is the answer.
   * Reading it before sending again would not tell: Pebble still shows "pending" until its validator starts.
   */
  async respondToChallenge(url: string): Promise<Challenge> {
    let repeated = false;
    const recover = async () => void (repeated = true);
    try {
      return readChallenge((await this.#postAsAccount(url, {}, `respond to challenge ${url}`, 'json', recover)).body, url);
    } catch (error) {
      if (!repeated || !(error instanceof AcmeError) || error.status >= 500) throw error;
      const challenge = readChallenge((await this.#postAsAccount(url, undefined, `fetch challenge ${url}`)).body, url);
      if (challenge.status === 'pending') throw error;
      return challenge;
    }
  }

  /**
   * Refuses a token that is not base64url before anything (a file, a URL path, a DNS name) is named after it:
   * a hostile CA could otherwise send "../../etc/passwd".
   */
  async challengeTask(authorization: Authorization, challenge: Challenge): Promise<ChallengeTask> {
    if (!isChallengeType(challenge.type)) throw new TypeError(`Cannot answer challenge ${challenge.url}: type ${JSON.stringify(challenge.type)} is not one of ${CHALLENGE_TYPES.join(', ')}`);
    const token = challenge.token;
    if (token === undefined || !TOKEN_PATTERN.test(token)) {
      const shown = token === undefined ? 'no token' : `token ${JSON.stringify(token.length > 40 ? `${token.slice(0, 40)}…` : token)}`;
      throw new UnexpectedResponseError(`Cannot answer challenge ${challenge.url}: ${shown} is not base64url of 22 to 255 characters (RFC 8555 §8.1)`, challenge.url);
    }
    const keyAuth = await keyAuthorization(token, this.#signer);
    return {
      identifier: authorization.identifier,
      wildcard: authorization.wildcard,
      type: challenge.type,
      token,
      keyAuthorization: keyAuth,
      httpPath: `/.well-known/acme-challenge/${token}`,
      dnsName: `_acme-challenge.${authorization.identifier.value.replace(/^\*\./, '')}`,
      dnsValue: await dns01TxtValue(keyAuth),
      authorizationUrl: authorization.url,
      challengeUrl: challenge.url,
    };
  }

  /** Polls until the order's status is one of `until`, or "invalid", which nothing can change (§7.1.6). */
  pollOrder(url: string, until: readonly OrderStatus[]): Promise<Order> {
    return this.#poll('order', url, () => this.#fetchOrder(url), (order) => until.includes(order.status) || order.status === 'invalid');
  }

  /** Polls until the authorization's status is one of `until`, or any status other than "pending" (§7.1.6). */
  pollAuthorization(url: string, until: readonly AuthorizationStatus[]): Promise<Authorization> {
    return this.#poll('authorization', url, () => this.#fetchAuthorization(url), (authz) => until.includes(authz.status) || authz.status !== 'pending');
  }

  /** Waits first (the caller has just changed the resource), starting fast and backing off; the CA's Retry-After wins (§8.2). */
  async #poll<T extends { status: string }>(what: string, url: string, fetchOnce: () => Promise<{ value: T; retryAfter?: Date | undefined }>, done: (value: T) => boolean): Promise<T> {
    const { now, sleep } = this.transport;
    const deadline = now() + this.#pollTimeout;
    let delay = POLL_FIRST_DELAY_MS;
    let retryAfter: Date | undefined;
    let last: T | undefined;
    for (;;) {
      const wait = retryAfter ? Math.max(0, retryAfter.getTime() - now()) : delay;
      if (now() + wait > deadline) {
        const state = last ? `still "${last.status}"` : 'no answer';
        const asked = retryAfter ? `, and the CA asks to retry after ${retryAfter.toISOString()}` : '';
        throw new DOMException(`Cannot wait for ${what} ${url}: ${state} after ${Math.round(this.#pollTimeout / 1000)} s${asked}`, 'TimeoutError');
      }
      await sleep(wait, this.transport.signal);
      const result = await fetchOnce();
      last = result.value;
      if (done(last)) return last;
      retryAfter = result.retryAfter;
      delay = Math.min(Math.round(delay * POLL_BACKOFF), POLL_MAX_DELAY_MS);
    }
  }

  /**
   * §7.4: the CSR goes as base64url DER; the answer is the order, usually "processing" or already "valid". A finalize
   * the CA acted on moves the order on from "ready", so after a lost answer the order is read, and only an order
   * still "ready" gets the CSR again.
   */
  async finalize(order: Order, csrDer: Uint8Array): Promise<Order> {
    const recover = async () => {
      const response = await this.#postAsAccount(order.url, undefined, `fetch order ${order.url}`);
      return readOrder(response.body, order.url).status === 'ready' ? undefined : response;
    };
    const response = await this.#postAsAccount(order.finalize, { csr: base64UrlEncode(csrDer) }, `finalize order ${order.url}`, 'json', recover);
    return readOrder(response.body, order.url);
  }

  /**
   * §7.4.2: the default chain, unless `preferredChain` names an issuer CN that no certificate of it has; then the
   * first `Link: rel="alternate"` chain that has it (certbot's and lego's rule), else the default after all.
   */
  async downloadCertificate(url: string, options: { preferredChain?: string } = {}): Promise<CertificateChain> {
    const first = await this.#fetchChain(url);
    const preferred = options.preferredChain;
    if (preferred === undefined || hasIssuer(first, preferred)) return first;
    const alternates = first.links.filter((link) => link.rel === 'alternate').slice(0, MAX_ALTERNATE_CHAINS);
    for (const link of alternates) {
      const chain = await this.#fetchChain(link.url);
      if (hasIssuer(chain, preferred)) return chain;
    }
    return first;
  }

  async #fetchChain(url: string): Promise<CertificateChain> {
    const response = await this.#postAsAccount(url, undefined, `download certificate ${url}`, 'pem-chain');
    const pem = response.body as string;
    let certificates: CertificateInfo[];
    try {
      certificates = parseCertificateChain(pem);
    } catch (error) {
      throw new UnexpectedResponseError(`Cannot download certificate ${url}: ${(error as Error).message}`, url, response.status);
    }
    return { url, pem, certificates, links: response.links };
  }

  /** §7.6: signed by the account (kid), or by the certificate's own key (jwk) when `certificateKey` is given. */
  async revokeCertificate(certificateDer: Uint8Array, options: { reason?: RevocationReason; certificateKey?: AcmeKey | KeySigner } = {}): Promise<void> {
    const revokeCert = this.directory.revokeCert;
    if (!revokeCert) throw new TypeError('Cannot revoke certificate: the CA\'s directory has no revokeCert URL');
    const payload: Json = { certificate: base64UrlEncode(certificateDer) };
    if (options.reason !== undefined) {
      const reason: number = options.reason;
      if (!Number.isInteger(reason) || reason < 0 || reason > 10 || reason === 7) {
        throw new RangeError(`Cannot revoke certificate: reason ${options.reason} is not an RFC 5280 §5.3.1 CRLReason (0-10 except 7)`);
      }
      payload.reason = options.reason;
    }
    const signer = options.certificateKey ? { key: options.certificateKey } : this.#accountSigner('revoke certificate');
    // §7.6: a revocation whose answer was lost is sent again, and "alreadyRevoked" then means the first one worked.
    let repeated = false;
    const recover = async () => void (repeated = true);
    try {
      await this.transport.post(revokeCert, payload, signer, { action: 'revoke certificate', expect: 'none', recover });
    } catch (error) {
      if (!(repeated && isAlreadyRevoked(error))) throw error;
    }
  }
}

function hasIssuer(chain: CertificateChain, issuerCn: string): boolean {
  return chain.certificates.some((certificate) => certificate.issuerCn === issuerCn);
}
