// ACME Renewal Information (RFC 9773): the certificate identifier, the CA's suggested renewal window, the decision
// whether to renew now (the lifetime rule when the CA gives no window), and the `replaces` retry for newOrder.

import { base64UrlEncode } from './encoding.ts';
import { ACME_ERROR, AcmeError, UnexpectedResponseError } from './errors.ts';
import { Transport, type TransportOptions } from './http.ts';
import { renewalTime } from './renewal.ts';
import type { CertificateInfo } from './x509.ts';

/** What ARI needs from a parsed certificate. */
export type AriCertificate = Pick<CertificateInfo, 'serialBytes' | 'authorityKeyIdentifier' | 'notBefore' | 'notAfter'>;

export interface RenewalWindow {
  start: Date;
  end: Date;
}

export interface RenewalInfo {
  suggestedWindow: RenewalWindow;
  /** A page the CA wants the user to read, typically about an incident that moved the window (§4.2). */
  explanationURL?: string;
  /** When to ask again (§4.3), from the response's Retry-After. */
  retryAfter?: Date;
}

export type RenewalReason = 'ari' | 'lifetime';

export interface RenewalDecision {
  due: boolean;
  /** The moment renewal becomes due: a point in the CA's window, or the lifetime rule's time. */
  at: Date;
  reason: RenewalReason;
  explanationURL?: string;
  /** When to ask the CA again, when it gave a window. */
  nextCheck?: Date;
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** §4.3: clients bound the polling interval; a minute and a day are the RFC's own examples. */
const MIN_CHECK_MS = MINUTE_MS;
const MAX_CHECK_MS = DAY_MS;
/** Without Retry-After, ask again after six hours, the interval Let's Encrypt sends. */
const DEFAULT_CHECK_MS = 6 * 60 * MINUTE_MS;

/**
 * §4.1: base64url(AKI keyIdentifier) "." base64url(serial), the serial being the INTEGER's content octets with any
 * leading zero byte, as DER encodes them. The same string goes into newOrder's `replaces` (§5).
 */
export function certificateIdentifier(cert: Pick<AriCertificate, 'serialBytes' | 'authorityKeyIdentifier'>): string {
  if (!cert.authorityKeyIdentifier || cert.authorityKeyIdentifier.length === 0) {
    throw new RangeError('Cannot compute the ARI certificate identifier: the certificate has no authority key identifier (RFC 9773 §4.1)');
  }
  return `${base64UrlEncode(cert.authorityKeyIdentifier)}.${base64UrlEncode(cert.serialBytes)}`;
}

export interface FetchRenewalInfoOptions extends TransportOptions {
  /** The ACME client's transport, so the request shares its fetch, trace and clock. */
  transport?: Transport;
}

/** GET {renewalInfo}/{certID} (§4.1), unauthenticated, and validate the answer (§4.2). */
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

/** §4.2: a uniformly random moment inside the window; `random` returns a number in [0, 1). */
export function chooseRenewalTime(window: RenewalWindow, random: () => number = Math.random): Date {
  const start = window.start.getTime();
  const fraction = Math.min(Math.max(random(), 0), 1);
  return new Date(start + Math.floor(fraction * (window.end.getTime() - start)));
}

/**
 * A fraction in [0, 1) fixed by the certificate's serial (FNV-1a). §4.2 asks for a uniformly random time in the
 * window; certbot draws it anew on every run, so each run of a daily cron job rolls the dice again, which pulls
 * renewals toward the window's start and makes the outcome differ between runs. CAs draw serials from at least 64
 * random bits (CA/B Baseline Requirements §7.1), so this is as uniform across certificates as a fresh draw, while one
 * certificate keeps its moment from run to run without a state file. A moved window keeps the same relative spot.
 */
export function stableFraction(serialBytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of serialBytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return (hash >>> 0) / 2 ** 32;
}

export interface RenewalDecisionInput {
  cert: AriCertificate;
  now?: Date;
  /** The CA's answer; without it the lifetime rule decides. */
  renewalInfo?: RenewalInfo;
  /** Picks the spot in the window; defaults to stableFraction of the serial. */
  random?: () => number;
  /**
   * When the caller will run next, e.g. now + 1 day for a daily cron job. §4.2: if the chosen moment falls before
   * then, renew now rather than after it, so a short window is not overshot. Never before the window opens.
   */
  nextRun?: Date;
}

export function renewalDecision(input: RenewalDecisionInput): RenewalDecision {
  const { cert, renewalInfo } = input;
  const now = input.now ?? new Date();
  const expired = now.getTime() >= cert.notAfter.getTime();
  if (!renewalInfo) {
    const at = renewalTime(cert);
    return { due: expired || now.getTime() >= at.getTime(), at, reason: 'lifetime' };
  }
  const window = renewalInfo.suggestedWindow;
  const at = chooseRenewalTime(window, input.random ?? (() => stableFraction(cert.serialBytes)));
  const horizon = Math.max(now.getTime(), input.nextRun?.getTime() ?? 0);
  const due = expired || now.getTime() >= at.getTime() || (now.getTime() >= window.start.getTime() && at.getTime() < horizon);
  const decision: RenewalDecision = { due, at, reason: 'ari', nextCheck: nextCheck(now, renewalInfo.retryAfter) };
  if (renewalInfo.explanationURL) decision.explanationURL = renewalInfo.explanationURL;
  return decision;
}

function nextCheck(now: Date, retryAfter: Date | undefined): Date {
  const wait = retryAfter ? retryAfter.getTime() - now.getTime() : DEFAULT_CHECK_MS;
  return new Date(now.getTime() + Math.min(Math.max(wait, MIN_CHECK_MS), MAX_CHECK_MS));
}

export interface CheckRenewalOptions extends Omit<RenewalDecisionInput, 'renewalInfo'> {
  /** The directory's `renewalInfo`; absent when the CA does not offer ARI. */
  renewalInfoUrl?: string;
  transport?: Transport;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export interface RenewalCheck extends RenewalDecision {
  /** The identifier to send as `replaces` when renewing; absent when the certificate has no AKI. */
  certId?: string;
  /** Why ARI could not decide, when the CA offers it but the lookup failed; the lifetime rule decided instead. */
  ariError?: Error;
}

/**
 * Asks the CA when to renew and decides (§4.2), falling back to the lifetime rule when the CA has no renewalInfo,
 * the certificate has no AKI, or the request fails or is invalid (§4.3: the client then uses its own schedule).
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
    if (error instanceof AcmeError && error.retryAfter) check.nextCheck = nextCheck(input.now ?? new Date(), error.retryAfter);
    return check;
  }
  return { ...renewalDecision({ ...input, renewalInfo }), certId };
}

/**
 * Whether the CA refused a newOrder because of its `replaces` field: RFC 9773's alreadyReplaced, or any other
 * client error whose detail names the field. Boulder prefixes all of its reasons with "Could not validate ARI
 * 'replaces' field": an unknown certificate (malformed, 404), another account's certificate (unauthorized, 403),
 * identifiers with nothing in common (malformed, 400), and a certificate that was already replaced (409).
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
