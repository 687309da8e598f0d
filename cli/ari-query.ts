// Asking the CA for a certificate's renewal window (RFC 9773 §4.1): the network process asks (cli/net-process.ts), as it
// makes every request to the CA, and the parent checks its answer and keeps it in renewal-info.json. Loaded by dynamic
// import: only a run whose kept answer is stale needs it.

import { readCertificateSummary, type CertificateSummary } from '../core/_der-lite.ts';
import { checkRenewal } from '../core/ari.ts';
import { base64UrlDecode, base64UrlEncode } from '../core/encoding.ts';
import type { Transport } from '../core/http.ts';
import type { Directory } from '../core/resources.ts';
import type { CliOptions } from './args.ts';
import { fileErrorReason, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { STATE_FILE_MODE, formatRenewalState, nextDailyRun, parseRenewalState, serialOf, type RenewalState } from './renewal-info.ts';

type Platform = CliPlatform & CliRunPlatform;

/** What the parent asks: the certificate (DER, base64url), and the renewalInfo URL its last answer recorded, if any. */
export interface RenewalQuestion {
  certificate: string;
  renewalInfo?: string | null;
}

/** The network process's answer: renewal-info.json's text, and whether to keep it (not when the directory was unreadable). */
export interface RenewalAnswer {
  state: string;
  save: boolean;
}

/** Asks a run's network process; it rejects only when that process cannot answer at all. */
export type RenewalAsker = (question: RenewalQuestion, log: (line: string) => void) => Promise<unknown>;

/**
 * In the network process: asks the issuing CA, at the renewalInfo URL the question carries, or else at the one the
 * directory lists. When the CA cannot answer, the lifetime rule decides (§4.3) and the next question waits for its
 * Retry-After, or six hours; a directory that cannot be read is not kept, so the next run asks again.
 */
export async function queryRenewalInfo(
  question: RenewalQuestion, directory: () => Promise<Directory>, transport: Transport, now: Date, log: (line: string) => void,
): Promise<RenewalAnswer> {
  const cert = readCertificateSummary(base64UrlDecode(question.certificate));
  const serial = serialOf(cert);
  let renewalInfo = question.renewalInfo;
  if (renewalInfo === undefined) {
    try {
      renewalInfo = (await directory()).renewalInfo ?? null;
    } catch (error) {
      log(`cannot ask the CA for its renewal window (${(error as Error).message}); deciding by the certificate's lifetime`);
      return { state: formatRenewalState({ serial, renewalInfo: null }), save: false };
    }
  }
  if (!cert.authorityKeyIdentifier?.length) renewalInfo = null;
  const state: RenewalState = { serial, renewalInfo };
  if (renewalInfo !== null) {
    const check = await checkRenewal({ cert, now, renewalInfoUrl: renewalInfo, transport, nextRun: nextDailyRun(now) });
    if (check.renewalInfo) state.suggestedWindow = check.renewalInfo.suggestedWindow;
    if (check.explanationURL) state.explanationURL = check.explanationURL;
    if (check.nextCheck) state.nextCheck = check.nextCheck;
    if (check.ariError) log(`cannot get the CA's renewal window (${check.ariError.message}); deciding by the certificate's lifetime until ${check.nextCheck!.toISOString()}`);
  }
  return { state: formatRenewalState(state), save: true };
}

/** Writes renewal-info.json; a failure costs only a request on the next run, so it warns instead of failing the run. */
async function saveRenewalState(platform: Platform, file: string, state: RenewalState): Promise<void> {
  try {
    await platform.writeFileAtomic(file, formatRenewalState(state), STATE_FILE_MODE);
  } catch (error) {
    platform.writeStderr(`acme-client: warning: Cannot write ${file}: ${fileErrorReason(error)}\n`);
  }
}

/**
 * In the parent: has the network process ask about `cert` (whose DER is `der`), checks the answer's form, and keeps
 * it. Nothing here fails the run: when no answer comes, the lifetime rule decides and -v says why.
 */
export async function askRenewalInfo(
  platform: Platform, options: CliOptions, ask: RenewalAsker, cert: CertificateSummary, der: Uint8Array, known: RenewalState | undefined, file: string,
): Promise<RenewalState> {
  const log = (line: string) => options.verbosity && platform.writeStderr(`acme-client: ${line}\n`);
  const serial = serialOf(cert);
  let answer: RenewalAnswer;
  try {
    answer = (await ask({ certificate: base64UrlEncode(der), ...(known?.serial === serial && { renewalInfo: known.renewalInfo }) }, log)) as RenewalAnswer;
  } catch (error) {
    log(`cannot ask the CA for its renewal window (${(error as Error).message}); deciding by the certificate's lifetime`);
    return { serial, renewalInfo: null };
  }
  const state = typeof answer?.state === 'string' ? parseRenewalState(answer.state) : undefined;
  if (state?.serial !== serial) {
    log('cannot ask the CA for its renewal window (the network process answered with no renewal state for this certificate); deciding by the certificate\'s lifetime');
    return { serial, renewalInfo: null };
  }
  if (answer.save === true) await saveRenewalState(platform, file, state);
  return state;
}
