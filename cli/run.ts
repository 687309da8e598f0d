// What acme-client does once a certificate has to change, in this one process (the sets of --renew-all and
// --renew-list; one set runs split, cli/run-separated.ts): check every input without writing, then talk to the CA,
// writing each new key just before the CA may learn of it, and the certificates (with -b's backups) as one set at the
// end (cli/set-files.ts). Loaded by dynamic import, so the cron path never pays for it.

import { dirnamePath } from '../adapters/_path.ts';
import { KEY_DIR_MODE, KEY_FILE_MODE } from '../adapters/_shared.ts';
import type { AcmeClient } from '../core/client.ts';
import type { Transport } from '../core/http.ts';
import { pemDecode } from '../core/encoding.ts';
import { isAlreadyRevoked } from '../core/errors.ts';
import { issueCertificate, type ChallengeResponder } from '../core/flow.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import { generateKey, type AcmeKey } from '../core/keys.ts';
import { checkProfile } from '../core/profiles.ts';
import { certificateMatchesKey, parseCertificate } from '../core/x509.ts';
import type { CliOptions } from './args.ts';
import type { CaSession } from './ca-session.ts';
import { EXIT_UNCHANGED } from './plan.ts';
import { fileErrorReason, readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { serialOf } from './renewal-info.ts';
import { describeEvent } from './net-process.ts';
import { installIssuedSet, lockNewSet, openResponder, removeRevokedSet, requireDirectory, runLog, type Log, type RunInput } from './set-files.ts';

type Platform = CliPlatform & CliRunPlatform;

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

/** A run of one set in this process: the sets of --renew-all and --renew-list, which share one CA session. */
export async function run(input: RunInput, platform: Platform): Promise<number> {
  const log = runLog(input.options, platform);
  return input.plan.action === 'revoke' ? revoke(input, platform, log) : issue(input, platform, log);
}
