// When a certificate on disk is due, by the CA's renewal window (RFC 9773) where it offers one. The last answer is
// kept in renewal-info.json beside cert.pem, so a daily run inside the CA's Retry-After decides from that file with
// no request; the request itself (cli/ari-query.ts, made by the network process) comes only on a run that must ask.

import type { CertificateSummary } from '../core/_der-lite.ts';
import { hexEncode } from '../core/encoding.ts';
import { certificateIdentifier, renewalDecision, type RenewalDecision, type RenewalWindow } from '../core/renewal.ts';
import type { CliOptions } from './args.ts';
import type { RenewalAsker } from './ari-query.ts';
import type { CliPaths } from './defaults.ts';
import type { Plan } from './plan.ts';
import type { CliPlatform } from './platform.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The CLI runs daily from cron: RFC 9773 §4.2 renews at once when the chosen moment falls before the next run. */
export function nextDailyRun(now: Date): Date {
  return new Date(now.getTime() + DAY_MS);
}

/** renewal-info.json: what the issuing CA last said about one certificate. */
export interface RenewalState {
  /** The certificate the answer is about: its serial number in hex. */
  serial: string;
  /** The issuing CA's renewalInfo URL; null when ARI cannot serve this certificate (no renewalInfo, or no AKI). */
  renewalInfo: string | null;
  suggestedWindow?: RenewalWindow;
  explanationURL?: string;
  /** RFC 9773 §4.3: no request before then. Absent: ask on the next run. */
  nextCheck?: Date;
}

export function serialOf(cert: Pick<CertificateSummary, 'serialBytes'>): string {
  return hexEncode(cert.serialBytes);
}

/** renewal-info.json's mode: public facts about a public certificate. */
export const STATE_FILE_MODE = 0o644;

export function formatRenewalState(state: RenewalState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

const date = (value: unknown): Date | undefined => {
  const parsed = typeof value === 'string' ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
};

/** The state in a file's text; anything malformed is no state at all, since the CA can always be asked again. */
export function parseRenewalState(text: string): RenewalState | undefined {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.serial !== 'string') return undefined;
  if (raw.renewalInfo !== null && typeof raw.renewalInfo !== 'string') return undefined;
  const state: RenewalState = { serial: raw.serial, renewalInfo: raw.renewalInfo };
  const window = raw.suggestedWindow as { start?: unknown; end?: unknown } | undefined;
  if (window !== undefined) {
    const start = date(window?.start);
    const end = date(window?.end);
    if (!start || !end) return undefined;
    state.suggestedWindow = { start, end };
  }
  if (typeof raw.explanationURL === 'string') state.explanationURL = raw.explanationURL;
  if (raw.nextCheck !== undefined) {
    const nextCheck = date(raw.nextCheck);
    if (!nextCheck) return undefined;
    state.nextCheck = nextCheck;
  }
  return state;
}

/** The decision the state leads to, for a CLI run daily. */
export function decideFromState(cert: CertificateSummary, state: RenewalState, now: Date): RenewalDecision {
  const renewalInfo = state.suggestedWindow && { suggestedWindow: state.suggestedWindow, ...(state.explanationURL && { explanationURL: state.explanationURL }) };
  return renewalDecision({ cert, now, nextRun: nextDailyRun(now), ...(renewalInfo && { renewalInfo }) });
}

/**
 * Whether the state can decide for `cert` now without asking the CA: it must be about this certificate, and either
 * the CA has no renewal information for it, or its Retry-After has not passed.
 */
export function isCurrent(state: RenewalState, cert: CertificateSummary, now: Date): boolean {
  if (state.serial !== serialOf(cert)) return false;
  return state.renewalInfo === null || (state.nextCheck !== undefined && now.getTime() < state.nextCheck.getTime());
}

function readState(platform: CliPlatform, file: string): RenewalState | undefined {
  try {
    const text = platform.readTextFile(file);
    return text === undefined ? undefined : parseRenewalState(text);
  } catch {
    return undefined; // unreadable is as good as absent: the CA is asked, and the new answer written over it
  }
}

/**
 * The plan once the CA's window has had its say. -F and -e renew whatever the time; a plan the time decided is
 * decided again from renewal-info.json, or from the CA's answer when that file is stale. Every renewal carries the
 * old certificate's identifier for `replaces` (the run sends it only if the CA offers ARI). `ask` has the run's
 * network process ask, and starts it, only when the CA has to be asked; `der` is the certificate it asks about.
 */
export async function scheduleRenewal(
  platform: CliPlatform, options: CliOptions, cert: CertificateSummary, der: Uint8Array, paths: CliPaths, plan: Plan, now: Date, ask: RenewalAsker,
): Promise<Plan> {
  if (plan.action !== 'renew' && plan.action !== 'unchanged') return plan;
  const replaces = cert.authorityKeyIdentifier?.length ? certificateIdentifier(cert) : undefined;
  const withReplaces = (renew: Extract<Plan, { action: 'renew' }>) => (replaces ? { ...renew, replaces } : renew);
  if (plan.action === 'renew' && plan.renewAt === undefined) return withReplaces(plan);

  let state = readState(platform, paths.renewalInfo);
  if (!state || !isCurrent(state, cert, now)) {
    const [{ askRenewalInfo }, runPlatform] = await Promise.all([import('./ari-query.ts'), platform.load()]);
    state = await askRenewalInfo({ ...platform, ...runPlatform }, options, ask, cert, der, state, paths.renewalInfo);
  }
  const decision = decideFromState(cert, state, now);
  const window = state.suggestedWindow && `the CA's renewal window ${state.suggestedWindow.start.toISOString()} to ${state.suggestedWindow.end.toISOString()}`;
  if (!decision.due) {
    const why = window && [window, decision.explanationURL && `see ${decision.explanationURL}`, state.nextCheck && `next check ${state.nextCheck.toISOString()}`]
      .filter(Boolean).join('; ');
    return { action: 'unchanged', renewAt: decision.at, notAfter: cert.notAfter, ...(why && { why }) };
  }
  // A window the CA moved forward usually means an incident; its explanation is worth a line in the cron mail.
  if (decision.explanationURL) platform.writeStderr(`acme-client: the CA explains its renewal window at ${decision.explanationURL}\n`);
  return withReplaces({ action: 'renew', reason: `due since ${decision.at.toISOString()}${window ? ` (${window})` : ''}`, renewAt: decision.at });
}
