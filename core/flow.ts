// Issuing a certificate from start to end (RFC 8555 §7.1 overview): account, order, every authorization worked
// in parallel through a challenge responder, finalize with our CSR, download, and the checks that it is ours.

import type { AcmeKey } from './keys.ts';
import type { ExternalAccountBinding } from './jws.ts';
import type { PublicJwk } from './engine.ts';
import { compareIdentifiers, identifiersOf, normalizeIdentifiers, type Identifier } from './names.ts';
import { parseCsr } from './csr.ts';
import { signerOf, type KeySigner } from './signer.ts';
import { certificateMatchesKey, type CertificateInfo } from './x509.ts';
import { pemEncode } from './encoding.ts';
import { ACME_ERROR, AcmeError, UnexpectedResponseError, formatProblem, type Problem } from './errors.ts';
import { withReplacesFallback } from './ari.ts';
import { checkCaa, type CaaResolver } from './caa.ts';
import { checkProfile } from './profiles.ts';
import type { AcmeClient } from './client.ts';
import type { Authorization, AuthorizationStatus, Challenge, ChallengeStatus, ChallengeTask, ChallengeType, Order } from './resources.ts';
import { authorizationName } from './responses.ts';

/**
 * Answers challenges: http-01 files or a server, dns-01 TXT records, a person at a terminal. One per runtime or use.
 *
 * @example
 * ```ts
 * import type { ChallengeResponder } from "@acmets/acme-client";
 * // dns-01 through a DNS provider's API.
 * const responder: ChallengeResponder = {
 *   types: ["dns-01"],
 *   async present(task) {
 *     await fetch("https://dns.example/txt", { method: "POST", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) });
 *   },
 *   async cleanup(task) {
 *     await fetch("https://dns.example/txt", { method: "DELETE", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) });
 *   },
 * };
 * ```
 */
export interface ChallengeResponder {
  /** The types this responder can answer, most preferred first. */
  readonly types: readonly ChallengeType[];
  /** Makes the response visible to the CA; resolves once the CA can see it (for DNS, after propagation). */
  present(task: ChallengeTask): Promise<void>;
  /** Removes what present() set up; runs for every presented task, whether issuance succeeded or not. */
  cleanup(task: ChallengeTask): Promise<void>;
}

/**
 * What issueCertificate reports as it goes, for progress lines and logs.
 *
 * @example
 * ```ts
 * import type { FlowEvent } from "@acmets/acme-client";
 * function describe(event: FlowEvent): string {
 *   switch (event.kind) {
 *     case "challenge":
 *       return `${event.identifier.value}: ${event.type} ${event.status}`;
 *     case "certificate":
 *       return `valid until ${event.notAfter.toISOString()}`;
 *     default:
 *       return event.kind;
 *   }
 * }
 * ```
 */
export type FlowEvent =
  | { kind: 'account'; url: string; created: boolean }
  /** The CAA pre-check ran (`checked`) or could not (the CA lists no caaIdentities); notes say what the user should know. */
  | { kind: 'caa'; checked: boolean; notes: string[] }
  /** The CA refused `replaces` (RFC 9773 §5), so the order went in without it and without its rate-limit exemption. */
  | { kind: 'replaces-refused'; replaces: string; problem: Problem }
  | { kind: 'order'; url: string; identifiers: Identifier[] }
  /** "valid" before any challenge when the CA reuses an earlier authorization, or once the order is ready. */
  | { kind: 'authorization'; identifier: Identifier; wildcard: boolean; status: AuthorizationStatus }
  | { kind: 'challenge'; identifier: Identifier; wildcard: boolean; type: ChallengeType; status: ChallengeStatus }
  | { kind: 'finalize'; url: string }
  | { kind: 'certificate'; url: string; serialHex: string; notAfter: Date };

/**
 * What issueCertificate needs: a client, the names, a key or CSR, and a way to answer challenges.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, issueCertificate } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const issued = await issueCertificate({
 *   client,
 *   identifiers: ["example.com", "www.example.com"],
 *   certificateKey: await generateKey("ec256"),
 *   account: { termsOfServiceAgreed: true, contact: ["mailto:ops@example.com"] },
 *   responder: {
 *     // dns-01 through a DNS provider's HTTP API (any provider; this one takes JSON).
 *     types: ["dns-01"],
 *     present: async (task) => void await fetch("https://dns.example.net/v1/txt", { method: "POST", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) }),
 *     cleanup: async (task) => void await fetch(`https://dns.example.net/v1/txt/${task.dnsName}`, { method: "DELETE" }),
 *   },
 *   onProgress: (event) => console.error(event.kind),
 * });
 * ```
 */
export interface IssueOptions {
  /** A client for the CA; without an accountUrl, the account is created (or found, if the key has one). */
  client: AcmeClient;
  /** The names as the user wrote them; the first becomes the CSR's CN. */
  identifiers: readonly string[];
  /** The certificate key, or a signer that holds it; give this or `csr`. */
  certificateKey?: AcmeKey | KeySigner;
  /** A DER CSR the user brings; its names must be `identifiers`. */
  csr?: Uint8Array;
  /** Answers the challenges; its `types` choose among the CA's offers. */
  responder: ChallengeResponder;
  /** For an account the flow creates: contact URLs, agreement to the terms, external account binding. */
  account?: { contact?: string[]; termsOfServiceAgreed?: boolean; externalAccountBinding?: ExternalAccountBinding };
  /** The TLS Feature extension (RFC 7633) in the CSR that this flow builds. */
  mustStaple?: boolean;
  /** An issuer CN; an alternate chain that has it wins over the default chain. */
  preferredChain?: string;
  /** A profile from the directory's meta.profiles; an unknown one fails before the account is created. */
  profile?: string;
  /** The ARI identifier of the certificate this one renews (RFC 9773 §5); dropped once if the CA refuses it. */
  replaces?: string;
  /** Looks up CAA records before the order (RFC 8659), so a record that forbids this CA fails early with its name. */
  caaResolver?: CaaResolver;
  /** Called with each step as it happens. */
  onProgress?: (event: FlowEvent) => void;
  /**
   * Awaited just before newAccount is sent (only when the client has no accountUrl yet). A caller that made a new
   * account key stores it here, durably: once the request is out, the CA may know the key even if no answer comes.
   */
  beforeNewAccount?: () => Promise<void>;
  /**
   * Awaited just before finalize is sent. A caller that made a new certificate key stores it here, durably: the CA
   * may issue a certificate for it even if the run ends before the download.
   */
  beforeFinalize?: () => Promise<void>;
}

/**
 * The outcome of issueCertificate: the PEM files to install, the certificates read, and the URLs involved.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, issueCertificate } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const issued = await issueCertificate({
 *   client,
 *   identifiers: ["example.com", "www.example.com"],
 *   certificateKey: await generateKey("ec256"),
 *   account: { termsOfServiceAgreed: true, contact: ["mailto:ops@example.com"] },
 *   responder: {
 *     // dns-01 through a DNS provider's HTTP API (any provider; this one takes JSON).
 *     types: ["dns-01"],
 *     present: async (task) => void await fetch("https://dns.example.net/v1/txt", { method: "POST", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) }),
 *     cleanup: async (task) => void await fetch(`https://dns.example.net/v1/txt/${task.dnsName}`, { method: "DELETE" }),
 *   },
 *   onProgress: (event) => console.error(event.kind),
 * });
 * console.log(issued.fullchainPem); // store it the way your runtime writes files
 * console.log(issued.certificate.serialHex, issued.certificate.notAfter);
 * ```
 */
export interface IssuedCertificate {
  /** The leaf alone (cert.pem). */
  certificatePem: string;
  /** The issuers after the leaf, as served; empty if the CA sent the leaf alone. */
  chainPem: string;
  /** The leaf and then the chain (fullchain.pem), what TLS servers want. */
  fullchainPem: string;
  /** The leaf, read. */
  certificate: CertificateInfo;
  /** The issuers, read. */
  chain: CertificateInfo[];
  /** The account that holds the certificate. */
  accountUrl: string;
  /** The order. */
  orderUrl: string;
  /** Where the certificate was downloaded from. */
  certificateUrl: string;
}

function namesOf(identifiers: readonly Identifier[]): string {
  return identifiers.map((identifier) => identifier.value).join(', ');
}

/** The certificate's public key and names, or the CSR's when the user brought one. */
async function requestFor(options: IssueOptions, identifiers: Identifier[]): Promise<{ csr: Uint8Array; publicJwk: PublicJwk }> {
  if ((options.certificateKey === undefined) === (options.csr === undefined)) {
    throw new TypeError('Cannot issue certificate: give either a certificate key or a CSR, not both or neither');
  }
  if (options.certificateKey) {
    const signer = signerOf(options.certificateKey);
    return { csr: await signer.createCsr({ identifiers, mustStaple: options.mustStaple ?? false }), publicJwk: signer.publicJwk };
  }
  const info = await parseCsr(options.csr!);
  const { missing, extra } = compareIdentifiers(info.identifiers, identifiers);
  if (missing.length > 0 || extra.length > 0) {
    throw new RangeError(`Cannot issue certificate: the CSR names ${namesOf(info.identifiers)}, not ${namesOf(identifiers)}`);
  }
  if (options.mustStaple !== undefined && options.mustStaple !== info.mustStaple) {
    throw new RangeError(`Cannot issue certificate: the CSR ${info.mustStaple ? 'asks' : 'does not ask'} for OCSP must-staple, and that cannot be changed without re-signing it`);
  }
  return { csr: options.csr!, publicJwk: info.publicJwk };
}

/**
 * Issues a certificate (RFC 8555 §7): the account, the order, every authorization answered in parallel through the
 * responder, the CSR, finalize, and the download, checked to be for this key and these names, with the preferred chain
 * when one is asked for. Bad input fails before the first request.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, issueCertificate } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const issued = await issueCertificate({
 *   client,
 *   identifiers: ["example.com", "www.example.com"],
 *   certificateKey: await generateKey("ec256"),
 *   account: { termsOfServiceAgreed: true, contact: ["mailto:ops@example.com"] },
 *   responder: {
 *     // dns-01 through a DNS provider's HTTP API (any provider; this one takes JSON).
 *     types: ["dns-01"],
 *     present: async (task) => void await fetch("https://dns.example.net/v1/txt", { method: "POST", body: JSON.stringify({ name: task.dnsName, value: task.dnsValue }) }),
 *     cleanup: async (task) => void await fetch(`https://dns.example.net/v1/txt/${task.dnsName}`, { method: "DELETE" }),
 *   },
 *   onProgress: (event) => console.error(event.kind),
 * });
 * ```
 */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const { client, responder } = options;
  const emit = options.onProgress ?? (() => {});
  const identifiers = normalizeIdentifiers(options.identifiers);
  if (responder.types.length === 0) throw new TypeError('Cannot issue certificate: the challenge responder answers no challenge type');
  if (options.profile !== undefined) checkProfile(client.directory, options.profile);
  // The key and CSR steps need no CA, so bad input fails before the first request.
  const { csr, publicJwk } = await requestFor(options, identifiers);

  if (!client.accountUrl) {
    await options.beforeNewAccount?.();
    const account = await client.createAccount(options.account ?? {});
    emit({ kind: 'account', url: account.url, created: account.created });
  }
  const accountUrl = client.accountUrl!;

  if (options.caaResolver) {
    // After the account, so RFC 8657's accounturi can be compared; before the order, so nothing is left pending.
    const caa = await checkCaa({
      identifiers, caaIdentities: client.directory.meta.caaIdentities, resolver: options.caaResolver, accountUrl, challengeTypes: responder.types,
    });
    emit({ kind: 'caa', checked: caa.checked, notes: caa.notes });
  }

  const order = await withReplacesFallback(options.replaces, (replaces) => client.newOrder({
    identifiers,
    ...(options.profile !== undefined && { profile: options.profile }),
    ...(replaces !== undefined && { replaces }),
  }), (error) => emit({ kind: 'replaces-refused', replaces: options.replaces!, problem: error.problem }));
  emit({ kind: 'order', url: order.url, identifiers: order.identifiers });

  let current = order.status === 'pending' ? await authorize(client, order, responder, emit) : order;
  if (current.status === 'ready') {
    emit({ kind: 'finalize', url: order.url });
    await options.beforeFinalize?.();
    current = await client.finalize(current, csr);
    if (current.status !== 'valid' && current.status !== 'invalid') current = await client.pollOrder(order.url, ['valid']);
  }
  if (current.status !== 'valid' || !current.certificate) throw orderError('finalize', current);

  const downloaded = await client.downloadCertificate(current.certificate, options.preferredChain !== undefined ? { preferredChain: options.preferredChain } : {});
  const [certificate, ...chain] = downloaded.certificates as [CertificateInfo, ...CertificateInfo[]];
  checkCertificate(certificate, publicJwk, identifiers, downloaded.url);
  emit({ kind: 'certificate', url: downloaded.url, serialHex: certificate.serialHex, notAfter: certificate.notAfter });

  const certificatePem = pemEncode('CERTIFICATE', certificate.der);
  const chainPem = chain.map((issuer) => pemEncode('CERTIFICATE', issuer.der)).join('');
  return {
    certificatePem,
    chainPem,
    fullchainPem: certificatePem + chainPem,
    certificate,
    chain,
    accountUrl,
    orderUrl: order.url,
    certificateUrl: downloaded.url,
  };
}

/**
 * All authorizations at once: fetch them, skip the valid ones, present every response, tell the CA about each,
 * then poll the order alone (one request per round instead of one per name) until it is ready or invalid.
 */
async function authorize(client: AcmeClient, order: Order, responder: ChallengeResponder, emit: (event: FlowEvent) => void): Promise<Order> {
  const authorizations = await Promise.all(order.authorizations.map((url) => client.getAuthorization(url)));
  const chosen: { authorization: Authorization; challenge: Challenge }[] = [];
  for (const authorization of authorizations) {
    if (authorization.status === 'valid') {
      emit({ kind: 'authorization', identifier: authorization.identifier, wildcard: authorization.wildcard, status: 'valid' });
    } else if (authorization.status !== 'pending') {
      throw authorizationError([authorization], order);
    } else {
      chosen.push({ authorization, challenge: pickChallenge(authorization, responder.types) });
    }
  }
  // Every token is checked before the first present(), so a hostile CA gets nothing named after a bad one.
  const tasks = await Promise.all(chosen.map(({ authorization, challenge }) => client.challengeTask(authorization, challenge)));
  const presented: ChallengeTask[] = [];
  let ready: Order;
  try {
    await settleAll(tasks.map((task) => {
      presented.push(task);
      return responder.present(task);
    }));
    await settleAll(tasks.map(async (task) => {
      const challenge = await client.respondToChallenge(task.challengeUrl);
      emit({ kind: 'challenge', identifier: task.identifier, wildcard: task.wildcard, type: task.type, status: challenge.status });
    }));
    ready = await client.pollOrder(order.url, ['ready']);
    if (ready.status === 'invalid') {
      const failed = await Promise.all(order.authorizations.map((url) => client.getAuthorization(url)));
      throw authorizationError(failed.filter((authorization) => authorization.status !== 'valid'), ready);
    }
  } catch (error) {
    await Promise.allSettled(presented.map((task) => responder.cleanup(task)));
    throw error;
  }
  // Cleanup runs before finalize: a responder that cannot clean up is a fault the user must see, certificate or not.
  await settleAll(presented.map((task) => responder.cleanup(task)));
  for (const task of tasks) emit({ kind: 'authorization', identifier: task.identifier, wildcard: task.wildcard, status: 'valid' });
  return ready;
}

/** Like Promise.all, but waits for every promise before rethrowing the first failure, so none is left running. */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

function pickChallenge(authorization: Authorization, types: readonly ChallengeType[]): Challenge {
  for (const type of types) {
    const challenge = authorization.challenges.find((candidate) => candidate.type === type);
    if (challenge) return challenge;
  }
  const offered = authorization.challenges.map((challenge) => challenge.type).join(', ') || 'no challenge';
  throw new RangeError(`Cannot authorize ${authorizationName(authorization)}: the CA offers ${offered}, but the responder answers ${types.join(', ')}`);
}

interface Failure {
  name: string;
  type?: string;
  problem: Problem;
  url: string;
  identifier: Identifier;
}

/** Why an authorization is not valid: the CA's problem on the challenge that failed, or its status when it gave none. */
function failureOf(authorization: Authorization): Failure {
  const name = authorizationName(authorization);
  const identifier = { type: authorization.identifier.type, value: name };
  const challenge = authorization.challenges.find((candidate) => candidate.error) ?? authorization.challenges.find((candidate) => candidate.status === 'invalid');
  const problem = challenge?.error ?? { type: 'about:blank', detail: `the authorization is "${authorization.status}"` };
  return { name, ...(challenge && { type: challenge.type }), problem, url: challenge?.url ?? authorization.url, identifier };
}

/**
 * One AcmeError for every failed name. With one, its problem is the CA's own document for that challenge; with
 * several, a §6.7.1 compound problem whose subproblems are the CA's documents, each naming its identifier.
 */
function authorizationError(authorizations: Authorization[], order: Order): AcmeError {
  if (authorizations.length === 0) return orderError('authorize', order);
  const failures = authorizations.map(failureOf);
  const describe = (failure: Failure) => `${failure.name}${failure.type ? ` (${failure.type})` : ''}: ${formatProblem(failure.problem)}`;
  if (failures.length === 1) {
    const [failure] = failures as [Failure];
    return new AcmeError(`Cannot authorize ${describe(failure)}`, { problem: failure.problem, status: failure.problem.status ?? 0, url: failure.url, identifier: failure.identifier });
  }
  const problem: Problem = {
    type: ACME_ERROR.compound,
    detail: `${failures.length} identifiers failed validation`,
    subproblems: failures.map((failure) => ({ ...failure.problem, identifier: failure.problem.identifier ?? failure.identifier })),
  };
  return new AcmeError(`Cannot authorize ${failures.length} names: ${failures.map(describe).join('; ')}`, { problem, status: 0, url: order.url });
}

function orderError(step: 'authorize' | 'finalize', order: Order): AcmeError {
  const problem = order.error ?? { type: 'about:blank', detail: `the order is "${order.status}"${order.status === 'valid' ? ' but has no certificate URL' : ''}` };
  return new AcmeError(`Cannot ${step} order ${order.url}: status is "${order.status}" (${formatProblem(problem)})`, { problem, status: problem.status ?? 0, url: order.url });
}

/** §7.4.2 leaves trusting the download to the client: it must be for our key and for exactly the names we asked for. */
function checkCertificate(certificate: CertificateInfo, publicJwk: PublicJwk, identifiers: readonly Identifier[], url: string): void {
  if (!certificateMatchesKey(certificate, publicJwk)) {
    throw new UnexpectedResponseError(`Cannot accept certificate ${url}: its public key is not the certificate key of the CSR`, url);
  }
  const { missing, extra } = compareIdentifiers(identifiersOf(certificate), identifiers);
  if (missing.length > 0 || extra.length > 0) {
    const reasons = [missing.length > 0 && `lacks ${namesOf(missing)}`, extra.length > 0 && `adds ${namesOf(extra)}`].filter(Boolean).join(' and ');
    throw new UnexpectedResponseError(`Cannot accept certificate ${url}: it ${reasons} (ordered: ${namesOf(identifiers)})`, url);
  }
}
