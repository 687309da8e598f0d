// When a certificate is due for renewal: inside the window the CA suggests through ARI (RFC 9773 §4.2), or else by
// a rule that scales with the lifetime, so short-lived certificates (Let's Encrypt's 160-hour `shortlived`, 45-day
// `tlsserver`) are neither renewed on every run nor left too late. Pure and small: the CLI's daily run loads it.

import { base64UrlEncode } from './encoding.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/** acme-client(1)'s fixed window: a long-lived certificate renews 30 days before it expires. */
const MAX_WINDOW_MS = 30 * DAY_MS;

/**
 * A certificate's validity period (RFC 5280 §4.1.2.5).
 *
 * @example
 * ```ts
 * import { renewalTime, type Validity } from "@acmets/acme-client";
 * const cert: Validity = { notBefore: new Date("2025-01-01T00:00:00Z"), notAfter: new Date("2025-04-01T00:00:00Z") };
 * console.log(renewalTime(cert)); // 2025-03-02: 30 days before expiry
 * ```
 */
export interface Validity {
  /** The start of validity. */
  notBefore: Date;
  /** The end of validity. */
  notAfter: Date;
}

/**
 * The moment renewal becomes due: when less than a third of the lifetime remains, but with at most 30 days to
 * go. A 90-day certificate renews 30 days before expiry (as acme-client(1) always did), a 45-day one at 15 days,
 * a 6-day one at 2 days, and a 1-year one at 30 days. Let's Encrypt recommends renewing at two thirds of the
 * lifetime; a fixed 30-day window would renew any certificate shorter than that on every run.
 *
 * @example
 * ```ts
 * import { parseCertificateChain, renewalTime } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * console.log(`renew from ${renewalTime(cert!).toISOString()}`);
 * ```
 */
export function renewalTime(cert: Validity): Date {
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new RangeError('Cannot compute a renewal time: the validity holds an invalid date');
  const lifetime = Math.max(0, notAfter - notBefore);
  return new Date(notAfter - Math.min(lifetime / 3, MAX_WINDOW_MS));
}

/**
 * Whether renewalTime has come by `now`.
 *
 * @example
 * ```ts
 * import { isRenewalDue, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * if (isRenewalDue(cert!)) console.log("renew now");
 * ```
 */
export function isRenewalDue(cert: Validity, now: Date = new Date()): boolean {
  return now.getTime() >= renewalTime(cert).getTime();
}

/**
 * What ARI needs from a certificate: core/x509.ts's CertificateInfo, or core/_der-lite.ts's summary.
 *
 * @example
 * ```ts
 * import { certificateIdentifier, parseCertificateChain, type AriCertificate } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const ari: AriCertificate = cert!;
 * console.log(certificateIdentifier(ari));
 * ```
 */
export interface AriCertificate extends Validity {
  /** The serial INTEGER's content octets as DER encodes them. */
  serialBytes: Uint8Array;
  /** The authority key identifier's keyIdentifier; ARI needs it. */
  authorityKeyIdentifier?: Uint8Array;
}

/**
 * RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial), the serial being the INTEGER's content octets with any
 * leading zero byte, as DER encodes them. The same string goes into newOrder's `replaces` (RFC 9773 §5).
 *
 * @example
 * ```ts
 * import { certificateIdentifier, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const certId = certificateIdentifier(cert!); // "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
 * ```
 */
export function certificateIdentifier(cert: Pick<AriCertificate, 'serialBytes' | 'authorityKeyIdentifier'>): string {
  if (!cert.authorityKeyIdentifier || cert.authorityKeyIdentifier.length === 0) {
    throw new RangeError('Cannot compute the ARI certificate identifier: the certificate has no authority key identifier (RFC 9773 §4.1)');
  }
  return `${base64UrlEncode(cert.authorityKeyIdentifier)}.${base64UrlEncode(cert.serialBytes)}`;
}

/**
 * The window in which the CA suggests renewing (RFC 9773 §4.2).
 *
 * @example
 * ```ts
 * import { chooseRenewalTime, type RenewalWindow } from "@acmets/acme-client";
 * const window: RenewalWindow = { start: new Date("2025-03-01T00:00:00Z"), end: new Date("2025-03-03T00:00:00Z") };
 * console.log(chooseRenewalTime(window));
 * ```
 */
export interface RenewalWindow {
  /** The window's start. */
  start: Date;
  /** The window's end, after its start. */
  end: Date;
}

/**
 * The CA's renewal information for one certificate (RFC 9773 §4.2), checked.
 *
 * @example
 * ```ts
 * import { certificateIdentifier, fetchRenewalInfo, parseCertificateChain } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const info = await fetchRenewalInfo("https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo", certificateIdentifier(cert!));
 * console.log(info.suggestedWindow.start, info.retryAfter);
 * ```
 */
export interface RenewalInfo {
  /** When to renew. */
  suggestedWindow: RenewalWindow;
  /** A page the CA wants the user to read, typically about an incident that moved the window (RFC 9773 §4.2). */
  explanationURL?: string;
  /** When to ask again (RFC 9773 §4.3), from the response's Retry-After. */
  retryAfter?: Date;
}

/**
 * What decided a renewal time: the CA's ARI window, or the lifetime rule.
 *
 * @example
 * ```ts
 * import type { RenewalReason } from "@acmets/acme-client";
 * const reason: RenewalReason = "ari";
 * ```
 */
export type RenewalReason = 'ari' | 'lifetime';

/**
 * When a certificate is due, and why.
 *
 * @example
 * ```ts
 * import { parseCertificateChain, renewalDecision } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const decision = renewalDecision({ cert: cert! });
 * console.log(decision.due, decision.at, decision.reason); // reason "lifetime": no ARI answer given
 * ```
 */
export interface RenewalDecision {
  /** Whether to renew now. */
  due: boolean;
  /** The moment renewal becomes due: a point in the CA's window, or the lifetime rule's time. */
  at: Date;
  /** What decided. */
  reason: RenewalReason;
  /** The CA's page about its window, when it gave one. */
  explanationURL?: string;
  /** When to ask the CA again, when it gave a window. */
  nextCheck?: Date;
}

/** RFC 9773 §4.3: clients bound the polling interval; a minute and a day are the RFC's own examples. */
const MIN_CHECK_MS = MINUTE_MS;
const MAX_CHECK_MS = DAY_MS;
/** Without Retry-After, ask again after six hours, the interval Let's Encrypt sends. */
const DEFAULT_CHECK_MS = 6 * 60 * MINUTE_MS;

/**
 * RFC 9773 §4.2: a uniformly random moment inside the window; `random` returns a number in [0, 1).
 *
 * @example
 * ```ts
 * import { chooseRenewalTime } from "@acmets/acme-client";
 * const at = chooseRenewalTime({ start: new Date("2025-03-01T00:00:00Z"), end: new Date("2025-03-03T00:00:00Z") });
 * ```
 */
export function chooseRenewalTime(window: RenewalWindow, random: () => number = Math.random): Date {
  const start = window.start.getTime();
  const fraction = Math.min(Math.max(random(), 0), 1);
  return new Date(start + Math.floor(fraction * (window.end.getTime() - start)));
}

/**
 * A fraction in [0, 1) fixed by the certificate's serial (FNV-1a). RFC 9773 §4.2 asks for a uniformly random time in the
 * window; certbot draws it anew on every run, so each run of a daily cron job rolls the dice again, which pulls
 * renewals toward the window's start and makes the outcome differ between runs. CAs draw serials from at least 64
 * random bits (CA/B Baseline Requirements §7.1), so this is as uniform across certificates as a fresh draw, while one
 * certificate keeps its moment from run to run without a state file. A moved window keeps the same relative spot.
 *
 * @example
 * ```ts
 * import { stableFraction } from "@acmets/acme-client";
 * console.log(stableFraction(new Uint8Array([0x03, 0xa1, 0x5e]))); // the same fraction on every run
 * ```
 */
export function stableFraction(serialBytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of serialBytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return (hash >>> 0) / 2 ** 32;
}

/**
 * What renewalDecision decides from.
 *
 * @example
 * ```ts
 * import { parseCertificateChain, renewalDecision } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const decision = renewalDecision({ cert: cert!, nextRun: new Date(Date.now() + 86_400_000) });
 * ```
 */
export interface RenewalDecisionInput {
  /** The certificate. */
  cert: AriCertificate;
  /** The current time; now by default. */
  now?: Date;
  /** The CA's answer; without it the lifetime rule decides. */
  renewalInfo?: RenewalInfo;
  /** Picks the spot in the window; defaults to stableFraction of the serial. */
  random?: () => number;
  /**
   * When the caller will run next, e.g. now + 1 day for a daily cron job. RFC 9773 §4.2: if the chosen moment falls before
   * then, renew now rather than after it, so a short window is not overshot. Never before the window opens.
   */
  nextRun?: Date;
}

/**
 * Decides when to renew: at a moment in the CA's window when there is one (RFC 9773 §4.2), renewing at once inside or
 * past it, else by the lifetime rule (renewalTime).
 *
 * @example
 * ```ts
 * import { parseCertificateChain, renewalDecision } from "@acmets/acme-client";
 * declare const certificatePem: string; // the text of cert.pem, read the way your runtime reads files
 * const [cert] = parseCertificateChain(certificatePem);
 * const { due, at } = renewalDecision({
 *   cert: cert!,
 *   renewalInfo: { suggestedWindow: { start: new Date("2025-03-01T00:00:00Z"), end: new Date("2025-03-03T00:00:00Z") } },
 * });
 * ```
 */
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
  const decision: RenewalDecision = { due, at, reason: 'ari', nextCheck: nextRenewalCheck(now, renewalInfo.retryAfter) };
  if (renewalInfo.explanationURL) decision.explanationURL = renewalInfo.explanationURL;
  return decision;
}

/**
 * When to ask the CA again: its Retry-After, or six hours without one, kept between a minute and a day (§4.3).
 *
 * @example
 * ```ts
 * import { nextRenewalCheck } from "@acmets/acme-client";
 * nextRenewalCheck(new Date(), undefined); // six hours from now
 * ```
 */
export function nextRenewalCheck(now: Date, retryAfter: Date | undefined): Date {
  const wait = retryAfter ? retryAfter.getTime() - now.getTime() : DEFAULT_CHECK_MS;
  return new Date(now.getTime() + Math.min(Math.max(wait, MIN_CHECK_MS), MAX_CHECK_MS));
}
