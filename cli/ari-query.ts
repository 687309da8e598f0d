// Asking the CA for a certificate's renewal window (RFC 9773 §4.1) and keeping its answer in renewal-info.json. Loaded
// by dynamic import: only a run whose kept answer is stale, or one that talks to the CA anyway, needs it.

import type { CertificateSummary } from '../core/_der-lite.ts';
import { checkRenewal } from '../core/ari.ts';
import type { CliOptions } from './args.ts';
import type { CaSession } from './ca-session.ts';
import { fileErrorReason, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { STATE_FILE_MODE, formatRenewalState, nextDailyRun, serialOf, type RenewalState } from './renewal-info.ts';

type Platform = CliPlatform & CliRunPlatform;

/** Writes renewal-info.json; a failure costs only a request on the next run, so it warns instead of failing the run. */
export async function saveRenewalState(platform: Platform, file: string, state: RenewalState): Promise<void> {
  try {
    await platform.writeFileAtomic(file, formatRenewalState(state), STATE_FILE_MODE);
  } catch (error) {
    platform.writeStderr(`acme-client: warning: Cannot write ${file}: ${fileErrorReason(error)}\n`);
  }
}

/**
 * Asks the issuing CA, at the renewalInfo URL that `known` recorded for this certificate, or else at the one the
 * directory of the CA in use lists, and saves the answer. When the CA cannot answer, the lifetime rule decides
 * (§4.3) and the next question waits for its Retry-After, or six hours; a directory that cannot be read is not
 * saved, so the next run asks again. Nothing here fails the run: -v says what went wrong. The run's other sets share
 * the session's directory and connections.
 */
export async function askRenewalInfo(
  platform: Platform, options: CliOptions, session: CaSession, cert: CertificateSummary, known: RenewalState | undefined, file: string, now: Date,
): Promise<RenewalState> {
  const log = (line: string) => options.verbosity && platform.writeStderr(`acme-client: ${line}\n`);
  const serial = serialOf(cert);
  let renewalInfo = known?.serial === serial ? known.renewalInfo : undefined;
  if (renewalInfo === undefined) {
    try {
      renewalInfo = (await session.directory()).renewalInfo ?? null;
    } catch (error) {
      log(`cannot ask the CA for its renewal window (${(error as Error).message}); deciding by the certificate's lifetime`);
      return { serial, renewalInfo: null };
    }
  }
  if (!cert.authorityKeyIdentifier?.length) renewalInfo = null;
  const state: RenewalState = { serial, renewalInfo };
  if (renewalInfo !== null) {
    const check = await checkRenewal({ cert, now, renewalInfoUrl: renewalInfo, transport: session.transportFor(platform), nextRun: nextDailyRun(now) });
    if (check.renewalInfo) state.suggestedWindow = check.renewalInfo.suggestedWindow;
    if (check.explanationURL) state.explanationURL = check.explanationURL;
    if (check.nextCheck) state.nextCheck = check.nextCheck;
    if (check.ariError) log(`cannot get the CA's renewal window (${check.ariError.message}); deciding by the certificate's lifetime until ${check.nextCheck!.toISOString()}`);
  }
  await saveRenewalState(platform, file, state);
  return state;
}
