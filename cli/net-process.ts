// The network process: the only process that connects to the CA. It holds no private key (it asks the key process,
// through the parent, for every JWS and the CSR), may read no key file and write no file, and runs as an
// unprivileged user. It drives the protocol, and reads and checks everything the CA sends, the certificate chain
// included, before it hands the parent the PEM text to install.

import { AcmeClient, fetchDirectory } from '../core/client.ts';
import { Transport, type TransportOptions } from '../core/http.ts';
import type { ChallengeTask, ChallengeType } from '../core/resources.ts';
import { pemDecode } from '../core/encoding.ts';
import { isAlreadyRevoked } from '../core/errors.ts';
import { issueCertificate, type FlowEvent } from '../core/flow.ts';
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

/** What the parent asks the network process to do; it sends this over the channel, never on the command line. */
export interface NetJob {
  mode: 'issue' | 'revoke';
  directoryUrl: string;
  /** The parent's runtime, for the User-Agent (RFC 8555 §6.1). */
  runtime: string;
  verbosity: number;
  /** --retry-time, in seconds. */
  retryTime?: number;
  names: string[];
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
  /** --standalone or --standalone-tls: this process serves the challenges itself, on the port its parent bound. */
  standalone?: { type: StandaloneType; address: ListenAddress };
  /** -r: the certificate to revoke. */
  certificatePem?: string;
}

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
export function describeEvent(event: FlowEvent): string {
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

async function issue(
  platform: NetChildPlatform, parent: RpcClient, job: NetJob, signers: Record<string, KeySigner>, client: AcmeClient, served: StandaloneResponder | undefined,
): Promise<NetIssued> {
  const terms = client.directory.meta.termsOfService;
  if (job.agreement !== undefined && terms !== job.agreement) {
    await parent.call('warn', { line: `warning: the CA's terms of service are ${terms ?? 'not stated'}, not ${job.agreement}` });
  }
  const answer = (op: 'present' | 'cleanup') => async (task: ChallengeTask) => void (await parent.call(op, { task }));
  const issued = await issueCertificate({
    client,
    identifiers: job.names,
    certificateKey: signers.domain!,
    // A challenge server of its own answers from what this process knows: key authorizations are public (RFC 8555
    // §8.1). Every other way is the parent's, which rebuilds each challenge from its checked token.
    responder: served ?? { types: job.responderTypes, present: answer('present'), cleanup: answer('cleanup') },
    account: {
      termsOfServiceAgreed: true,
      ...(job.email !== undefined && { contact: [`mailto:${job.email}`] }),
    },
    mustStaple: job.mustStaple,
    ...(job.preferredChain !== undefined && { preferredChain: job.preferredChain }),
    ...(job.profile !== undefined && { profile: job.profile }),
    ...(job.replaces !== undefined && client.directory.renewalInfo && { replaces: job.replaces }),
    ...(job.caa && { caaResolver: platform.caaResolver(job.caa.dnsServer) }),
    onProgress: (event) => {
      void parent.call(event.kind === 'replaces-refused' ? 'warn' : 'log', { line: describeEvent(event) });
      if (event.kind === 'account' || event.kind === 'order' || event.kind === 'certificate') void parent.call('checkpoint', { name: event.kind });
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
async function revoke(job: NetJob, signers: Record<string, KeySigner>, connect: (signer: KeySigner) => Promise<AcmeClient>, files: { cert: string; accountKey: string; domainKey: string }): Promise<NetRevoked> {
  const certificate = parseCertificate(pemDecode(job.certificatePem ?? '', ['CERTIFICATE']).der);
  const certificateKey = signers.domain && certificateMatchesKey(certificate, signers.domain.publicJwk) ? signers.domain : undefined;
  const signer = certificateKey ?? signers.account;
  if (!signer) throw new Error(`Cannot revoke ${files.cert}: the domain key ${files.domainKey} is not its key, and the account key ${files.accountKey} does not exist`);
  const client = await connect(signer);
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
  return Promise.race([runJob(platform, parent), parent.done.then(() => 1)]);
}

/** Asks the parent for the job and carries it out, reporting the outcome as done or failed. */
async function runJob(platform: NetChildPlatform, parent: RpcClient): Promise<number> {
  const { job, files } = (await parent.call('job')) as { job: NetJob; files: { cert: string; accountKey: string; domainKey: string } };
  await testHook(platform, parent, 'start');
  // The server starts beside the directory read: under Node it waits for the socket the parent hands over.
  const serving = job.standalone && platform.standaloneResponder(job.standalone.type, job.standalone.address);
  serving?.catch(() => {}); // awaited below
  let served: StandaloneResponder | undefined;
  try {
    // acme-client's User-Agent (RFC 8555 §6.1), retries within --retry-time, and under -vv the parent's trace lines:
    // methods, URLs, JWS headers and payloads and responses; this process never sees a private key.
    const connection: TransportOptions = { fetch: platform.createFetch(userAgent(job.runtime)) };
    if (job.retryTime !== undefined) connection.retry = { budgetMs: job.retryTime * 1000 };
    if (job.verbosity >= 2) connection.trace = (line) => void parent.call('log', { line });
    // The directory is read while the parent has the keys read and takes the lock; its answer's nonce waits in the
    // transport for the first signed request.
    const transport = new Transport(connection);
    const directory = fetchDirectory(job.directoryUrl, transport);
    directory.catch(() => {}); // awaited once the signers are there
    // Before the first signed request: a port that Deno's network process cannot bind after all ends the run here, and
    // one that it may not bind (below ip_unprivileged_port_start) is served by the parent, as a webroot is written.
    served = await serving;
    if (serving && !served) await parent.call('serve');
    const signers = await connectSigners(parent, 'the key process');
    const connect = async (accountKey: KeySigner) => new AcmeClient(await directory, { accountKey, ...connection }, transport);
    const result = job.mode === 'revoke'
      ? await revoke(job, signers, connect, files)
      : await issue(platform, parent, job, signers, await connect(persistingFirst(signers.account!, (key) => parent.call('persist', { key }))), served);
    await parent.call('done', { result });
  } catch (error) {
    await parent.call('failed', { message: error instanceof Error ? error.message : String(error) });
  } finally {
    await served?.close();
  }
  return 0;
}
