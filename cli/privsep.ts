// Privilege separation, as acme-client(1) does it: this process (the parent) starts the key process, which holds the
// keys and talks to nobody but this process, and the network process, which talks to the CA, holds no key and runs
// unprivileged. The parent passes signing requests between them without reading them, answers challenges through its
// responder, and installs what the network process hands back; it never parses what the CA sent. One session serves
// every set of a run (--renew-all and --renew-list have many), so its sets share the children, the CA's directory and
// connections, and one account per account key.

import { KEY_DIR_MODE } from '../adapters/_shared.ts';
import type { ChallengeTask, ChallengeType } from '../core/resources.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { dns01TxtValue, type ExternalAccountBinding } from '../core/jws.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { RpcClient, lineChannel, serveRpc } from '../core/_line-rpc.ts';
import type { RunChildren } from './children.ts';
import type { KeyFileSpec } from './key-process.ts';
import type { NetIssued, NetJob, NetRevoked, NetSetJob } from './net-process.ts';
import type { RenewalAsker } from './ari-query.ts';
import type { Log } from './set-files.ts';
import type { ChildHandle, CliPlatform, CliRunPlatform } from './platform.ts';

/** RFC 8555 §8.1, as core/client.ts checks it: a token names files and URLs, so the parent checks it again. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,255}$/;

/** What a session of the split needs before its first set: its children, already started with what they are told once. */
export interface SplitSessionSpec {
  /** The key and network processes, started already (cli/children.ts); they end when the session closes. */
  children: RunChildren;
  /** The external account binding, handed to the key process alone: it adds it to the newAccount request it signs. */
  eab?: ExternalAccountBinding;
  /** Serves the standalone port in this process, for a network process that may not bind it (Deno, below 1024). */
  serveHere?: () => Promise<ChallengeResponder>;
  /** Lines of no one set (-vv's trace of the directory read). */
  log: Log;
}

/** One domain set, as the parent hands it to the session. */
export interface SplitSet {
  job: Omit<NetSetJob, 'id'>;
  /**
   * The set's keys and names when the key process was started without them (--renew-all, --renew-list): loaded, and
   * so checked, before its job is handed out.
   */
  keys?: { keys: Record<string, KeyFileSpec>; names: Record<string, string[]> };
  /** The folders of the keys this set may make (-n, -N), which this process makes before a new key is written there. */
  newKeyFolders?: { account?: string; domain?: string };
  /** Answers the set's challenges, unless the network process serves them on the standalone port. */
  responder?: ChallengeResponder;
  /** Runs once the set's keys are read and before its job is handed out; false ends it, nothing done. */
  beforeNetwork?: () => Promise<boolean>;
  log: Log;
  /** A line for stderr whatever -v says. */
  warn: (line: string) => void;
}

/** The split of one run: its sets go through the same two children, one after another or several at once (--jobs). */
export interface SplitSession {
  /** What the network process hands back for `set`, or undefined when its beforeNetwork said there is nothing to do. */
  run(set: SplitSet): Promise<NetIssued | NetRevoked | undefined>;
  /** Has the network process ask the CA for a certificate's renewal window (cli/ari-query.ts). */
  ask: RenewalAsker;
  /** Tells the network process that no set is left, and ends both children; may be called more than once. */
  close(): Promise<void>;
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

/** One line, printable: what a child asks the parent to print cannot forge other lines or move the cursor. */
function printable(value: unknown): string {
  return String(value).replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/**
 * The challenge as the parent will act on it, rebuilt from the few fields it needs, each checked: the token (which
 * names a file), a type the responder answers, and one of the set's names. The key authorization comes from the
 * account key's thumbprint (RFC 8555 §8.1), so the network process cannot have anything else served or published.
 */
async function checkedTask(value: unknown, names: string[], responder: ChallengeResponder | undefined, thumbprint: string): Promise<ChallengeTask> {
  const task = (value ?? {}) as Partial<ChallengeTask>;
  if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) throw new Error('the challenge token is not base64url of 22 to 255 characters');
  if (!responder?.types.includes(task.type as ChallengeType)) throw new Error(`the challenge type ${printable(task.type)} is not one this run answers`);
  const identifier = normalizeIdentifiers(names).find((name) => name.type === task.identifier?.type && name.value.replace(/^\*\./, '') === task.identifier?.value);
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

/** A job the network process works on: where its lines go, how it settles, and for a set, the set and its account key's thumbprint. */
interface HandedJob {
  log: Log;
  warn: (line: string) => void;
  settle: { resolve(value: unknown): void; reject(error: Error): void };
  set?: SplitSet;
  thumbprint?: string;
}

/**
 * Opens the split of a run over `spec.children`. A child that ends or breaks the protocol before close() fails every
 * set still running, and every set after, with one line that names it.
 */
export function openSplitSession(platform: CliPlatform & CliRunPlatform, spec: SplitSessionSpec): SplitSession {
  const { key: keyChild, net: netChild } = spec.children;
  let closing = false;
  // Rejections of a session that is closing are no one's failure.
  const unlessClosing = (ended: Promise<never>) => ended.catch((error) => (closing ? new Promise<never>(() => {}) : Promise.reject(error)));
  const keyEnded = keyChild ? unlessClosing(whenEnded(keyChild, 'key process')) : new Promise<never>(() => {});
  const keys = keyChild && new RpcClient(channelOf(keyChild, 'the key process'), 'the key process');
  // A call that fails because the key process ended fails with how it ended, which names it.
  const forward = (op: string) => (params: Record<string, unknown>) => {
    if (!keys) return Promise.reject(new Error('this run signs nothing: it only asks for renewal windows'));
    return Promise.race([keys.call(op, params).catch((error) => (keys.closed ? keyEnded : Promise.reject(error))), keyEnded]);
  };
  let failSession!: (error: Error) => void;
  const sessionFailed = new Promise<never>((_, reject) => (failSession = reject));
  const handed = new Map<number, HandedJob>();
  const jobs: (NetJob | null)[] = [];
  const waiting: ((job: NetJob | null) => void)[] = [];
  const handOut = (job: NetJob | null) => (waiting.length ? waiting.shift()!(job) : jobs.push(job));
  const jobOf = (id: unknown): HandedJob => {
    const entry = handed.get(id as number);
    if (!entry) throw new Error(`it named ${printable(JSON.stringify(id))}, which is no job it was given`);
    return entry;
  };
  const setOf = (id: unknown): Required<HandedJob> => {
    const entry = jobOf(id);
    if (!entry.set) throw new Error(`it named ${printable(JSON.stringify(id))}, which is no set it was given`);
    return entry as Required<HandedJob>;
  };
  // Nothing it asks of the key process, and no challenge, is served before its first set is handed out: until then
  // its keys may be unread, or a bad key file may be about to end the run.
  const afterFirstSet = <T>(serve: (params: Record<string, unknown>) => T) => (params: Record<string, unknown>) => {
    if (handed.size === 0) throw new Error('it asked before it was given a set');
    return serve(params);
  };
  let sessionResponder: ChallengeResponder | undefined;
  /** The set's responder acts on the challenge as this process rebuilds it. */
  const answer = (op: 'present' | 'cleanup') => afterFirstSet(async ({ id, task }) => {
    const { set, thumbprint } = setOf(id);
    const responder = set.responder ?? sessionResponder;
    const checked = await checkedTask(task, set.job.names, responder, thumbprint);
    return responder![op](checked);
  });
  const served = serveRpc(channelOf(netChild, 'the network process'), {
    job: () => (jobs.length ? jobs.shift()! : new Promise<NetJob | null>((resolve) => waiting.push(resolve))),
    keys: afterFirstSet(() => forward('keys')({})),
    sign: afterFirstSet(forward('sign')),
    csr: afterFirstSet(forward('csr')),
    persist: afterFirstSet(async ({ id, key }) => {
      const { set } = setOf(id);
      // A new key's folder is made here, by the process that may: making it syncs its parent, and the key process may
      // touch nothing above the folder.
      const folder = set.newKeyFolders?.[key === set.job.domainKey ? 'domain' : 'account'];
      if (folder !== undefined) await platform.makeDirectories(folder, KEY_DIR_MODE);
      const line = await forward('persist')({ key });
      if (typeof line === 'string') set.log(printable(line));
      // The crash tests stop the run here (cli/platform.ts withTestHooks), as they do a single process.
      platform.checkpoint(`${key === set.job.domainKey ? 'domain' : 'account'}-key-written`);
      return line;
    }),
    checkpoint: ({ name }) => platform.checkpoint(`${['account', 'order', 'certificate'].includes(name as string) ? name : 'unknown'}-done`),
    serve: async () => {
      if (sessionResponder || !spec.serveHere) throw new Error('this run has no port for the parent to serve');
      sessionResponder = await spec.serveHere();
    },
    present: answer('present'),
    cleanup: answer('cleanup'),
    log: ({ id, line }) => (id === undefined ? spec.log : jobOf(id).log)(printable(line)),
    warn: ({ id, line }) => (id === undefined ? (text: string) => platform.writeStderr(`acme-client: ${text}\n`) : jobOf(id).warn)(printable(line)),
    done: ({ id, result }) => jobOf(id).settle.resolve(result),
    failed: ({ id, message }) => (id === undefined ? failSession : jobOf(id).settle.reject)(new Error(printable(message))),
  }, 'the network process').then(
    // Its channel closes as it ends: the failure says how it ended.
    () => whenEnded(netChild, 'network process'),
    (error: Error) => Promise.reject(new Error(`The network process (pid ${netChild.pid}) broke the protocol: ${error.message}`)),
  );
  const broken = Promise.race([keyEnded, unlessClosing(whenEnded(netChild, 'network process')), unlessClosing(served), unlessClosing(sessionFailed)]);
  broken.catch(() => {}); // raced by each set
  let bound: Promise<void> | undefined;
  let nextId = 1;
  let closed: Promise<void> | undefined;
  /** Hands out `job` and waits for its outcome, or for the session to break. */
  const carryOut = (job: Omit<NetJob, 'id'>, entry: Omit<HandedJob, 'settle'>): Promise<unknown> => {
    const id = nextId++;
    const outcome = new Promise((resolve, reject) => handed.set(id, { ...entry, settle: { resolve, reject } }));
    handOut({ ...job, id } as NetJob);
    return Promise.race([outcome, broken]);
  };

  return {
    async run(set) {
      const prepared = (async () => {
        // One set's keys were loaded at the key process's start; every other set's are loaded now.
        await (set.keys ? forward('add')(set.keys) : forward('check')({}));
        if (spec.eab) await (bound ??= forward('eab')({ ...spec.eab }).then(() => {}));
        // The key process computes it: this process then needs no WebCrypto unless it answers a challenge itself.
        const thumbprint = (await forward('thumbprint')({ key: set.job.accountKey })) ?? '';
        if (typeof thumbprint !== 'string') throw new Error('The key process answered with no thumbprint');
        return set.beforeNetwork && !(await set.beforeNetwork()) ? undefined : thumbprint;
      })();
      const thumbprint = await Promise.race([prepared, broken]);
      if (thumbprint === undefined) return undefined;
      return (await carryOut(set.job, { set, thumbprint, log: set.log, warn: set.warn })) as NetIssued | NetRevoked;
    },
    ask: (question, log) => carryOut({ mode: 'ari', ...question }, { log, warn: (line) => platform.writeStderr(`acme-client: ${line}\n`) }),
    close() {
      closed ??= (async () => {
        closing = true;
        handOut(null);
        await spec.children.stop();
      })();
      return closed;
    },
  };
}
