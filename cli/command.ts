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
import type { RenewalAsker } from './ari-query.ts';
import type { RunSession } from './run-separated.ts';
import type { RunInput } from './set-files.ts';
import { resolvePaths, type CliPaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_FAILURE, EXIT_UNCHANGED, planRun, type Plan } from './plan.ts';
import type { HeldLock, LockHolder } from '../adapters/_lock.ts';
import { readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { scheduleRenewal } from './renewal-info.ts';
import { foldersOfSet, hasLeftovers, setMismatch } from './set-check.ts';
import { VERSION } from './version.ts';

/** cert.pem's certificate: read, and its text and DER, which the set check compares. */
interface CurrentCertificate {
  summary: CertificateSummary;
  text: string;
  der: Uint8Array;
}

function parseCurrentCertificate(text: string, file: string): CurrentCertificate {
  try {
    const block = pemDecodeAll(text).find((candidate) => candidate.label === 'CERTIFICATE');
    if (!block) throw new SyntaxError('Cannot parse PEM: no "CERTIFICATE" block');
    return { summary: readCertificateSummary(block.der), text, der: block.der };
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

/** The certificate in cert.pem, or undefined when there is none yet. */
export function readCurrentCertificate(platform: CliPlatform, file: string): CertificateSummary | undefined {
  const text = readText(platform, file);
  return text === undefined ? undefined : parseCurrentCertificate(text, file).summary;
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
  const renewals = renewalSessionOnFirstUse(platform, options);
  try {
    return (await processSet(platform, options, identifiers, resolvePaths(options, identifiers[0]!.value), { ask: renewals.ask })).code;
  } finally {
    await renewals.close();
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

/**
 * The run's network process for renewal windows (RFC 9773), which every set of the run that must ask shares: started
 * by the first question, so that a run whose renewal-info.json files decide stays one process.
 */
export function renewalSessionOnFirstUse(platform: CliPlatform, options: CliOptions): { ask: RenewalAsker; close(): Promise<void> } {
  const session = openedOnFirstUse(async () => {
    // The child starts first, as an issuance's do, and its start-up overlaps this process's loading.
    const child = import('./children.ts').then(({ startRenewalChild }) => startRenewalChild(platform, options));
    child.catch(() => {}); // awaited below
    const [{ openRenewalSession }, runPlatform] = await Promise.all([import('./run-separated.ts'), platform.load()]);
    return openRenewalSession({ ...platform, ...runPlatform }, options, await child);
  });
  return { ask: async (question, log) => (await session.get()).ask(question, log), close: session.close };
}

/** What the sets of one run share: the network process that asks for renewal windows, and for several sets one http-01 responder and one split. */
export interface RunShared {
  ask: RenewalAsker;
  /** One that several sets share (--renew-all); each set leaves it open. */
  responder?: ChallengeResponder;
  /** The split session that several sets share (--renew-all), opened by the first set that changes; each leaves it open. */
  split?(): Promise<RunSession>;
}

/** What the files say: the plan, and cert.pem's text it started from. */
async function planSet(
  platform: CliPlatform, options: CliOptions, identifiers: Identifier[], paths: CliPaths, shared: RunShared,
): Promise<{ plan: Plan; certText?: string; mismatch?: string }> {
  const now = new Date();
  const certText = readText(platform, paths.cert);
  const existing = certText === undefined ? undefined : parseCurrentCertificate(certText, paths.cert);
  const mismatch = existing && !options.revoke ? setMismatch(platform, paths, existing) : undefined;
  let plan = planRun(options, identifiers, existing?.summary, paths.cert, now, mismatch);
  if (existing) plan = await scheduleRenewal(platform, options, existing.summary, existing.der, paths, plan, now, shared.ask);
  return { plan, ...(certText !== undefined && { certText }), ...(mismatch && { mismatch }) };
}

function unchanged(platform: CliPlatform, options: CliOptions, paths: CliPaths, plan: Extract<Plan, { action: 'unchanged' }>, code: number) {
  if (options.verbosity) {
    platform.writeStderr(`acme-client: ${paths.cert} is valid until ${plan.notAfter.toISOString()}; renewal is due from ${plan.renewAt.toISOString()}`
      + `${plan.why ? ` (${plan.why})` : ''}\n`);
  }
  return { code, plan };
}

/** Puts right, under the set's lock, what a killed run left; true when that changed the certificate files. */
async function recover(
  platform: CliPlatform & CliRunPlatform, options: CliOptions, paths: CliPaths, folders: string[], lock: HeldLock | undefined,
): Promise<boolean> {
  const { recoverSet } = await import('./cert-set.ts');
  const { completed, removed } = await recoverSet(platform, paths, folders, lock);
  for (const holder of lock?.tookOverFrom ?? []) {
    if (options.verbosity) platform.writeStderr(`acme-client: took over the lock of process ${holder.pid}, which is gone\n`);
  }
  // A completed change is news for the cron mail; removed temporary files change nothing anyone uses.
  if (completed) platform.writeStderr(`acme-client: ${completed}\n`);
  if (removed.length && options.verbosity) platform.writeStderr(`acme-client: removed ${removed.join(', ')}, left by a run that was stopped\n`);
  return completed !== undefined;
}

/**
 * One domain set, from its files to its exit status: the plan, the CA's renewal window, and the run when a
 * certificate changes, with what the sets of the run share.
 * A run that finds nothing due and nothing left behind by a killed run takes no lock: it only reads, and every file
 * it reads is replaced whole. Anything else happens under the set's lock, which lives in its certificate folder.
 */
export async function processSet(
  platform: CliPlatform, options: CliOptions, identifiers: Identifier[], paths: CliPaths, shared: RunShared,
): Promise<{ code: number; plan: Plan }> {
  const folders = foldersOfSet(options, paths);
  const leftovers = hasLeftovers(platform, paths, folders);
  // Leftovers mean a set that may be half changed, so it is read only once they are dealt with.
  const first = leftovers ? undefined : await planSet(platform, options, identifiers, paths, shared);
  if (first?.plan.action === 'unchanged') return unchanged(platform, options, paths, first.plan, EXIT_UNCHANGED);
  // Every run is split over the key and network processes (cli/privsep.ts). One set's children start as soon as the
  // plan says a certificate will be issued, so that their runtimes' start-ups overlap this process's loading, lock and
  // checks; a revocation's start later, with the certificate they may revoke. The sets of --renew-all and
  // --renew-list share the run's children, which the first set that changes starts.
  const separate = shared.split ? undefined : {
    ...((first?.plan.action === 'issue' || first?.plan.action === 'renew') && {
      children: import('./children.ts').then(({ startRunChildren }) => startRunChildren(platform, options, paths, identifiers.map((identifier) => identifier.value))),
    }),
  };
  // Started before this process loads the rest, which would otherwise hold up the children's small module. Their
  // failure to start (bad input, such as an unknown --user) is reported where the run awaits them.
  await separate?.children?.catch(() => {});
  try {
    return await processLockedSet(platform, options, identifiers, paths, shared, { folders, leftovers, first, ...(separate && { separate }) });
  } finally {
    await separate?.children?.then((children) => children.stop(), () => {});
  }
}

/** What processSet found before the set's lock: its folders, whether a killed run left something, its first plan. */
interface BeforeLock {
  folders: string[];
  leftovers: boolean;
  first?: Awaited<ReturnType<typeof planSet>>;
  separate?: RunInput['separate'];
}

/** The rest of processSet, under the set's lock: what a killed run left put right, the plan again if need be, and the run. */
async function processLockedSet(
  platform: CliPlatform, options: CliOptions, identifiers: Identifier[], paths: CliPaths, shared: RunShared,
  { folders, leftovers, first, separate }: BeforeLock,
): Promise<{ code: number; plan: Plan }> {
  // The parent loads the file side alone (cli/run-separated.ts); the protocol is the network process's.
  const [{ run }, { lockPathOf }, runPlatform] = await Promise.all([import('./run-separated.ts'), import('./cert-set.ts'), platform.load()]);
  const full = { ...platform, ...runPlatform };
  // No folder yet: nothing to lock or complete, at most temporary files to remove; the run makes it (-m) and locks it.
  const lockPath = lockPathOf(paths);
  const onWait = (holder: LockHolder) => options.verbosity && platform.writeStderr(`acme-client: waiting for process ${holder.pid}, which holds ${lockPath}\n`);
  const lock = (await full.isDirectory(paths.certDir)) ? await full.acquireFileLock(lockPath, { onWait }) : undefined;
  try {
    const repaired = leftovers && (await recover(full, options, paths, folders, lock));
    // A run that held the lock until a moment ago may have changed the set since it was read.
    const { plan, mismatch } = first && readText(platform, paths.cert) === first.certText ? first : await planSet(platform, options, identifiers, paths, shared);
    if (mismatch && plan.action === 'renew') platform.writeStderr(`acme-client: ${mismatch}; renewing to repair the set\n`);
    if (plan.action === 'unchanged') return unchanged(platform, options, paths, plan, repaired ? EXIT_CHANGED : EXIT_UNCHANGED);
    return { code: await run({ options, identifiers, paths, plan, shared, ...(lock && { lock }), ...(separate && { separate }) }, full), plan };
  } finally {
    await lock?.release();
  }
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
