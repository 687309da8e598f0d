// The RFC 8555 resources as this library reads them (§7.1: directory, account, order, authorization, challenge), and
// what a responder gets to answer one challenge.

import type { Identifier } from './names.ts';
import type { Problem } from './errors.ts';
import type { Link } from './headers.ts';
import type { CertificateInfo } from './x509.ts';

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
