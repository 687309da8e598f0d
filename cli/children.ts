// The key and network processes of one separated run (cli/privsep.ts): what each may do, and starting and stopping
// them. cli/command.ts starts them as soon as its plan says a certificate will change, so that their start-up (a
// runtime's each) overlaps this process's loading, its lock and its checks rather than following them.

import { dirnamePath } from '../adapters/_path.ts';
import { listenPermission, type CliOptions } from './args.ts';
import { directoryUrlOf, type CliPaths } from './defaults.ts';
import type { KeyProcessConfig } from './key-process.ts';
import type { ChildHandle, CliPlatform } from './platform.ts';

/** Looked up in this order when --user is not given, as acme-client-portable and Debian's packages name the account. */
const DEFAULT_USERS = ['_acme-client', 'acme-client', 'nobody'];
/** How long a child may take to end once its work is done before it is killed. */
const CHILD_EXIT_GRACE_MS = 5000;

/** The uid and gid the network process runs as: --user's, else the first of DEFAULT_USERS; none unless root. */
export function networkUser(platform: CliPlatform, name: string | undefined): { uid: number; gid: number } | undefined {
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
export function dnsServersOf(platform: CliPlatform, server: string | undefined): string[] {
  const withPort = (address: string) => (address.startsWith('[') ? (address.includes(']:') ? address : `${address}:53`)
    : address.includes(':') ? (address.split(':').length > 2 ? `[${address}]:53` : address) : `${address}:53`);
  if (server !== undefined) return [withPort(server)];
  const text = platform.readTextFile('/etc/resolv.conf') ?? '';
  return [...text.matchAll(/^nameserver\s+(\S+)/gm)].map(([, address]) => withPort(address!));
}

/** The key process's files: each key, and whether this run may make it (-n, -N) or, revoking, may lack it. */
function keyFiles(options: CliOptions, paths: CliPaths, revoking: boolean): KeyProcessConfig['keys'] {
  return {
    account: { path: paths.accountKey, what: 'account key', createFlag: '-n', mayCreate: !revoking && options.createAccountKey, optional: revoking },
    domain: { path: paths.domainKey, what: 'domain key', createFlag: '-N', mayCreate: !revoking && options.createDomainKey, optional: revoking },
  };
}

/** The two children of a run; stop() ends both (at once, or after their grace) and may be called more than once. */
export interface RunChildren {
  key: ChildHandle;
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

/**
 * Starts the key process, which reads the keys of `names` (or makes the ones -n/-N allow) and signs for this CA alone,
 * and the network process, which may connect to the CA (and the CAA pre-check's DNS servers) and runs unprivileged.
 * `revokeDer` (base64url) is the one certificate a revocation may sign for.
 */
export async function startRunChildren(
  platform: CliPlatform, options: CliOptions, paths: CliPaths, names: string[], revokeDer?: string,
): Promise<RunChildren> {
  const keys = keyFiles(options, paths, revokeDer !== undefined);
  const read: string[] = [];
  const write: string[] = [];
  for (const spec of Object.values(keys)) {
    if (!spec.mayCreate) {
      read.push(spec.path);
      continue;
    }
    // A new key's folder may have to be made, and the atomic write syncs it. Only the folder is granted: Node 20
    // refuses the folder itself when a file inside it is granted too.
    read.push(dirnamePath(spec.path));
    write.push(dirnamePath(spec.path));
  }
  const ca = new URL(directoryUrlOf(options));
  const caPort = ca.port || (ca.protocol === 'https:' ? '443' : '80');
  const config: KeyProcessConfig = { keys, keyType: options.keyType, policy: { origin: ca.origin, names, ...(revokeDer !== undefined && { revoke: revokeDer }) } };
  const net = [`${ca.host.replace(/:\d+$/, '')}:${caPort}`, ...(options.caaCheck && revokeDer === undefined ? dnsServersOf(platform, options.dnsServer) : [])];
  // An issuance's --standalone or --standalone-tls port is served by the network process (cli/run-separated.ts).
  const listen = revokeDer === undefined ? options.standalone ?? options.standaloneTls : undefined;
  if (listen) net.push(listenPermission(listen));
  const user = networkUser(platform, options.user);
  const key = await platform.startChild({ role: 'key', args: [JSON.stringify(config)], read, write, net: [] });
  let netChild: ChildHandle;
  try {
    netChild = await platform.startChild({ role: 'net', args: [], read: [], write: [], net, ...(user && { user }), ...(listen && { listens: true }) });
  } catch (error) {
    await stopChild(key);
    throw error;
  }
  let stopped: Promise<void> | undefined;
  return { key, net: netChild, stop: () => (stopped ??= Promise.all([stopChild(key), stopChild(netChild)]).then(() => {})) };
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
