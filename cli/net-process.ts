// The network process: the only process that connects to the CA, for a run's sets and for the renewal windows it asks
// (RFC 9773). It holds no private key (it asks the key process, through the parent, for every JWS and CSR), may read
// no key file and write no file, and runs as an unprivileged user. It drives the protocol, and reads and checks
// everything the CA sends, the certificate chain included, before it hands the parent the PEM text to install.

import { AcmeClient, fetchDirectory } from '../core/client.ts';
import { Transport, type TransportOptions } from '../core/http.ts';
import type { ChallengeTask, ChallengeType, Directory } from '../core/resources.ts';
import { pemDecode } from '../core/encoding.ts';
import { isAlreadyRevoked } from '../core/errors.ts';
import { issueCertificate, type FlowEvent } from '../core/flow.ts';
import { checkProfile } from '../core/profiles.ts';
import { connectSigners } from '../core/signer-protocol.ts';
import type { KeySigner } from '../core/signer.ts';
import { certificateMatchesKey, parseCertificate } from '../core/x509.ts';
import { RpcClient, lineChannel } from '../core/_line-rpc.ts';
import type { StandaloneResponder } from '../adapters/_shared.ts';
import type { ListenAddress } from './args.ts';
import type { NetChildPlatform, StandaloneType } from './platform.ts';
import { persistingFirst } from './sign-guard.ts';
import { serialOf } from './renewal-info.ts';
import { userAgent } from './version.ts';
import { queryRenewalInfo, type RenewalAnswer, type RenewalQuestion } from './ari-query.ts';

/** What the parent tells the network process once, on its command line (nothing here is secret): the CA, and how to talk to it. */
export interface NetSession {
  directoryUrl: string;
  /** The parent's runtime, for the User-Agent (RFC 8555 §6.1). */
  runtime: string;
  verbosity: number;
  /** --retry-time, in seconds: each set's requests get this long to get through. */
  retryTime?: number;
  /** --standalone or --standalone-tls: this process serves the challenges itself, on the port its parent bound. */
  standalone?: { type: StandaloneType; address: ListenAddress };
  /** Read the directory at once, while the parent reads keys and takes locks: a session that issues needs it first. */
  readDirectory: boolean;
}

/** A question for a certificate's renewal window (RFC 9773), which needs no key (cli/ari-query.ts). */
export interface NetRenewalJob extends RenewalQuestion {
  id: number;
  mode: 'ari';
}

/** One set's work, handed over once the set's keys are read and its lock is held; it never comes on the command line. */
export interface NetSetJob {
  id: number;
  mode: 'issue' | 'revoke';
  names: string[];
  /** The names the key process serves the set's keys under. */
  accountKey: string;
  domainKey: string;
  /** Files named in this process's messages; it cannot read them. */
  files: { cert: string; accountKey: string; domainKey: string };
  agreement?: string;
  email?: string;
  mustStaple: boolean;
  preferredChain?: string;
  profile?: string;
  /** RFC 9773 §5: sent only to a CA whose directory offers ARI. */
  replaces?: string;
  /** The CAA pre-check (RFC 8659), with its DNS server when one was given. */
  caa?: { dnsServer?: string };
  /** The challenge types the parent's responder answers, most preferred first. */
  responderTypes: ChallengeType[];
  /** -r: the certificate to revoke. */
  certificatePem?: string;
}

export type NetJob = NetSetJob | NetRenewalJob;

/** An issued certificate as the parent installs it: checked PEM text and the facts the next run needs. */
export interface NetIssued {
  certificatePem: string;
  chainPem: string;
  fullchainPem: string;
  serial: string;
  /** The CA's renewalInfo URL when it offers ARI for this certificate, else null. */
  renewalInfo: string | null;
}

export interface NetRevoked {
  serialHex: string;
  alreadyRevoked: boolean;
}

/** Progress lines the parent prints under -v, in the same words as a single-process run. */
function describeEvent(event: FlowEvent): string {
  const name = (value: string, wildcard: boolean) => `${wildcard ? '*.' : ''}${value}`;
  switch (event.kind) {
    case 'account':
      return `${event.created ? 'created' : 'using'} account ${event.url}`;
    case 'order':
      return `order ${event.url} for ${event.identifiers.map((identifier) => identifier.value).join(', ')}`;
    case 'authorization':
      return `${name(event.identifier.value, event.wildcard)}: authorization ${event.status}`;
    case 'challenge':
      return `${name(event.identifier.value, event.wildcard)}: ${event.type} challenge ${event.status}`;
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

/**
 * Test-only (ACME_CLIENT_TEST_HOOK): "pause" stops once the certificate is downloaded, with the CA connection
 * open, until SIGUSR2, so a test can read this process's memory; "try-files:KEY:FILE" tries to read KEY and write
 * FILE and reports each refusal, proving what the permissions deny rather than trusting the flags.
 */
async function testHook(platform: NetChildPlatform, parent: RpcClient, point: 'start' | 'certificate'): Promise<void> {
  const hook = platform.testHook;
  if (hook === 'pause' && point === 'certificate') {
    const resumed = platform.waitForSignal();
    await parent.call('warn', { line: 'test hook: paused' });
    await resumed;
  }
  if (hook?.startsWith('try-files:') && point === 'start') {
    const [, keyFile, outFile] = hook.split(':');
    const outcome = async (what: string, attempt: () => unknown) => {
      try {
        await attempt();
        return `${what}: allowed`;
      } catch (error) {
        return `${what}: ${(error as { code?: string }).code ?? (error as Error).message}`;
      }
    };
    const read = await outcome(`read ${keyFile}`, () => platform.readTextFile(keyFile!));
    const write = await outcome(`write ${outFile}`, () => platform.writeFileAtomic(outFile!, 'x', 0o644));
    await parent.call('warn', { line: `test hook: ${read}; ${write}` });
  }
}

/** What the sets of a run share in this process: the CA's directory, its connections and nonces, and one account per account key. */
interface NetShared {
  platform: NetChildPlatform;
  parent: RpcClient;
  session: NetSession;
  transport: Transport;
  directory(): Promise<Directory>;
  /** Set when this process serves the standalone port, for every set. */
  served?: StandaloneResponder;
  accounts: Map<string, Promise<string>>;
}

/**
 * The account of `job`'s account key, registered (or found, RFC 8555 §7.3.1) once however many sets use it at the same
 * moment; a failure is every such set's, as they would only be refused alike.
 */
function accountOf(shared: NetShared, job: NetSetJob, client: AcmeClient): Promise<string> {
  let account = shared.accounts.get(job.accountKey);
  if (!account) {
    account = (async () => {
      const terms = client.directory.meta.termsOfService;
      if (job.agreement !== undefined && terms !== job.agreement) {
        await shared.parent.call('warn', { id: job.id, line: `warning: the CA's terms of service are ${terms ?? 'not stated'}, not ${job.agreement}` });
      }
      const { url, created } = await client.createAccount({
        termsOfServiceAgreed: true,
        ...(job.email !== undefined && { contact: [`mailto:${job.email}`] }),
      });
      void shared.parent.call('log', { id: job.id, line: describeEvent({ kind: 'account', url, created }) });
      void shared.parent.call('checkpoint', { name: 'account' });
      return url;
    })();
    shared.accounts.set(job.accountKey, account);
  }
  return account;
}

async function issue(shared: NetShared, job: NetSetJob, signers: Record<string, KeySigner>, transport: Transport): Promise<NetIssued> {
  const { parent, platform } = shared;
  const accountKey = persistingFirst(signers[job.accountKey]!, (which) => parent.call('persist', { id: job.id, key: which === 'account' ? job.accountKey : job.domainKey }));
  const directory = await shared.directory();
  // As issueCertificate would: a profile the CA does not offer fails before any account is created.
  if (job.profile !== undefined) checkProfile(directory, job.profile);
  const accountUrl = await accountOf(shared, job, new AcmeClient(directory, { accountKey }, transport));
  const client = new AcmeClient(directory, { accountKey, accountUrl }, transport);
  const answer = (op: 'present' | 'cleanup') => async (task: ChallengeTask) => void (await parent.call(op, { id: job.id, task }));
  const issued = await issueCertificate({
    client,
    identifiers: job.names,
    certificateKey: signers[job.domainKey]!,
    // A challenge server of its own answers from what this process knows: key authorizations are public (RFC 8555
    // §8.1). Every other way is the parent's, which rebuilds each challenge from its checked token.
    responder: shared.served ?? { types: job.responderTypes, present: answer('present'), cleanup: answer('cleanup') },
    mustStaple: job.mustStaple,
    ...(job.preferredChain !== undefined && { preferredChain: job.preferredChain }),
    ...(job.profile !== undefined && { profile: job.profile }),
    ...(job.replaces !== undefined && client.directory.renewalInfo && { replaces: job.replaces }),
    ...(job.caa && { caaResolver: platform.caaResolver(job.caa.dnsServer) }),
    onProgress: (event) => {
      void parent.call(event.kind === 'replaces-refused' ? 'warn' : 'log', { id: job.id, line: describeEvent(event) });
      if (event.kind === 'order' || event.kind === 'certificate') void parent.call('checkpoint', { name: event.kind });
    },
  });
  await testHook(platform, parent, 'certificate');
  return {
    certificatePem: issued.certificatePem,
    chainPem: issued.chainPem,
    fullchainPem: issued.fullchainPem,
    serial: serialOf(issued.certificate),
    renewalInfo: client.directory.renewalInfo && issued.certificate.authorityKeyIdentifier?.length ? client.directory.renewalInfo : null,
  };
}

/** RFC 8555 §7.6: the domain key signs when it is the certificate's key, otherwise the account that holds it. */
async function revoke(shared: NetShared, job: NetSetJob, signers: Record<string, KeySigner>, transport: Transport): Promise<NetRevoked> {
  const { files } = job;
  const certificate = parseCertificate(pemDecode(job.certificatePem ?? '', ['CERTIFICATE']).der);
  const domainKey = signers[job.domainKey];
  const certificateKey = domainKey && certificateMatchesKey(certificate, domainKey.publicJwk) ? domainKey : undefined;
  const signer = certificateKey ?? signers[job.accountKey];
  if (!signer) throw new Error(`Cannot revoke ${files.cert}: the domain key ${files.domainKey} is not its key, and the account key ${files.accountKey} does not exist`);
  const client = new AcmeClient(await shared.directory(), { accountKey: signer }, transport);
  try {
    if (certificateKey) {
      await client.revokeCertificate(certificate.der, { certificateKey });
    } else {
      if (!(await client.findAccount())) throw new Error(`Cannot revoke ${files.cert}: the CA has no account for the account key ${files.accountKey}`);
      await client.revokeCertificate(certificate.der);
    }
    return { serialHex: certificate.serialHex, alreadyRevoked: false };
  } catch (error) {
    if (!isAlreadyRevoked(error)) throw error;
    return { serialHex: certificate.serialHex, alreadyRevoked: true };
  }
}

export async function runNetProcess(platform: NetChildPlatform): Promise<number> {
  const parent = new RpcClient(lineChannel(platform.input, (bytes) => platform.write(bytes), 'the parent process'), 'the parent process');
  // The parent closes the channel when the run ends without this process (a bad key file, a set another run just
  // issued): whatever it is doing then, a directory read or a wait between tries, it ends.
  return Promise.race([serveSession(platform, parent), parent.done.then(() => 0)]);
}

/** -vv: the trace lines go to the parent, with the set they belong to. */
function traceTo(parent: RpcClient, session: NetSession, id?: number): Pick<TransportOptions, 'trace'> {
  return session.verbosity >= 2 ? { trace: (line) => void parent.call('log', { ...(id !== undefined && { id }), line }) } : {};
}

/** What one job hands back: a set's certificate or revocation, or a renewal window. */
async function resultOf(shared: NetShared, job: NetJob, transport: Transport): Promise<NetIssued | NetRevoked | RenewalAnswer> {
  if (job.mode === 'ari') return queryRenewalInfo(job, shared.directory, transport, new Date(), (line) => void shared.parent.call('log', { id: job.id, line }));
  const signers = await connectSigners(shared.parent, 'the key process');
  return job.mode === 'revoke' ? revoke(shared, job, signers, transport) : issue(shared, job, signers, transport);
}

/** Carries out one job and reports it done or failed; the others go on either way. */
async function runJob(shared: NetShared, job: NetJob): Promise<void> {
  try {
    // Its own tries within --retry-time and its own trace lines, over the run's connections and nonces.
    const result = await resultOf(shared, job, shared.transport.share(traceTo(shared.parent, shared.session, job.id)));
    await shared.parent.call('done', { id: job.id, result });
  } catch (error) {
    await shared.parent.call('failed', { id: job.id, message: error instanceof Error ? error.message : String(error) });
  }
}

/** Starts the run's session with the CA, then asks the parent for each job until it answers that there is none left. */
async function serveSession(platform: NetChildPlatform, parent: RpcClient): Promise<number> {
  const session = JSON.parse(platform.args[0]!) as NetSession;
  await testHook(platform, parent, 'start');
  let served: StandaloneResponder | undefined;
  const jobs: Promise<void>[] = [];
  try {
    // acme-client's User-Agent (RFC 8555 §6.1), retries within --retry-time, and under -vv the parent's trace lines:
    // methods, URLs, JWS headers and payloads and responses; this process never sees a private key.
    const transport = new Transport({
      fetch: platform.createFetch(userAgent(session.runtime)),
      ...(session.retryTime !== undefined && { retry: { budgetMs: session.retryTime * 1000 } }),
      ...traceTo(parent, session),
    });
    // An issuance's directory is read while the parent has the keys read and takes the lock; a renewal window's
    // question may not need it at all.
    let read: Promise<Directory> | undefined;
    const directory = () => (read ??= fetchDirectory(session.directoryUrl, transport));
    if (session.readDirectory) directory().catch(() => {}); // awaited by each set
    let job = (await parent.call('job')) as NetJob | null;
    // Only once the first set is handed out, since the parent has checked the port by then: Deno's network process
    // binds it again, and binding it sooner made the parent's own check find it taken. A port that this process
    // cannot bind after all ends the run here, and one that it may not bind (below ip_unprivileged_port_start) is
    // served by the parent, as a webroot is written. Under Node the socket the parent handed over is served.
    if (job && session.standalone) {
      served = await platform.standaloneResponder(session.standalone.type, session.standalone.address);
      if (!served) await parent.call('serve');
    }
    const shared: NetShared = { platform, parent, session, transport, directory, ...(served && { served }), accounts: new Map() };
    for (; job; job = (await parent.call('job')) as NetJob | null) jobs.push(runJob(shared, job));
    await Promise.all(jobs);
  } catch (error) {
    await parent.call('failed', { message: error instanceof Error ? error.message : String(error) });
  } finally {
    await served?.close();
  }
  return 0;
}
