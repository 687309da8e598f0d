// The key and network processes of one separated run (cli/privsep.ts): what each may do, and starting and stopping
// them. cli/command.ts starts them as soon as its plan says a certificate will change, so that their start-up (a
// runtime's each) overlaps this process's loading, its lock and its checks rather than following them.

import { dirnamePath } from '../adapters/_path.ts';
import { listenPermission, type CliOptions } from './args.ts';
import { directoryUrlOf, resolvePaths, type CliPaths } from './defaults.ts';
import type { KeyFileSpec, KeyProcessConfig } from './key-process.ts';
import type { NetSession } from './net-process.ts';
import type { ChildHandle, CliPlatform } from './platform.ts';

/** Looked up in this order when --user is not given, as acme-client-portable and Debian's packages name the account. */
const DEFAULT_USERS = ['_acme-client', 'acme-client', 'nobody'];
/** How long a child may take to end once its work is done before it is killed. */
const CHILD_EXIT_GRACE_MS = 5000;

/** The uid and gid the network process runs as: --user's, else the first of DEFAULT_USERS; none unless root. */
function networkUser(platform: CliPlatform, name: string | undefined): { uid: number; gid: number } | undefined {
  if (!platform.isRoot()) return undefined;
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of (platform.readTextFile('/etc/passwd') ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields.length >= 4 && /^\d+$/.test(fields[2]!) && /^\d+$/.test(fields[3]!)) users.set(fields[0]!, { uid: Number(fields[2]), gid: Number(fields[3]) });
  }
  if (name !== undefined) {
    const user = users.get(name);
    if (!user) throw new Error(`Cannot run the network process as ${name}: /etc/passwd has no such user`);
    if (user.uid === 0) throw new Error(`Cannot run the network process as ${name}: it is root, which the separation exists to avoid`);
    return user;
  }
  const found = DEFAULT_USERS.find((candidate) => users.has(candidate));
  if (!found) throw new Error(`Cannot drop privileges: /etc/passwd has none of ${DEFAULT_USERS.join(', ')} (name one with --user)`);
  return users.get(found);
}

/** Deno's --allow-net for the CAA pre-check: the DNS server given, else the system's, as Deno's resolver asks them. */
function dnsServersOf(platform: CliPlatform, server: string | undefined): string[] {
  const withPort = (address: string) => (address.startsWith('[') ? (address.includes(']:') ? address : `${address}:53`)
    : address.includes(':') ? (address.split(':').length > 2 ? `[${address}]:53` : address) : `${address}:53`);
  if (server !== undefined) return [withPort(server)];
  const text = platform.readTextFile('/etc/resolv.conf') ?? '';
  return [...text.matchAll(/^nameserver\s+(\S+)/gm)].map(([, address]) => withPort(address!));
}

/** The key process's files of one set: each key, and whether this run may make it (-n, -N) or, revoking, may lack it. */
export function keyFiles(options: CliOptions, paths: CliPaths, revoking = false): { account: KeyFileSpec; domain: KeyFileSpec } {
  return {
    account: { path: paths.accountKey, what: 'account key', createFlag: '-n', mayCreate: !revoking && options.createAccountKey, optional: revoking },
    domain: { path: paths.domainKey, what: 'domain key', createFlag: '-N', mayCreate: !revoking && options.createDomainKey, optional: revoking },
  };
}

/** The children of a run; stop() ends them (at once, or after their grace) and may be called more than once. */
export interface RunChildren {
  /** Absent when the run only asks for renewal windows. */
  key?: ChildHandle;
  net: ChildHandle;
  stop(): Promise<void>;
}

async function stopChild(child: ChildHandle): Promise<void> {
  child.endInput();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CHILD_EXIT_GRACE_MS)));
  const ended = await Promise.race([child.exited.then(() => true), grace.then(() => false)]);
  clearTimeout(timer);
  if (!ended) {
    child.kill();
    await child.exited;
  }
}

/** What the key process may read and write: each key file, or its folder where the run may make it. */
function keyGrants(specs: KeyFileSpec[]): { read: string[]; write: string[] } {
  const read: string[] = [];
  const write: string[] = [];
  for (const spec of specs) {
    if (!spec.mayCreate) {
      read.push(spec.path);
      continue;
    }
    // A new key's folder may have to be made, and the atomic write syncs it. Only the folder is granted: Node 20
    // refuses the folder itself when a file inside it is granted too.
    read.push(dirnamePath(spec.path));
    write.push(dirnamePath(spec.path));
  }
  return { read, write };
}

/**
 * Starts the key process with `key.config`, which reads the keys it names (or makes the ones -n/-N allow) and signs
 * for this CA alone, and the network process, which may connect to the CA (and for an issuance, the CAA pre-check's DNS
 * servers and the standalone port) and runs unprivileged. `key.grants` are the key files and folders the key process
 * may touch; without `key`, only the network process starts, to ask for renewal windows.
 */
async function startChildren(
  platform: CliPlatform, options: CliOptions, purpose: 'issue' | 'revoke' | 'ari', key?: { config: KeyProcessConfig; grants: { read: string[]; write: string[] } },
): Promise<RunChildren> {
  const ca = new URL(directoryUrlOf(options));
  const caPort = ca.port || (ca.protocol === 'https:' ? '443' : '80');
  const net = [`${ca.host.replace(/:\d+$/, '')}:${caPort}`, ...(options.caaCheck && purpose === 'issue' ? dnsServersOf(platform, options.dnsServer) : [])];
  // An issuance's --standalone or --standalone-tls port is served by the network process (cli/run-separated.ts).
  const listen = purpose === 'issue' ? options.standalone ?? options.standaloneTls : undefined;
  if (listen) net.push(listenPermission(listen));
  const user = networkUser(platform, options.user);
  // What the network process is told once, on its command line, since nothing in it is secret: so it reads the CA's
  // directory as soon as it has started, while this process is still loading, checking and locking.
  const session: NetSession = {
    directoryUrl: directoryUrlOf(options),
    runtime: platform.runtime,
    verbosity: options.verbosity,
    ...(options.retryTime !== undefined && { retryTime: options.retryTime }),
    ...(listen && { standalone: { type: options.standalone ? 'http-01' : 'tls-alpn-01', address: listen } }),
    readDirectory: purpose !== 'ari',
  };
  // The network process first: the CA's directory is the first thing the run waits for, the key process's first
  // signature comes after it.
  const netChild = await platform.startChild({ role: 'net', args: [JSON.stringify(session)], read: [], write: [], net, ...(user && { user }), ...(listen && { listens: true }) });
  let keyChild: ChildHandle | undefined;
  try {
    if (key) keyChild = await platform.startChild({ role: 'key', args: [JSON.stringify(key.config)], ...key.grants, net: [] });
  } catch (error) {
    await stopChild(netChild);
    throw error;
  }
  let stopped: Promise<void> | undefined;
  const all = [keyChild, netChild].filter((child) => child !== undefined);
  return { ...(keyChild && { key: keyChild }), net: netChild, stop: () => (stopped ??= Promise.all(all.map(stopChild)).then(() => {})) };
}

/** The network process alone, which asks the CA for renewal windows (RFC 9773) and needs no key. */
export function startRenewalChild(platform: CliPlatform, options: CliOptions): Promise<RunChildren> {
  return startChildren(platform, options, 'ari');
}

/**
 * The children of a run for the one set at `paths`, named `names`: the key process starts with its two keys.
 * `revokeDer` (base64url) is the one certificate a revocation may sign for.
 */
export function startRunChildren(platform: CliPlatform, options: CliOptions, paths: CliPaths, names: string[], revokeDer?: string): Promise<RunChildren> {
  const keys = keyFiles(options, paths, revokeDer !== undefined);
  const policy = { origin: new URL(directoryUrlOf(options)).origin, names: { domain: names }, ...(revokeDer !== undefined && { revoke: revokeDer }) };
  return startChildren(platform, options, revokeDer === undefined ? 'issue' : 'revoke', { config: { keys, keyType: options.keyType, policy }, grants: keyGrants(Object.values(keys)) });
}

/**
 * The children of --renew-all's or --renew-list's run: the key process starts with no key, and the parent adds each
 * set's as the run comes to it. It may touch the folders that -m puts every set's keys in: the tree's private/ for the
 * domain keys, and -f's file or else the default account key's folder.
 */
export function startManyChildren(platform: CliPlatform, options: CliOptions, tree: string): Promise<RunChildren> {
  const specs = keyFiles(options, resolvePaths({ ...options, multiple: true }, 'any.invalid', tree));
  const grants: { read: string[]; write: string[] } = { read: [], write: [] };
  for (const [spec, perSet] of [[specs.account, options.accountKey === undefined], [specs.domain, true]] as const) {
    // -m puts each set's key in a folder of the set's name, so the folder above holds every set's.
    const folder = perSet ? dirnamePath(dirnamePath(spec.path)) : undefined;
    const granted = folder ? { read: [folder], write: spec.mayCreate ? [folder] : [] } : keyGrants([spec]);
    grants.read.push(...granted.read);
    grants.write.push(...granted.write);
  }
  const policy = { origin: new URL(directoryUrlOf(options)).origin, names: {} };
  return startChildren(platform, options, 'issue', { config: { keys: {}, keyType: options.keyType, policy }, grants });
}

/** How a child ended, in the words the failure line uses. */
export function endedHow(code: number | null, signal: string | null): string {
  return signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

/** Keeps the last non-empty line of a stream of text, for the failure line. */
export function lastLineKeeper(): { add(text: string): void; last(): string | undefined } {
  let tail = '';
  return {
    add(text) {
      tail = (tail + text).slice(-4096);
    },
    last: () => tail.split('\n').map((line) => line.trim()).filter(Boolean).pop(),
  };
}
