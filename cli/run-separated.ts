// A run for one domain set, split over the key and network processes (cli/privsep.ts): this process checks the input,
// answers challenges, and installs the PEM text the network process hands back. cli/run.ts sends single-set runs here;
// the sets of --renew-all and --renew-list still share one CA session in this process (cli/ca-session.ts).

import { base64UrlEncode, pemDecode } from '../core/encoding.ts';
import type { CliOptions } from './args.ts';
import { directoryUrlOf, type CliPaths } from './defaults.ts';
import { startRunChildren } from './children.ts';
import type { NetIssued, NetJob, NetRevoked } from './net-process.ts';
import { EXIT_UNCHANGED } from './plan.ts';
import type { BoundListener, CliPlatform, CliRunPlatform } from './platform.ts';
import { runSeparated } from './privsep.ts';
import { installIssuedSet, lockNewSet, openResponder, removeRevokedSet, requireDirectory, runLog, type Log, type RunInput } from './set-files.ts';

type Platform = CliPlatform & CliRunPlatform;

function baseJob(platform: Platform, options: CliOptions, names: string[], mode: NetJob['mode']): NetJob {
  return {
    mode,
    directoryUrl: directoryUrlOf(options),
    runtime: platform.runtime,
    verbosity: options.verbosity,
    ...(options.retryTime !== undefined && { retryTime: options.retryTime }),
    names,
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

/** The files the network process's messages name; it cannot read them. */
function filesOf(paths: CliPaths) {
  return { cert: paths.cert, accountKey: paths.accountKey, domainKey: paths.domainKey };
}

/** --standalone or --standalone-tls: the port, bound now for the network process (see CliRunPlatform.bindListener). */
function bindStandalone(platform: Platform, options: CliOptions): Promise<BoundListener | undefined> {
  if (options.standalone) return platform.bindListener('http-01', options.standalone);
  if (options.standaloneTls) return platform.bindListener('tls-alpn-01', options.standaloneTls);
  return Promise.resolve(undefined);
}

async function issueSeparated(
  { options, identifiers, paths, plan, lock: held, separate }: RunInput, platform: Platform, log: Log,
): Promise<number> {
  const names = identifiers.map((identifier) => identifier.value);
  const started = separate?.children ?? startRunChildren(platform, options, paths, names);
  started.catch(() => {}); // awaited below, after the checks that come first
  let lock = held;
  let responder: Awaited<ReturnType<typeof openResponder>> | undefined;
  let listener: BoundListener | undefined;
  try {
    // Every check that can fail on bad input runs before the first write: names (already), directories, and the keys,
    // which the key process reads before this process takes the set's lock.
    if (!paths.perDomainDirs.includes(paths.certDir)) await requireDirectory(platform, paths.certDir, 'certificate directory', '-c');
    const job: NetJob = {
      ...baseJob(platform, options, names, 'issue'),
      ...(options.agreement !== undefined && { agreement: options.agreement }),
      ...(options.email !== undefined && { email: options.email }),
      ...(options.preferredChain !== undefined && { preferredChain: options.preferredChain }),
      ...(options.profile !== undefined && { profile: options.profile }),
      // RFC 9773 §5: the network process sends it only to a CA that offers ARI; one that does not could refuse it.
      ...(plan.action === 'renew' && plan.replaces && { replaces: plan.replaces }),
      ...(options.caaCheck && { caa: options.dnsServer !== undefined ? { dnsServer: options.dnsServer } : {} }),
    };
    const children = await started;
    // The standalone port is bound here, as root, so that a taken port fails before anything is written, and served
    // by the network process (unless Deno's may not bind it again: then by this process, once it asks).
    listener = await bindStandalone(platform, options);
    if (listener) {
      job.standalone = { type: listener.type, address: listener.address };
      children.net.handOver?.(listener);
    } else {
      responder = await openResponder(platform, options, paths, log);
    }
    job.responderTypes = listener ? [listener.type] : [...responder!.types];
    log(plan.action === 'renew' ? `renewing ${paths.cert}: ${plan.reason}` : `issuing a certificate for ${options.names.join(', ')}`);
    const result = await runSeparated(platform, {
      job,
      files: filesOf(paths),
      children,
      ...(options.eabKid !== undefined && { eab: { kid: options.eabKid, hmacKey: options.eabHmacKey! } }),
      ...(responder && { responder }),
      ...(listener && { serveHere: async () => (responder = await openResponder(platform, options, paths, log)) }),
      // Another run may have issued this set while the keys were read; then there is nothing left to do.
      beforeNetwork: async () => Boolean(lock ??= await lockNewSet(platform, paths, log)),
    }, log);
    if (!result) return EXIT_UNCHANGED;
    const issued = checkIssued(result);
    return await installIssuedSet(platform, options, paths, lock!, issued, log);
  } finally {
    await started.then((children) => children.stop(), () => {});
    if (!held) await lock?.release();
    listener?.close();
    await responder?.close?.();
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
  const job: NetJob = { ...baseJob(platform, options, identifiers.map((identifier) => identifier.value), 'revoke'), certificatePem };
  const der = base64UrlEncode(pemDecode(certificatePem, ['CERTIFICATE']).der);
  const children = await startRunChildren(platform, options, paths, job.names, der);
  const result = (await runSeparated(platform, { job, files: filesOf(paths), children }, log)) as NetRevoked | undefined;
  const serial = typeof result?.serialHex === 'string' && /^[0-9a-f]{1,64}$/.test(result.serialHex) ? result.serialHex : '(unknown serial)';
  log(result?.alreadyRevoked ? `certificate ${serial} was already revoked` : `revoked certificate ${serial}`);
  return removeRevokedSet(platform, options, paths, lock!, log);
}

/** A run of one set, split over the key and network processes. */
export function run(input: RunInput, platform: Platform): Promise<number> {
  const log = runLog(input.options, platform);
  return input.plan.action === 'revoke' ? revokeSeparated(input, platform, log) : issueSeparated(input, platform, log);
}
