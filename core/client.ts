// The ACME client (RFC 8555 §7): one method per operation on the CA's resources, each a request built here and
// a response read by a pure function of responses.ts (readDirectory, readOrder, …); fetchDirectory, its options.

import type { AcmeKey } from './keys.ts';
import type { Identifier } from './names.ts';
import { dns01TxtValue, keyAuthorization, signExternalAccountBinding, type ExternalAccountBinding } from './jws.ts';
import { signerOf, type KeySigner } from './signer.ts';
import { base64UrlEncode } from './encoding.ts';
import { UnexpectedResponseError, isAlreadyRevoked } from './errors.ts';
import { Transport, checkAcmeUrl, type AcmeResponse, type Expect, type RequestSpec, type Signer, type TransportOptions } from './http.ts';
import { parseCertificateChain, type CertificateInfo } from './x509.ts';
import { checkProfile } from './profiles.ts';
import {
  CHALLENGE_TYPES, type Account, type Authorization, type AuthorizationStatus, type CertificateChain, type Challenge, type ChallengeTask,
  type ChallengeType, type Directory, type Order, type OrderStatus,
} from './resources.ts';
import { readAccount, readAuthorization, readChallenge, readDirectory, readOrder } from './responses.ts';
import { pollUntil } from './poll.ts';
import { Resend, challengeAfterRefusal, lookUpAccount, recoverChallenge, recoverFinalize, recoverRollover } from './_recovery.ts';

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

const DEFAULT_POLL_TIMEOUT_MS = 120_000;
/** A CA may offer many alternate chains; a hostile one could offer endless ones. */
const MAX_ALTERNATE_CHAINS = 8;
/** §8.1: base64url with at least 128 bits of entropy; 255 keeps it a valid file name everywhere. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,255}$/;

type Json = Record<string, unknown>;

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
    const response = await lookUpAccount(this.transport, this.directory.newAccount, this.#signer);
    if (!response) return undefined;
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
    const recover = recoverRollover(this.transport, this.directory.newAccount, newSigner, accountUrl!);
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
   * §7.5.1: the payload `{}` tells the CA to validate. After a lost answer the challenge is read, and the response sent
   * again only if the CA shows no sign of the first one (recoverChallenge), which the RFC allows; a refusal of the
   * second one may still mean the first one started validation (challengeAfterRefusal).
   */
  async respondToChallenge(url: string): Promise<Challenge> {
    const fetchChallenge = () => this.#postAsAccount(url, undefined, `fetch challenge ${url}`);
    const resend = new Resend(recoverChallenge(url, fetchChallenge));
    try {
      return readChallenge((await this.#postAsAccount(url, {}, `respond to challenge ${url}`, 'json', resend.recover)).body, url);
    } catch (error) {
      return challengeAfterRefusal(error, resend, async () => readChallenge((await fetchChallenge()).body, url));
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
    return pollUntil(this.transport, this.#pollTimeout, 'order', url, () => this.#fetchOrder(url), (order) => until.includes(order.status) || order.status === 'invalid');
  }

  /** Polls until the authorization's status is one of `until`, or any status other than "pending" (§7.1.6). */
  pollAuthorization(url: string, until: readonly AuthorizationStatus[]): Promise<Authorization> {
    return pollUntil(this.transport, this.#pollTimeout, 'authorization', url, () => this.#fetchAuthorization(url), (authz) => until.includes(authz.status) || authz.status !== 'pending');
  }

  /**
   * §7.4: the CSR goes as base64url DER; the answer is the order, usually "processing" or already "valid". After a lost
   * answer, only an order still "ready" gets the CSR again (recoverFinalize).
   */
  async finalize(order: Order, csrDer: Uint8Array): Promise<Order> {
    const recover = recoverFinalize(order.url, () => this.#postAsAccount(order.url, undefined, `fetch order ${order.url}`));
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
    const resend = new Resend();
    try {
      await this.transport.post(revokeCert, payload, signer, { action: 'revoke certificate', expect: 'none', recover: resend.recover });
    } catch (error) {
      if (!(resend.repeated && isAlreadyRevoked(error))) throw error;
    }
  }
}

function hasIssuer(chain: CertificateChain, issuerCn: string): boolean {
  return chain.certificates.some((certificate) => certificate.issuerCn === issuerCn);
}
