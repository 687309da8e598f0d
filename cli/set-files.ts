// What a run of one domain set does with its files, while the network process talks to the CA (cli/run-separated.ts):
// its folders checked, the challenge responder opened, the lock of a new set taken, and the certificate files installed
// or removed as one change. Kept apart from the protocol so that the parent of a split run loads no more than this.

import { basenamePath } from '../adapters/_path.ts';
import type { HeldLock } from '../adapters/_lock.ts';
import { CERT_FILE_MODE, KEY_DIR_MODE, PUBLIC_DIR_MODE } from '../adapters/_shared.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import type { Identifier } from '../core/names.ts';
import { parseTsigKey, type TsigKey } from '../core/tsig-key.ts';
import type { CliOptions } from './args.ts';
import type { RunChildren } from './children.ts';
import type { RunShared } from './command.ts';
import type { CliPaths } from './defaults.ts';
import { EXIT_CHANGED, type Plan } from './plan.ts';
import { readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { changeSet, lockPathOf, type SetChange } from './cert-set.ts';
import { STATE_FILE_MODE, formatRenewalState, type RenewalState } from './renewal-info.ts';

export interface RunInput {
  options: CliOptions;
  identifiers: Identifier[];
  paths: CliPaths;
  plan: Exclude<Plan, { action: 'unchanged' }>;
  /** The CA session of the run, and a responder when several sets share one (this set then leaves it open). */
  shared: RunShared;
  /** The set's lock, held by the caller; without it (the set's folder did not exist yet) the run takes it itself. */
  lock?: HeldLock;
  /**
   * Present when the run is split over the key and network processes (cli/privsep.ts), with those processes when the
   * caller started them early (cli/command.ts); the run ends them.
   */
  separate?: { children?: Promise<RunChildren> };
}

type Platform = CliPlatform & CliRunPlatform;
export type Log = (line: string) => void;

/** -v's lines on stderr, or nothing. */
export function runLog(options: CliOptions, platform: CliPlatform): Log {
  return options.verbosity ? (line) => platform.writeStderr(`acme-client: ${line}\n`) : () => {};
}

export async function requireDirectory(platform: Platform, path: string, what: string, flag: string): Promise<void> {
  if (!(await platform.isDirectory(path))) throw new Error(`Cannot use ${what} ${path}: it is not an existing directory (${flag})`);
}

/** --tsig-key's file, read and checked before any request, so a bad key is bad input that changes nothing. */
function readTsigKey(platform: Platform, path: string): TsigKey {
  const text = readText(platform, path, `TSIG key ${path}`);
  if (text === undefined) throw new Error(`Cannot read TSIG key ${path}: it does not exist (tsig-keygen writes one)`);
  try {
    return parseTsigKey(text);
  } catch (error) {
    throw new Error(`Cannot use TSIG key ${path}: ${(error as Error).message}`);
  }
}

/** The responder for the chosen way of answering; a standalone server starts listening here, so a taken port is bad input too. */
export async function openResponder(platform: Platform, options: CliOptions, paths: CliPaths, log: Log = () => {}): Promise<ChallengeResponder & { close?: () => unknown }> {
  if (options.challengeType) return platform.callerResponder(options.challengeType);
  if (options.dnsUpdate) {
    const key = options.tsigKey === undefined ? undefined : readTsigKey(platform, options.tsigKey);
    return platform.dnsUpdateResponder({ server: options.dnsUpdate, ...(key && { key }), ...(options.dnsServer && { resolver: options.dnsServer }), onProgress: log });
  }
  if (options.standalone) return platform.startStandaloneResponder(options.standalone);
  if (options.standaloneTls) return platform.startTlsAlpnResponder(options.standaloneTls);
  await requireDirectory(platform, paths.challengeDir, 'challenge directory', '-C');
  return platform.webrootResponder(paths.challengeDir);
}

/** -b: copies of the certificate files named after one UNIX time, made in the same change that replaces or removes them. */
export function backupChanges(platform: Platform, paths: CliPaths, log: Log): SetChange[] {
  const now = Math.floor(Date.now() / 1000);
  const changes: SetChange[] = [];
  for (const [file, base] of [[paths.cert, 'cert'], [paths.chain, 'chain'], [paths.fullchain, 'fullchain']] as const) {
    const text = readText(platform, file);
    if (text === undefined) continue;
    changes.push({ name: `${base}-${now}.pem`, text, mode: CERT_FILE_MODE });
    log(`backing up ${file} to ${base}-${now}.pem`);
  }
  return changes;
}

/**
 * The set's lock for a run that found no folder to lock: once -m's folders are made, the lock is taken, and if
 * another run issued this set meanwhile, there is nothing left to do (undefined).
 */
export async function lockNewSet(platform: Platform, paths: CliPaths, log: Log): Promise<HeldLock | undefined> {
  for (const dir of paths.perDomainDirs) await platform.makeDirectories(dir, dir === paths.certDir ? PUBLIC_DIR_MODE : KEY_DIR_MODE);
  const lock = await platform.acquireFileLock(lockPathOf(paths));
  if (platform.readTextFile(paths.cert) === undefined) return lock;
  await lock.release();
  log(`another run wrote ${paths.cert} meanwhile`);
  return undefined;
}

/** The issued certificate, its chain and renewal-info.json replace the set (and -b copies the old one), as one change. */
export async function installIssuedSet(
  platform: Platform, options: CliOptions, paths: CliPaths, lock: HeldLock,
  issued: { certificatePem: string; chainPem: string; fullchainPem: string } & RenewalState, log: Log,
): Promise<number> {
  await changeSet(platform, paths, [
    ...(options.backup ? backupChanges(platform, paths, log) : []),
    { name: basenamePath(paths.cert), text: issued.certificatePem, mode: CERT_FILE_MODE },
    { name: basenamePath(paths.chain), text: issued.chainPem, mode: CERT_FILE_MODE },
    { name: basenamePath(paths.fullchain), text: issued.fullchainPem, mode: CERT_FILE_MODE },
    { name: basenamePath(paths.renewalInfo), text: formatRenewalState({ serial: issued.serial, renewalInfo: issued.renewalInfo }), mode: STATE_FILE_MODE },
  ], lock);
  log(`wrote ${paths.cert}, ${paths.chain} and ${paths.fullchain}`);
  return EXIT_CHANGED;
}

/** After a revocation: -b's copies, then the set's files go, as one change of the set. */
export async function removeRevokedSet(platform: Platform, options: CliOptions, paths: CliPaths, lock: HeldLock, log: Log): Promise<number> {
  // A certificate is there, so its folder is, and the caller holds the set's lock.
  await changeSet(platform, paths, [
    ...(options.backup ? backupChanges(platform, paths, log) : []),
    ...[paths.cert, paths.chain, paths.fullchain, paths.renewalInfo].map((file) => ({ name: basenamePath(file) })),
  ], lock);
  log(`removed ${paths.cert}, ${paths.chain} and ${paths.fullchain}`);
  return EXIT_CHANGED;
}
