// What acme-client does once a certificate has to change: check every input without writing, talk to the CA,
// and only then write keys, backups and certificates. Loaded by dynamic import, so the cron path never pays for it.

import { dirnamePath, joinPath } from '../adapters/_path.ts';
import { CERT_FILE_MODE, KEY_DIR_MODE, KEY_FILE_MODE, PUBLIC_DIR_MODE } from '../adapters/_shared.ts';
import type { AcmeClient } from '../core/client.ts';
import type { Transport } from '../core/http.ts';
import { pemDecode } from '../core/encoding.ts';
import { isAlreadyRevoked } from '../core/errors.ts';
import { issueCertificate, type ChallengeResponder, type FlowEvent } from '../core/flow.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import { generateKey, type AcmeKey } from '../core/keys.ts';
import type { Identifier } from '../core/names.ts';
import { parseTsigKey, type TsigKey } from '../core/tsig-key.ts';
import { checkProfile } from '../core/profiles.ts';
import { certificateMatchesKey, parseCertificate } from '../core/x509.ts';
import type { CliOptions } from './args.ts';
import type { CaSession } from './ca-session.ts';
import type { RunShared } from './command.ts';
import type { CliPaths } from './defaults.ts';
import { EXIT_CHANGED, type Plan } from './plan.ts';
import { fileErrorReason, readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { saveRenewalState } from './ari-query.ts';
import { serialOf } from './renewal-info.ts';

export interface RunInput {
  options: CliOptions;
  identifiers: Identifier[];
  paths: CliPaths;
  plan: Exclude<Plan, { action: 'unchanged' }>;
  /** The CA session of the run, and a responder when several sets share one (this set then leaves it open). */
  shared: RunShared;
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

async function requireDirectory(platform: Platform, path: string, what: string, flag: string): Promise<void> {
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

function describeEvent(event: FlowEvent): string {
  const name = (identifier: Identifier, wildcard: boolean) => `${wildcard ? '*.' : ''}${identifier.value}`;
  switch (event.kind) {
    case 'account':
      return `${event.created ? 'created' : 'using'} account ${event.url}`;
    case 'order':
      return `order ${event.url} for ${event.identifiers.map((identifier) => identifier.value).join(', ')}`;
    case 'authorization':
      return `${name(event.identifier, event.wildcard)}: authorization ${event.status}`;
    case 'challenge':
      return `${name(event.identifier, event.wildcard)}: ${event.type} challenge ${event.status}`;
    case 'finalize':
      return `finalizing order ${event.url}`;
    case 'certificate':
      return `certificate ${event.serialHex} valid until ${event.notAfter.toISOString()}`;
    case 'caa':
      return event.checked ? `CAA records allow this CA${event.notes.length ? `: ${event.notes.join('; ')}` : ''}` : event.notes.join('; ');
    case 'replaces-refused':
      return `warning: the CA refused replaces ${event.replaces} (${event.problem.detail ?? event.problem.type}); ordered without it, so rate limits apply`;
  }
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
    const account = await (await session.client(transport, accountKey)).createAccount({
      termsOfServiceAgreed: true,
      ...(options.email !== undefined && { contact: [`mailto:${options.email}`] }),
      ...(options.eabKid !== undefined && { externalAccountBinding: { kid: options.eabKid, hmacKey: options.eabHmacKey! } }),
    });
    log(describeEvent({ kind: 'account', url: account.url, created: account.created }));
    return account.url;
  });
  return session.client(transport, accountKey, accountUrl);
}

/** The platform's atomic write, with the file named in the message when it fails. */
async function writeFile(platform: Platform, path: string, text: string, mode: number): Promise<void> {
  try {
    await platform.writeFileAtomic(path, text, mode);
  } catch (error) {
    throw new Error(`Cannot write ${path}: ${fileErrorReason(error)}`, { cause: error });
  }
}

/** -b: copies named after one UNIX time, written before anything is replaced or removed; nothing without a certificate. */
async function backUpCertificates(platform: Platform, paths: CliPaths, log: Log): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const files: [string, string][] = [[paths.cert, 'cert'], [paths.chain, 'chain'], [paths.fullchain, 'fullchain']];
  for (const [file, base] of files) {
    const text = platform.readTextFile(file);
    if (text === undefined) continue;
    const backup = joinPath(paths.certDir, `${base}-${now}.pem`);
    await writeFile(platform, backup, text, CERT_FILE_MODE);
    log(`backed up ${file} to ${backup}`);
  }
}

async function writeNewKey(platform: Platform, file: KeyFile, key: AcmeKey, log: Log): Promise<void> {
  await platform.makeDirectories(dirnamePath(file.path), KEY_DIR_MODE);
  await writeFile(platform, file.path, exportPkcs8Pem(key), KEY_FILE_MODE);
  log(`wrote ${file.what} ${file.path}`);
}

async function issue({ options, identifiers, paths, plan, shared }: RunInput, platform: Platform, log: Log): Promise<number> {
  // Every check that can fail on bad input runs before the first write: names (already), directories, keys.
  if (!paths.perDomainDirs.includes(paths.certDir)) await requireDirectory(platform, paths.certDir, 'certificate directory', '-c');
  const accountFile = await readKeyFile(platform, paths.accountKey, 'account key');
  const domainFile = await readKeyFile(platform, paths.domainKey, 'domain key');
  requireKey(accountFile, options.createAccountKey, '-n');
  requireKey(domainFile, options.createDomainKey, '-N');
  const responder: ChallengeResponder & { close?: () => unknown } = shared.responder ?? (await openResponder(platform, options, paths, log));
  try {
    log(plan.action === 'renew' ? `renewing ${paths.cert}: ${plan.reason}` : `issuing a certificate for ${options.names.join(', ')}`);
    const session = await shared.session();
    // New keys stay in memory until the certificate is here, so a failed run leaves the disk as it was.
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
      onProgress: (event) => (event.kind === 'replaces-refused' ? platform.writeStderr(`acme-client: ${describeEvent(event)}\n`) : log(describeEvent(event))),
    });

    for (const dir of paths.perDomainDirs) await platform.makeDirectories(dir, dir === paths.certDir ? PUBLIC_DIR_MODE : KEY_DIR_MODE);
    // Once per file: the sets that share it write it once.
    if (!accountFile.key) await session.once(`write ${accountFile.path}`, () => writeNewKey(platform, accountFile, accountKey, log));
    if (!domainFile.key) await session.once(`write ${domainFile.path}`, () => writeNewKey(platform, domainFile, domainKey, log));
    if (options.backup) await backUpCertificates(platform, paths, log);
    await writeFile(platform, paths.cert, issued.certificatePem, CERT_FILE_MODE);
    await writeFile(platform, paths.chain, issued.chainPem, CERT_FILE_MODE);
    await writeFile(platform, paths.fullchain, issued.fullchainPem, CERT_FILE_MODE);
    log(`wrote ${paths.cert}, ${paths.chain} and ${paths.fullchain}`);
    // The next run asks this CA about the new certificate; a CA without ARI is remembered, so no run asks it.
    const renewalInfo = client.directory.renewalInfo && issued.certificate.authorityKeyIdentifier?.length ? client.directory.renewalInfo : null;
    await saveRenewalState(platform, paths.renewalInfo, { serial: serialOf(issued.certificate), renewalInfo });
    return EXIT_CHANGED;
  } finally {
    if (!shared.responder) await responder.close?.();
  }
}

/**
 * RFC 8555 §7.6 accepts a revocation signed by the certificate's own key without any account, so the domain key
 * signs when it belongs to the certificate; otherwise the account that holds it does.
 */
async function revoke({ options, paths, shared }: RunInput, platform: Platform, log: Log): Promise<number> {
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
  if (options.backup) await backUpCertificates(platform, paths, log);
  for (const file of [paths.cert, paths.chain, paths.fullchain, paths.renewalInfo]) await platform.removeFileIfExists(file);
  log(`removed ${paths.cert}, ${paths.chain} and ${paths.fullchain}`);
  return EXIT_CHANGED;
}

export function run(input: RunInput, platform: Platform): Promise<number> {
  const log: Log = input.options.verbosity ? (line) => platform.writeStderr(`acme-client: ${line}\n`) : () => {};
  return input.plan.action === 'revoke' ? revoke(input, platform, log) : issue(input, platform, log);
}
