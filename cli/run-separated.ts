// A run for one domain set, split over the key and network processes (cli/privsep.ts): this process checks the input,
// answers challenges, and installs the PEM text the network process hands back. A single set opens a session of its
// own; the sets of --renew-all and --renew-list share the run's (cli/renew-many.ts).

import { dirnamePath } from '../adapters/_path.ts';
import { base64UrlEncode, pemDecode } from '../core/encoding.ts';
import type { CliOptions } from './args.ts';
import type { CliPaths } from './defaults.ts';
import { keyFiles, startRunChildren, type RunChildren } from './children.ts';
import type { NetIssued, NetRevoked, NetSetJob } from './net-process.ts';
import { EXIT_UNCHANGED } from './plan.ts';
import type { BoundListener, CliPlatform, CliRunPlatform, StandaloneType } from './platform.ts';
import { openSplitSession, type SplitSession, type SplitSet } from './privsep.ts';
import { installIssuedSet, lockNewSet, openResponder, removeRevokedSet, requireDirectory, runLog, type Log, type RunInput } from './set-files.ts';

type Platform = CliPlatform & CliRunPlatform;

/** The session of a run split over its children, and the challenge type its network process serves itself, if any. */
export interface RunSession extends SplitSession {
  standalone?: StandaloneType;
}

/**
 * Opens the split session of a run over `children`. The --standalone or --standalone-tls port is bound here, as root,
 * so that a taken port fails before anything is written, and served by the network process (unless Deno's may not bind
 * it again: then by this process, once it asks). `paths` name the challenge directory of a responder opened here.
 */
export async function openRunSession(platform: Platform, options: CliOptions, paths: CliPaths, children: RunChildren, log: Log): Promise<RunSession> {
  let listener: BoundListener | undefined;
  try {
    listener = await bindStandalone(platform, options);
  } catch (error) {
    await children.stop();
    throw error;
  }
  if (listener) children.net.handOver?.(listener);
  let here: Awaited<ReturnType<typeof openResponder>> | undefined;
  const session = openSplitSession(platform, {
    children,
    ...(options.eabKid !== undefined && { eab: { kid: options.eabKid, hmacKey: options.eabHmacKey! } }),
    ...(listener && { serveHere: async () => (here = await openResponder(platform, options, paths, log)) }),
    log,
  });
  let closed: Promise<void> | undefined;
  return {
    run: (set) => session.run(set),
    ask: (question, log) => session.ask(question, log),
    close: () => (closed ??= (async () => {
      await session.close();
      listener?.close();
      await here?.close?.();
    })()),
    ...(listener && { standalone: listener.type }),
  };
}

/**
 * The session of the network process alone (cli/children.ts startRenewalChild), which asks the CA for renewal windows
 * (RFC 9773) for every set of the run that must ask;
 * a set that turns out due is issued by a pair of its own (or its run's).
 */
export function openRenewalSession(platform: Platform, options: CliOptions, children: RunChildren): SplitSession {
  return openSplitSession(platform, {
    children,
    log: runLog(options, platform),
  });
}

/** The job fields of one set that every mode shares; the key names are the key process's. */
function baseJob(options: CliOptions, paths: CliPaths, names: string[], keyNames: { account: string; domain: string }, mode: NetSetJob['mode']): Omit<NetSetJob, 'id'> {
  return {
    mode,
    names,
    accountKey: keyNames.account,
    domainKey: keyNames.domain,
    // Named in the network process's messages; it cannot read them.
    files: { cert: paths.cert, accountKey: paths.accountKey, domainKey: paths.domainKey },
    mustStaple: options.mustStaple,
    responderTypes: [],
  };
}

const PEM_CERTIFICATES = /^(?:-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n)*$/;

/** The network process's answer, checked for its form: the parent installs it and does not parse certificates. */
function checkIssued(value: unknown): NetIssued {
  const issued = value as NetIssued;
  const pems = [issued?.certificatePem, issued?.chainPem, issued?.fullchainPem];
  if (!pems.every((pem) => typeof pem === 'string' && PEM_CERTIFICATES.test(pem)) || issued.certificatePem === ''
    || issued.fullchainPem !== issued.certificatePem + issued.chainPem) {
    throw new Error('The network process handed back certificates that are not PEM CERTIFICATE blocks (leaf, chain, and both as fullchain)');
  }
  if (typeof issued.serial !== 'string' || !/^[0-9a-f]{1,64}$/.test(issued.serial)) throw new Error('The network process handed back no serial number');
  if (issued.renewalInfo !== null && (typeof issued.renewalInfo !== 'string' || !URL.canParse(issued.renewalInfo))) {
    throw new Error('The network process handed back a renewalInfo that is not a URL');
  }
  return issued;
}

/** --standalone or --standalone-tls: the port, bound now for the network process (see CliRunPlatform.bindListener). */
function bindStandalone(platform: Platform, options: CliOptions): Promise<BoundListener | undefined> {
  if (options.standalone) return platform.bindListener('http-01', options.standalone);
  if (options.standaloneTls) return platform.bindListener('tls-alpn-01', options.standaloneTls);
  return Promise.resolve(undefined);
}

/** How the set reaches its session: its own (one set, children started early) or the run's (--renew-all, --renew-list). */
async function sessionOf(input: RunInput, platform: Platform, log: Log): Promise<{ session: RunSession; own: boolean; keys?: SplitSet['keys']; keyNames: { account: string; domain: string } }> {
  const { options, paths, identifiers, shared, separate } = input;
  if (shared.split) {
    // Sets that share a key file share its key: the key process loads each file once, under one name.
    const keyNames = { account: `account ${paths.accountKey}`, domain: `domain ${paths.domainKey}` };
    const specs = keyFiles(options, paths);
    return {
      session: await shared.split(),
      own: false,
      keys: { keys: { [keyNames.account]: specs.account, [keyNames.domain]: specs.domain }, names: { [keyNames.domain]: identifiers.map((identifier) => identifier.value) } },
      keyNames,
    };
  }
  const children = await (separate?.children ?? startRunChildren(platform, options, paths, identifiers.map((identifier) => identifier.value)));
  return { session: await openRunSession(platform, options, paths, children, log), own: true, keyNames: { account: 'account', domain: 'domain' } };
}

async function issueSeparated(input: RunInput, platform: Platform, log: Log): Promise<number> {
  const { options, identifiers, paths, plan, lock: held, separate, shared } = input;
  separate?.children?.catch(() => {}); // awaited below, after the checks that come first
  let lock = held;
  let opened: Awaited<ReturnType<typeof sessionOf>> | undefined;
  let responder: Awaited<ReturnType<typeof openResponder>> | undefined;
  try {
    // Every check that can fail on bad input runs before the first write: names (already), directories, and the keys,
    // which the key process reads before this process takes the set's lock.
    if (!paths.perDomainDirs.includes(paths.certDir)) await requireDirectory(platform, paths.certDir, 'certificate directory', '-c');
    opened = await sessionOf(input, platform, log);
    const { session } = opened;
    const job = {
      ...baseJob(options, paths, identifiers.map((identifier) => identifier.value), opened.keyNames, 'issue'),
      ...(options.agreement !== undefined && { agreement: options.agreement }),
      ...(options.email !== undefined && { email: options.email }),
      ...(options.preferredChain !== undefined && { preferredChain: options.preferredChain }),
      ...(options.profile !== undefined && { profile: options.profile }),
      // RFC 9773 §5: the network process sends it only to a CA that offers ARI; one that does not could refuse it.
      ...(plan.action === 'renew' && plan.replaces && { replaces: plan.replaces }),
      ...(options.caaCheck && { caa: options.dnsServer !== undefined ? { dnsServer: options.dnsServer } : {} }),
    };
    if (!session.standalone) responder = shared.responder ?? (await openResponder(platform, options, paths, log));
    job.responderTypes = session.standalone ? [session.standalone] : [...responder!.types];
    log(plan.action === 'renew' ? `renewing ${paths.cert}: ${plan.reason}` : `issuing a certificate for ${options.names.join(', ')}`);
    const result = await session.run({
      job,
      ...(opened.keys && { keys: opened.keys }),
      newKeyFolders: {
        ...(options.createAccountKey && { account: dirnamePath(paths.accountKey) }),
        ...(options.createDomainKey && { domain: dirnamePath(paths.domainKey) }),
      },
      ...(responder && { responder }),
      // Another run may have issued this set while the keys were read; then there is nothing left to do.
      beforeNetwork: async () => Boolean(lock ??= await lockNewSet(platform, paths, log)),
      log,
      warn: (line) => platform.writeStderr(`acme-client: ${line}\n`),
    });
    if (!result) return EXIT_UNCHANGED;
    // The children have nothing left to do, so they end while the files are written; the finally waits for them.
    if (opened.own) void opened.session.close();
    return await installIssuedSet(platform, options, paths, lock!, checkIssued(result), log);
  } finally {
    // A single set's session ends with the set (once a certificate is in hand, while it is installed); the session of
    // --renew-all's sets ends with the run.
    if (opened?.own) await opened.session.close();
    else if (!opened) await separate?.children?.then((children) => children.stop(), () => {});
    if (!held) await lock?.release();
    if (responder !== shared.responder) await responder?.close?.();
  }
}

/**
 * RFC 8555 §7.6 accepts a revocation signed by the certificate's own key without any account, so the domain key
 * signs when it belongs to the certificate; otherwise the account that holds it does. The network process decides
 * which, and the key process signs a revocation of this certificate alone.
 */
async function revokeSeparated({ options, identifiers, paths, lock }: RunInput, platform: Platform, log: Log): Promise<number> {
  // The plan read it a moment ago; should it be gone since, the PEM reader names what is missing.
  const certificatePem = platform.readTextFile(paths.cert) ?? '';
  const names = identifiers.map((identifier) => identifier.value);
  const job = { ...baseJob(options, paths, names, { account: 'account', domain: 'domain' }, 'revoke'), certificatePem };
  const der = base64UrlEncode(pemDecode(certificatePem, ['CERTIFICATE']).der);
  const session = await openRunSession(platform, { ...options, standalone: undefined, standaloneTls: undefined }, paths, await startRunChildren(platform, options, paths, names, der), log);
  let result: NetRevoked | undefined;
  try {
    result = (await session.run({ job, log, warn: (line) => platform.writeStderr(`acme-client: ${line}\n`) })) as NetRevoked | undefined;
  } finally {
    await session.close();
  }
  const serial = typeof result?.serialHex === 'string' && /^[0-9a-f]{1,64}$/.test(result.serialHex) ? result.serialHex : '(unknown serial)';
  log(result?.alreadyRevoked ? `certificate ${serial} was already revoked` : `revoked certificate ${serial}`);
  return removeRevokedSet(platform, options, paths, lock!, log);
}

/** A run of one set, split over the key and network processes. */
export function run(input: RunInput, platform: Platform): Promise<number> {
  const log = runLog(input.options, platform);
  return input.plan.action === 'revoke' ? revokeSeparated(input, platform, log) : issueSeparated(input, platform, log);
}
