// Privilege separation, as acme-client(1) does it: this process (the parent) starts the key process, which holds the
// keys and talks to nobody but this process, and the network process, which talks to the CA, holds no key and runs
// unprivileged. The parent passes signing requests between them without reading them, answers challenges through its
// responder, and installs what the network process hands back; it never parses what the CA sent.

import type { ChallengeTask, ChallengeType } from '../core/resources.ts';
import type { PublicJwk } from '../core/engine.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { dns01TxtValue } from '../core/jws.ts';
import { jwkThumbprint } from '../core/keys.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { RpcClient, lineChannel, serveRpc } from '../core/_line-rpc.ts';
import type { KeyProcessConfig } from './key-process.ts';
import type { NetIssued, NetJob, NetRevoked } from './net-process.ts';
import type { ChildHandle, ChildSpec, CliPlatform, CliRunPlatform } from './platform.ts';

type Platform = CliPlatform & CliRunPlatform;

/** Looked up in this order when --user is not given, as acme-client-portable and Debian's packages name the account. */
const DEFAULT_USERS = ['_acme-client', 'acme-client', 'nobody'];
/** How long a child may take to end once its work is done before it is killed. */
const CHILD_EXIT_GRACE_MS = 5000;
/** RFC 8555 §8.1, as core/client.ts checks it: a token names files and URLs, so the parent checks it again. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,255}$/;

/** The uid and gid the network process runs as: --user's, else the first of DEFAULT_USERS; none unless root. */
export function networkUser(platform: Platform, name: string | undefined): { uid: number; gid: number } | undefined {
  if (!platform.isRoot) return undefined;
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
export function dnsServersOf(platform: Platform, server: string | undefined): string[] {
  const withPort = (address: string) => (address.startsWith('[') ? (address.includes(']:') ? address : `${address}:53`)
    : address.includes(':') ? (address.split(':').length > 2 ? `[${address}]:53` : address) : `${address}:53`);
  if (server !== undefined) return [withPort(server)];
  const text = platform.readTextFile('/etc/resolv.conf') ?? '';
  return [...text.matchAll(/^nameserver\s+(\S+)/gm)].map(([, address]) => withPort(address!));
}

/** What the parent decides for one separated run. */
export interface SeparatedRun {
  job: NetJob;
  /** Files named in the network process's messages; it cannot read them. */
  files: { cert: string; accountKey: string; domainKey: string };
  key: KeyProcessConfig;
  /** What the key process may read and the folders where it may write new keys. */
  keyAccess: { read: string[]; write: string[] };
  /** HOST:PORT the network process may connect to: the CA, and the DNS servers of the CAA pre-check. */
  net: string[];
  user: { uid: number; gid: number } | undefined;
  /** Answers the challenges of an issuance. */
  responder?: ChallengeResponder;
  /** Runs once the keys are read, before the network process starts; false ends the run there, with nothing done. */
  beforeNetwork?: () => Promise<boolean>;
}

function channelOf(child: ChildHandle, peer: string) {
  return lineChannel(child.output, (bytes) => child.write(bytes), peer);
}

/** Rejects when the child ends, naming it, its pid, how it ended and the last thing it said. */
function whenEnded(child: ChildHandle, name: string): Promise<never> {
  return child.exited.then((how) => {
    const last = child.lastErrorLine();
    throw new Error(`The ${name} (pid ${child.pid}) ${how} before the run was done${last ? `: ${last}` : ''}`);
  });
}

async function stop(child: ChildHandle): Promise<void> {
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

/** One line, printable: what a child asks the parent to print cannot forge other lines or move the cursor. */
function printable(value: unknown): string {
  return String(value).replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/**
 * The challenge as the parent will act on it, rebuilt from the few fields it needs, each checked: the token (which
 * names a file), a type the responder answers, and one of this run's names. The key authorization comes from the
 * account key's thumbprint (RFC 8555 §8.1), so the network process cannot have anything else served or published.
 */
async function checkedTask(value: unknown, run: SeparatedRun, thumbprint: string): Promise<ChallengeTask> {
  const task = (value ?? {}) as Partial<ChallengeTask>;
  if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) throw new Error('the challenge token is not base64url of 22 to 255 characters');
  if (!run.responder!.types.includes(task.type as ChallengeType)) throw new Error(`the challenge type ${printable(task.type)} is not one this run answers`);
  const names = normalizeIdentifiers(run.job.names);
  const identifier = names.find((name) => name.type === task.identifier?.type && name.value.replace(/^\*\./, '') === task.identifier?.value);
  if (!identifier) throw new Error(`the challenge is for ${printable(task.identifier?.value)}, which this run does not name`);
  const bare = identifier.value.replace(/^\*\./, '');
  const keyAuthorization = `${task.token}.${thumbprint}`;
  return {
    identifier: { type: identifier.type, value: bare },
    wildcard: identifier.value.startsWith('*.'),
    type: task.type as ChallengeType,
    token: task.token,
    keyAuthorization,
    httpPath: `/.well-known/acme-challenge/${task.token}`,
    dnsName: `_acme-challenge.${bare}`,
    dnsValue: await dns01TxtValue(keyAuthorization),
    authorizationUrl: printable(task.authorizationUrl),
    challengeUrl: printable(task.challengeUrl),
  };
}

/**
 * Runs `run` split over a key process and a network process and returns what the network process hands back.
 * Whatever happens, both children have ended when it returns or throws.
 */
export async function runSeparated(platform: Platform, run: SeparatedRun, log: (line: string) => void): Promise<NetIssued | NetRevoked | undefined> {
  const children: ChildHandle[] = [];
  const start = (spec: ChildSpec) => {
    const child = platform.startChild(spec);
    children.push(child);
    return child;
  };
  let finished = false;
  const unlessFinished = (ended: Promise<never>) => ended.catch((error) => (finished ? new Promise<never>(() => {}) : Promise.reject(error)));
  try {
    const keyChild = start({ role: 'key', args: [JSON.stringify(run.key)], read: run.keyAccess.read, write: run.keyAccess.write, net: [] });
    const keyEnded = unlessFinished(whenEnded(keyChild, 'key process'));
    const keys = new RpcClient(channelOf(keyChild, 'the key process'), 'the key process');
    // A call that fails because the key process ended fails with how it ended, which names it.
    const forward = (op: string) => (params: Record<string, unknown>) =>
      Promise.race([keys.call(op, params).catch((error) => (keys.closed ? keyEnded : Promise.reject(error))), keyEnded]);
    // Both start at once, since each start costs a runtime's start-up; the network process gets its job only once
    // the keys are read (bad key files fail before any request) and the parent is ready to go on.
    const netChild = start({ role: 'net', args: [], read: [], write: [], net: run.net, ...(run.user && { user: run.user }) });
    await forward('check')({});
    const publicKeys = (await forward('keys')({})) as Record<string, { publicJwk: PublicJwk } | undefined>;
    const thumbprint = publicKeys.account ? await jwkThumbprint(publicKeys.account.publicJwk) : '';
    if (run.beforeNetwork && !(await run.beforeNetwork())) return undefined;
    const netEnded = unlessFinished(whenEnded(netChild, 'network process'));
    let settle!: { resolve(value: unknown): void; reject(error: Error): void };
    const outcome = new Promise((resolve, reject) => (settle = { resolve, reject }));
    const served = serveRpc(channelOf(netChild, 'the network process'), {
      job: () => ({ job: run.job, files: run.files }),
      check: forward('check'),
      keys: forward('keys'),
      sign: forward('sign'),
      csr: forward('csr'),
      persist: async (params) => {
        const line = await forward('persist')(params);
        if (typeof line === 'string') log(printable(line));
        // The crash tests stop the run here (cli/platform.ts withTestHooks), as they do a single process.
        platform.checkpoint(`${params.key === 'domain' ? 'domain' : 'account'}-key-written`);
        return line;
      },
      checkpoint: ({ name }) => platform.checkpoint(`${['account', 'order', 'certificate'].includes(name as string) ? name : 'unknown'}-done`),
      present: async ({ task }) => run.responder!.present(await checkedTask(task, run, thumbprint)),
      cleanup: async ({ task }) => run.responder!.cleanup(await checkedTask(task, run, thumbprint)),
      log: ({ line }) => log(printable(line)),
      warn: ({ line }) => platform.writeStderr(`acme-client: ${printable(line)}\n`),
      done: ({ result }) => settle.resolve(result),
      failed: ({ message }) => settle.reject(new Error(printable(message))),
    }, 'the network process').then(
      // Its channel closes as it ends: the failure says how it ended.
      () => whenEnded(netChild, 'network process'),
      (error: Error) => Promise.reject(new Error(`The network process (pid ${netChild.pid}) broke the protocol: ${error.message}`)),
    );
    const result = await Promise.race([outcome, keyEnded, netEnded, unlessFinished(served)]);
    finished = true;
    return result as NetIssued | NetRevoked;
  } finally {
    finished = true;
    await Promise.all(children.map(stop));
  }
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
