// acme-client in any runtime, over the platform its entry hands in. It decides from the files alone whether
// anything is due (cert.pem, and the CA's last renewal window in renewal-info.json while its Retry-After holds), so
// the daily cron run that finds nothing to do (exit 2) loads only argument parsing, the renewal rule and a small DER
// reader; the protocol, keys, CSR code and the platform's servers and fetch come in by dynamic import only when a
// certificate has to change or the CA has to be asked for its window.

import { readCertificateSummary, type CertificateSummary } from '../core/_der-lite.ts';
import { pemDecodeAll } from '../core/encoding.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { normalizeIdentifiers, type Identifier } from '../core/names.ts';
import { HELP, parseArgs, type CliOptions } from './args.ts';
import type { CaSession } from './ca-session.ts';
import { resolvePaths, type CliPaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_FAILURE, EXIT_UNCHANGED, planRun, type Plan } from './plan.ts';
import { readText, type CliPlatform } from './platform.ts';
import { scheduleRenewal } from './renewal-info.ts';
import { VERSION } from './version.ts';

/** The certificate in cert.pem, or undefined when there is none yet. */
export function readCurrentCertificate(platform: CliPlatform, file: string): CertificateSummary | undefined {
  const text = readText(platform, file);
  if (text === undefined) return undefined;
  try {
    const block = pemDecodeAll(text).find((candidate) => candidate.label === 'CERTIFICATE');
    if (!block) throw new SyntaxError('Cannot parse PEM: no "CERTIFICATE" block');
    return readCertificateSummary(block.der);
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

async function main(platform: CliPlatform): Promise<number> {
  const options = parseArgs(platform.args);
  if (options.help) {
    platform.writeStdout(`${HELP}\n`);
    return EXIT_CHANGED;
  }
  if (options.version) {
    platform.writeStdout(`acme-client ${VERSION}\n`);
    return EXIT_CHANGED;
  }
  if (options.renewAll || options.renewList !== undefined) {
    const { renewMany } = await import('./renew-many.ts');
    return renewMany(platform, options);
  }
  const identifiers = normalizeIdentifiers(options.names);
  const session = caSessionOnFirstUse(platform, options);
  try {
    return (await processSet(platform, options, identifiers, resolvePaths(options, identifiers[0]!.value), { session: session.get })).code;
  } finally {
    await session.close();
  }
}

/** A resource that its first user opens, so that a run where nothing is due opens and loads nothing; close() ends it if opened. */
export function openedOnFirstUse<T extends { close?(): unknown }>(open: () => Promise<T>): { get(): Promise<T>; close(): Promise<void> } {
  let opened: Promise<T> | undefined;
  return {
    get: () => (opened ??= open()),
    async close() {
      if (opened) await (await opened.catch(() => undefined))?.close?.();
    },
  };
}

/** The run's session with its CA (cli/ca-session.ts), which every set of the run shares. */
export function caSessionOnFirstUse(platform: CliPlatform, options: CliOptions): { get(): Promise<CaSession>; close(): Promise<void> } {
  return openedOnFirstUse(async () => {
    const [{ CaSession }, runPlatform] = await Promise.all([import('./ca-session.ts'), platform.load()]);
    return new CaSession({ ...platform, ...runPlatform }, options);
  });
}

/** What the sets of one run share: the CA session, opened by the first set that talks to the CA, and for several sets one http-01 responder. */
export interface RunShared {
  session(): Promise<CaSession>;
  /** One that several sets share (--renew-all); each set leaves it open. */
  responder?: ChallengeResponder;
}

/** One domain set, from its files to its exit status: the plan, the CA's renewal window, and the run when a certificate changes. */
export async function processSet(
  platform: CliPlatform, options: CliOptions, identifiers: Identifier[], paths: CliPaths, shared: RunShared,
): Promise<{ code: number; plan: Plan }> {
  const now = new Date();
  const existing = readCurrentCertificate(platform, paths.cert);
  let plan = planRun(options, identifiers, existing, paths.cert, now);
  if (existing) plan = await scheduleRenewal(platform, options, existing, paths, plan, now, shared.session);
  if (plan.action === 'unchanged') {
    if (options.verbosity) {
      platform.writeStderr(`acme-client: ${paths.cert} is valid until ${plan.notAfter.toISOString()}; renewal is due from ${plan.renewAt.toISOString()}`
        + `${plan.why ? ` (${plan.why})` : ''}\n`);
    }
    return { code: EXIT_UNCHANGED, plan };
  }
  const [{ run }, runPlatform] = await Promise.all([import('./run.ts'), platform.load()]);
  return { code: await run({ options, identifiers, paths, plan, shared }, { ...platform, ...runPlatform }), plan };
}

/** A failure as one line, as cron mails and log scrapers expect; the message already names the file, name or problem. */
export function failureLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}

/** Runs acme-client with the platform's arguments and ends the process with its exit status. */
export function runCommand(platform: CliPlatform): void {
  main(platform).then((code) => platform.exit(code), async (error: unknown) => {
    const line = failureLine(error);
    // A failure to describe it must not hide the failure itself.
    platform.writeStderr((await platform.describeFailure?.(error, line).catch(() => undefined)) ?? `acme-client: ${line}\n`);
    platform.exit(EXIT_FAILURE);
  });
}
