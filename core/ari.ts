// ACME Renewal Information (RFC 9773): the request for the CA's suggested renewal window and its checks, the
// decision that falls back to the lifetime rule, and the `replaces` retry (the identifier and the timing: core/renewal.ts).

import { ACME_ERROR, AcmeError, UnexpectedResponseError } from './errors.ts';
import { Transport, type TransportOptions } from './http.ts';
import {
  certificateIdentifier, nextRenewalCheck, renewalDecision, type RenewalDecision, type RenewalDecisionInput, type RenewalInfo,
} from './renewal.ts';

/**
 * Options for fetchRenewalInfo: a client's transport, or what a new one takes.
 *
 * @example
 * ```ts
 * import { AcmeClient, certificateIdentifier, fetchRenewalInfo, importKey, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * declare const accountKeyPem: string; // the account key's PEM text
 * const client = await AcmeClient.create("https://acme-v02.api.letsencrypt.org/directory", { accountKey: await importKey(accountKeyPem) });
 * const info = await fetchRenewalInfo(client.directory.renewalInfo!, certificateIdentifier(cert!), { transport: client.transport });
 * ```
 */
export interface FetchRenewalInfoOptions extends TransportOptions {
  /** The ACME client's transport, so the request shares its fetch, trace and clock. */
  transport?: Transport;
}

/**
 * GET {renewalInfo}/{certID} (§4.1), unauthenticated, and validate the answer (§4.2).
 *
 * @example
 * ```ts
 * import { certificateIdentifier, fetchRenewalInfo, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const info = await fetchRenewalInfo("https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo", certificateIdentifier(cert!));
 * ```
 */
export async function fetchRenewalInfo(renewalInfoUrl: string, certId: string, options: FetchRenewalInfoOptions = {}): Promise<RenewalInfo> {
  const transport = options.transport ?? new Transport(options);
  const url = `${renewalInfoUrl.replace(/\/+$/, '')}/${certId}`;
  const response = await transport.get(url, { action: `get renewal information for ${certId}`, expect: 'json' });
  const invalid = (reason: string) => new UnexpectedResponseError(`Cannot use the renewal information from ${url}: ${reason}`, url, response.status);
  const body = response.body as { suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown } | null;
  const window = body?.suggestedWindow;
  if (typeof window !== 'object' || window === null) throw invalid('it has no suggestedWindow');
  const start = rfc3339(window.start);
  const end = rfc3339(window.end);
  if (!start || !end) throw invalid('suggestedWindow start and end must be RFC 3339 timestamps');
  // §4.2: a window that ends before it starts is invalid; the client acts as if it had no answer.
  if (end.getTime() <= start.getTime()) throw invalid(`suggestedWindow ends (${end.toISOString()}) before it starts (${start.toISOString()})`);
  const info: RenewalInfo = { suggestedWindow: { start, end } };
  const explanation = body!.explanationURL;
  // The URL is shown to the user, and the page makes it a link: only http(s) may pass.
  if (typeof explanation === 'string' && isHttpUrl(explanation)) info.explanationURL = explanation;
  if (response.retryAfter) info.retryAfter = response.retryAfter;
  return info;
}

function isHttpUrl(text: string): boolean {
  try {
    return /^https?:$/.test(new URL(text).protocol);
  } catch {
    return false;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function rfc3339(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !RFC3339.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * What checkRenewal needs: the certificate, the directory's renewalInfo URL, and how to fetch.
 *
 * @example
 * ```ts
 * import { AcmeClient, checkRenewal, importKey, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * declare const accountKeyPem: string; // the account key's PEM text
 * const client = await AcmeClient.create("https://acme-v02.api.letsencrypt.org/directory", { accountKey: await importKey(accountKeyPem) });
 * const check = await checkRenewal({ cert: cert!, renewalInfoUrl: client.directory.renewalInfo, transport: client.transport });
 * ```
 */
export interface CheckRenewalOptions extends Omit<RenewalDecisionInput, 'renewalInfo'> {
  /** The directory's `renewalInfo`; absent when the CA does not offer ARI. */
  renewalInfoUrl?: string;
  /** The client's transport, to share its fetch, trace and clock. */
  transport?: Transport;
  /** A fetch, when no transport is given. */
  fetch?: typeof fetch;
  /** Aborts the request. */
  signal?: AbortSignal;
}

/**
 * checkRenewal's decision, with what the caller needs to renew (`certId` for `replaces`) or to ask again later.
 *
 * @example
 * ```ts
 * import { checkRenewal, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const check = await checkRenewal({ cert: cert!, renewalInfoUrl: "https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo" });
 * if (check.due) console.log("renew, replacing", check.certId);
 * else console.log("ask again at", check.nextCheck);
 * ```
 */
export interface RenewalCheck extends RenewalDecision {
  /** The identifier to send as `replaces` when renewing; absent when the certificate has no AKI. */
  certId?: string;
  /** The CA's answer that decided, for a caller that keeps it until `nextCheck`. */
  renewalInfo?: RenewalInfo;
  /** Why ARI could not decide, when the CA offers it but the lookup failed; the lifetime rule decided instead, and nextCheck says when to try again. */
  ariError?: Error;
}

/**
 * Asks the CA when to renew and decides (§4.2), falling back to the lifetime rule when the CA has no renewalInfo,
 * the certificate has no AKI, or the request fails or is invalid (§4.3: the client then uses its own schedule).
 *
 * @example
 * ```ts
 * import { checkRenewal, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const { due, reason, ariError } = await checkRenewal({ cert: cert!, renewalInfoUrl: "https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo" });
 * ```
 */
export async function checkRenewal(options: CheckRenewalOptions): Promise<RenewalCheck> {
  const { renewalInfoUrl, transport, fetch, signal, ...input } = options;
  if (!input.cert.authorityKeyIdentifier?.length) return renewalDecision(input);
  const certId = certificateIdentifier(input.cert);
  if (!renewalInfoUrl) return { ...renewalDecision(input), certId };
  let renewalInfo: RenewalInfo;
  try {
    // One clock for the decision and for reading Retry-After.
    const now = input.now && (() => input.now!.getTime());
    renewalInfo = await fetchRenewalInfo(renewalInfoUrl, certId, { ...(transport && { transport }), ...(fetch && { fetch }), ...(signal && { signal }), ...(now && { now }) });
  } catch (error) {
    if ((transport?.signal ?? signal)?.aborted) throw error;
    const check: RenewalCheck = { ...renewalDecision(input), certId, ariError: error as Error };
    // §4.3: retry later rather than on every run; the CA's Retry-After when it sent one.
    check.nextCheck = nextRenewalCheck(input.now ?? new Date(), error instanceof AcmeError ? error.retryAfter : undefined);
    return check;
  }
  return { ...renewalDecision({ ...input, renewalInfo }), certId, renewalInfo };
}

/**
 * Whether the CA refused a newOrder because of its `replaces` field: RFC 9773's alreadyReplaced, or any other
 * client error whose detail names the field. Boulder prefixes all of its reasons with "Could not validate ARI
 * 'replaces' field": an unknown certificate (malformed, 404), another account's certificate (unauthorized, 403),
 * identifiers with nothing in common (malformed, 400), and a certificate that was already replaced (409).
 *
 * @example
 * ```ts
 * import { isReplacesRejected } from "@acmets/acme-client";
 * try {
 *   await order();
 * } catch (error) {
 *   if (isReplacesRejected(error)) console.error("the CA refused replaces:", error.problem.detail);
 * }
 * declare function order(): Promise<void>;
 * ```
 */
export function isReplacesRejected(error: unknown): error is AcmeError {
  if (!(error instanceof AcmeError)) return false;
  if (error.problem.type === ACME_ERROR.alreadyReplaced) return true;
  if (error.problem.type === ACME_ERROR.rateLimited || error.problem.type === ACME_ERROR.badNonce) return false;
  return error.status >= 400 && error.status < 500 && /\breplaces\b/i.test(error.problem.detail ?? '');
}

/**
 * Creates an order with `replaces`, and if the CA refuses the field, once more without it (§5: `replaces` only buys
 * the rate-limit exemption; a renewal must not fail over it). `onFallback` hears why, for a warning.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, withReplacesFallback } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const order = await withReplacesFallback("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", (replaces) =>
 *   client.newOrder({ identifiers: [{ type: "dns", value: "example.com" }], ...(replaces && { replaces }) }),
 *   (error) => console.warn(`renewing without replaces: ${error.message}`));
 * ```
 */
export async function withReplacesFallback<T>(
  replaces: string | undefined,
  createOrder: (replaces: string | undefined) => Promise<T>,
  onFallback?: (error: AcmeError) => void,
): Promise<T> {
  if (replaces === undefined) return createOrder(undefined);
  try {
    return await createOrder(replaces);
  } catch (error) {
    if (!isReplacesRejected(error)) throw error;
    onFallback?.(error);
    return createOrder(undefined);
  }
}
