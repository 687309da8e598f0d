// What acme-client does once a certificate has to change: check every input without writing, then talk to the CA,
// writing each new key just before the CA may learn of it, and the certificates (with -b's backups) as one set at the
// end. Loaded by dynamic import, so the cron path never pays for it.

import { basenamePath, dirnamePath } from '../adapters/_path.ts';
import type { HeldLock } from '../adapters/_lock.ts';
import { CERT_FILE_MODE, KEY_DIR_MODE, KEY_FILE_MODE, PUBLIC_DIR_MODE } from '../adapters/_shared.ts';
import type { AcmeClient } from '../core/client.ts';
import type { Transport } from '../core/http.ts';
import { pemDecode } from '../core/encoding.ts';
import { isAlreadyRevoked } from '../core/errors.ts';
import { issueCertificate, type ChallengeResponder } from '../core/flow.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import { generateKey, type AcmeKey } from '../core/keys.ts';
import type { Identifier } from '../core/names.ts';
import { parseTsigKey, type TsigKey } from '../core/tsig-key.ts';
import { checkProfile } from '../core/profiles.ts';
import { certificateMatchesKey, parseCertificate } from '../core/x509.ts';
import type { CliOptions } from './args.ts';
import type { CaSession } from './ca-session.ts';
import type { RunChildren } from './children.ts';
import type { RunShared } from './command.ts';
import type { CliPaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_UNCHANGED, type Plan } from './plan.ts';
import { fileErrorReason, readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { STATE_FILE_MODE } from './ari-query.ts';
import { changeSet, lockPathOf, type SetChange } from './cert-set.ts';
import { formatRenewalState, serialOf, type RenewalState } from './renewal-info.ts';
import { describeEvent } from './net-process.ts';

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
type Log = (line: string) => void;

/** A key file as found: loaded, or absent (and then created only if its flag allows). */
interface KeyFile {
  path: string;
  what: string;
  key?: AcmeKey;
}

async function readKeyFile(platform: Platform, path: string, what: string): Promise<KeyFile> {
  const text = readText(platform, path, `${what} ${path}`);
  if (text === undefined) return { path, what };
  try {
    return { path, what, key: await importKey(text) };
  } catch (error) {
    throw new Error(`Cannot use ${what} ${path}: ${(error as Error).message}`);
  }
}

function requireKey(file: KeyFile, mayCreate: boolean, flag: string): void {
  if (!file.key && !mayCreate) throw new Error(`Cannot read ${file.what} ${file.path}: it does not exist (${flag} creates one)`);
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

/** A key file's new key: one per file in a run, so the sets that share a missing -f (or -k) share what is written there. */
function newKey(session: CaSession, file: KeyFile, options: CliOptions): Promise<AcmeKey> {
  return session.once(`new key ${file.path}`, () => generateKey(options.keyType));
}

/**
 * A client for the account of the key in `accountFile`. The account is registered (or found, RFC 8555 §7.3.1) once
 * per key file in a run, however many sets start at the same moment; the others name it by its URL and ask nothing.
 */
async function openAccount(
  platform: Platform, options: CliOptions, session: CaSession, transport: Transport, accountFile: KeyFile, accountKey: AcmeKey, log: Log,
): Promise<AcmeClient> {
  const directory = await session.directory();
  // As issueCertificate does: a profile the CA does not offer fails before any account is created.
  if (options.profile !== undefined) checkProfile(directory, options.profile);
  const accountUrl = await session.once(`account ${accountFile.path}`, async () => {
    const terms = directory.meta.termsOfService;
    if (options.agreement !== undefined && terms !== options.agreement) {
      platform.writeStderr(`acme-client: warning: the CA's terms of service are ${terms ?? 'not stated'}, not ${options.agreement}\n`);
    }
    // From this request on, the CA may know the key, whether or not its answer arrives.
    if (!accountFile.key) await session.once(`write ${accountFile.path}`, () => persistNewKey(platform, accountFile, accountKey, log));
    platform.checkpoint('account-key-written');
    const account = await (await session.client(transport, accountKey)).createAccount({
      termsOfServiceAgreed: true,
      ...(options.email !== undefined && { contact: [`mailto:${options.email}`] }),
      ...(options.eabKid !== undefined && { externalAccountBinding: { kid: options.eabKid, hmacKey: options.eabHmacKey! } }),
    });
    log(describeEvent({ kind: 'account', url: account.url, created: account.created }));
    platform.checkpoint('account-done');
    return account.url;
  });
  return session.client(transport, accountKey, accountUrl);
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
 * Puts a key this run made on disk, synced with its folders, before the CA may learn of it (issue 11's key process
 * may take this step over). A key file that appeared since the run read it is kept, and the run stops: that key may
 * be one the CA knows already.
 */
async function persistNewKey(platform: Platform, file: KeyFile, key: AcmeKey, log: Log): Promise<void> {
  let written: boolean;
  try {
    await platform.makeDirectories(dirnamePath(file.path), KEY_DIR_MODE);
    written = await platform.writeNewFile(file.path, exportPkcs8Pem(key), KEY_FILE_MODE);
  } catch (error) {
    throw new Error(`Cannot write ${file.what} ${file.path}: ${fileErrorReason(error)}`, { cause: error });
  }
  if (!written) throw new Error(`Cannot write ${file.what} ${file.path}: another run created it meanwhile; run again to use it`);
  log(`wrote ${file.what} ${file.path}`);
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

async function issue({ options, identifiers, paths, plan, shared, lock: held }: RunInput, platform: Platform, log: Log): Promise<number> {
  // Every check that can fail on bad input runs before the first write: names (already), directories, keys.
  if (!paths.perDomainDirs.includes(paths.certDir)) await requireDirectory(platform, paths.certDir, 'certificate directory', '-c');
  const accountFile = await readKeyFile(platform, paths.accountKey, 'account key');
  const domainFile = await readKeyFile(platform, paths.domainKey, 'domain key');
  requireKey(accountFile, options.createAccountKey, '-n');
  requireKey(domainFile, options.createDomainKey, '-N');
  const responder: ChallengeResponder & { close?: () => unknown } = shared.responder ?? (await openResponder(platform, options, paths, log));
  let lock = held;
  try {
    lock ??= await lockNewSet(platform, paths, log);
    if (!lock) return EXIT_UNCHANGED;
    log(plan.action === 'renew' ? `renewing ${paths.cert}: ${plan.reason}` : `issuing a certificate for ${options.names.join(', ')}`);
    const session = await shared.session();
    // New keys stay in memory until the CA may learn of them: each is written just before the request that shows it.
    const accountKey = accountFile.key ?? (await newKey(session, accountFile, options));
    const domainKey = domainFile.key ?? (await newKey(session, domainFile, options));
    const client = await openAccount(platform, options, session, session.transportFor(platform), accountFile, accountKey, log);
    const issued = await issueCertificate({
      client,
      identifiers: identifiers.map((identifier) => identifier.value),
      certificateKey: domainKey,
      responder,
      mustStaple: options.mustStaple,
      ...(options.preferredChain !== undefined && { preferredChain: options.preferredChain }),
      ...(options.profile !== undefined && { profile: options.profile }),
      // RFC 9773 §5: only to a CA that offers ARI; one that does not could refuse the unknown field.
      ...(plan.action === 'renew' && plan.replaces && client.directory.renewalInfo && { replaces: plan.replaces }),
      ...(options.caaCheck && { caaResolver: platform.caaResolver(options.dnsServer) }),
      // Losing the rate-limit exemption is worth a line in the cron mail; the rest is progress for -v.
      onProgress: (event) => {
        if (event.kind === 'replaces-refused') platform.writeStderr(`acme-client: ${describeEvent(event)}\n`);
        else log(describeEvent(event));
        if (event.kind === 'order' || event.kind === 'certificate') platform.checkpoint(`${event.kind}-done`);
      },
      // Once per file: the sets that share it write it once.
      beforeFinalize: async () => {
        if (!domainFile.key) await session.once(`write ${domainFile.path}`, () => persistNewKey(platform, domainFile, domainKey, log));
        platform.checkpoint('domain-key-written');
      },
    });

    // The next run asks this CA about the new certificate; a CA without ARI is remembered, so no run asks it.
    const renewalInfo = client.directory.renewalInfo && issued.certificate.authorityKeyIdentifier?.length ? client.directory.renewalInfo : null;
    return await installIssuedSet(platform, options, paths, lock, { ...issued, serial: serialOf(issued.certificate), renewalInfo }, log);
  } finally {
    if (!held) await lock?.release();
    if (!shared.responder) await responder.close?.();
  }
}

/**
 * RFC 8555 §7.6 accepts a revocation signed by the certificate's own key without any account, so the domain key
 * signs when it belongs to the certificate; otherwise the account that holds it does.
 */
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

async function revoke({ options, paths, shared, lock }: RunInput, platform: Platform, log: Log): Promise<number> {
  // The plan read it a moment ago; should it be gone since, the PEM reader names what is missing.
  const certificate = parseCertificate(pemDecode(platform.readTextFile(paths.cert) ?? '', ['CERTIFICATE']).der);
  const domainFile = await readKeyFile(platform, paths.domainKey, 'domain key');
  const accountFile = await readKeyFile(platform, paths.accountKey, 'account key');
  const certificateKey = domainFile.key && certificateMatchesKey(certificate, domainFile.key.publicJwk) ? domainFile.key : undefined;
  const signer = certificateKey ?? accountFile.key;
  if (!signer) throw new Error(`Cannot revoke ${paths.cert}: the domain key ${paths.domainKey} is not its key, and the account key ${paths.accountKey} does not exist`);
  const session = await shared.session();
  const client = await session.client(session.transportFor(platform), signer);
  try {
    if (certificateKey) {
      await client.revokeCertificate(certificate.der, { certificateKey });
    } else {
      if (!(await client.findAccount())) throw new Error(`Cannot revoke ${paths.cert}: the CA has no account for the account key ${paths.accountKey}`);
      await client.revokeCertificate(certificate.der);
    }
    log(`revoked certificate ${certificate.serialHex}`);
  } catch (error) {
    if (!isAlreadyRevoked(error)) throw error;
    log(`certificate ${certificate.serialHex} was already revoked`);
  }
  return removeRevokedSet(platform, options, paths, lock!, log);
}

export async function run(input: RunInput, platform: Platform): Promise<number> {
  const log: Log = input.options.verbosity ? (line) => platform.writeStderr(`acme-client: ${line}\n`) : () => {};
  if (input.separate) {
    const { issueSeparated, revokeSeparated } = await import('./run-separated.ts');
    return input.plan.action === 'revoke' ? revokeSeparated(input, platform, log) : issueSeparated(input, platform, log);
  }
  return input.plan.action === 'revoke' ? revoke(input, platform, log) : issue(input, platform, log);
}
