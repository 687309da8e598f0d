// What the CLI needs from its runtime, handed in by a thin entry per runtime (cli/main.ts for Node, cli/deno.ts for
// Deno). The cron run that finds nothing due uses only the first part; the rest is loaded when a certificate changes.

import type { CaaResolver } from '../core/caa.ts';
import type { DnsUpdateResponderOptions } from '../core/dns-update.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import type { ClosingFetch, StandaloneResponder } from '../adapters/_shared.ts';
import type { HeldLock, LockOptions } from '../adapters/_lock.ts';
import type { CallerChallengeType, ListenAddress } from './args.ts';

export interface CliPlatform {
  /** The command-line arguments after the program's name. */
  readonly args: readonly string[];
  /** "Node.js v20.19.0", "Deno 2.9.6": named in the User-Agent (RFC 8555 §6.1). */
  readonly runtime: string;
  /**
   * A file's text, or undefined when it does not exist. Other failures throw an error with the runtime's `code`
   * ("EISDIR", "EACCES"), which both runtimes set alike. Synchronous: the files are small, and in Node an
   * asynchronous read would start the thread pool, which costs the cron path time and memory.
   */
  readTextFile(path: string): string | undefined;
  /** The names in a folder; none when it is missing or cannot be read. Synchronous for the same reason. */
  listNamesSync(path: string): string[];
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  /** Ends the process with this status once stdout and stderr are written out, whatever connections are still open. */
  exit(code: number): void;
  /** The part that only a run that talks to a CA needs. */
  load(): Promise<CliRunPlatform>;
  /** Whether this process runs as root, and so must start the network process as another user. */
  isRoot(): boolean;
  /**
   * Starts the key process or the network process (cli/children.ts) with no more power than `spec` grants. Here and
   * not in load(), so that a run starts them before it loads the rest.
   */
  startChild(spec: ChildSpec): Promise<ChildHandle>;
  /**
   * What stderr says of a failure the runtime can say more about, `line` being the failure in one line: Deno names a
   * permission it was not given and the `deno run` line that grants what the command line needs. Undefined: the line.
   */
  describeFailure?(error: unknown, line: string): Promise<string | undefined>;
}

export interface CliRunPlatform {
  isDirectory(path: string): Promise<boolean>;
  /** The names in a folder (--renew-all reads the tree). */
  listDirectory(path: string): Promise<string[]>;
  /** mkdir -p; `mode` applies to the folders it creates. */
  makeDirectories(path: string, mode: number): Promise<void>;
  /** Temporary file in the same folder, fsync, rename: a crash leaves the old file or the new one, never part of one. */
  writeFileAtomic(path: string, data: string, mode: number): Promise<void>;
  /** writeFileAtomic only where nothing is yet: false, with nothing written, when the file exists. */
  writeNewFile(path: string, data: string, mode: number): Promise<boolean>;
  removeFileIfExists(path: string): Promise<boolean>;
  /** rename(2); the caller syncs the folder. */
  renameFile(from: string, to: string): Promise<void>;
  /** fsync(2) of a folder, so renames and removals in it survive a crash. */
  syncDirectory(path: string): Promise<void>;
  /** A file's last modification, undefined when it is gone. */
  modifiedTime(path: string): Promise<Date | undefined>;
  /** This process's ID, and whether another still runs (undefined: the runtime cannot tell). */
  readonly pid: number;
  isProcessAlive(pid: number): boolean | undefined;
  /** One run at a time per certificate set: see adapters/_lock.ts. */
  acquireFileLock(path: string, options?: LockOptions): Promise<HeldLock>;
  /** A named moment of a run (e.g. "journal-written"), where a crash test may stop it: see withTestHooks. */
  checkpoint(name: string): void;
  webrootResponder(dir: string): ChallengeResponder;
  /** Rejects with "Cannot listen on HOST:PORT for http-01: …" when it cannot listen. */
  startStandaloneResponder(address: ListenAddress): Promise<StandaloneResponder>;
  /** --standalone-tls: rejects with "Cannot listen on HOST:PORT for tls-alpn-01: …" when it cannot listen. */
  startTlsAlpnResponder(address: ListenAddress): Promise<StandaloneResponder>;
  /** -t over standard input and output. */
  callerResponder(type: CallerChallengeType): ChallengeResponder & { close(): void };
  /** dns-01 by RFC 2136 updates (--dns-update), whose code loads only then. */
  dnsUpdateResponder(options: DnsUpdateResponderOptions): Promise<ChallengeResponder>;
  /**
   * --standalone or --standalone-tls in a split run: binds the port now, while this process may (root, for ports
   * below 1024), so that a taken port is bad input, and returns it for the network process to serve on.
   */
  bindListener(type: StandaloneType, address: ListenAddress): Promise<BoundListener>;
}

/** The challenge types that acme-client's own servers answer (--standalone, --standalone-tls). */
export type StandaloneType = 'http-01' | 'tls-alpn-01';

/** A port that the parent bound for the network process (bindListener). */
export interface BoundListener {
  readonly type: StandaloneType;
  readonly address: ListenAddress;
  /** The listening socket that ChildHandle.handOver sends to the network process; none where that process binds it again (Deno). */
  readonly handle?: unknown;
  /** Closes this process's copy of the socket; once it is handed over, only the network process holds it. */
  close(): void;
}

/** What one of acme-client's own child processes may do: the runtime's permission flags are made from this. */
export interface ChildSpec {
  role: 'key' | 'net';
  /** Its arguments: no secret, since any user can read them in ps(1). */
  args: string[];
  /** Files and folders it may read, besides its own code. */
  read: string[];
  /** Folders it may write in. */
  write: string[];
  /** HOST:PORT it may connect to; Node 20's permission model has no network rule, so only Deno enforces it. */
  net: string[];
  /** The user it runs as, when this process is root. */
  user?: { uid: number; gid: number };
  /** The network process will serve --standalone's or --standalone-tls's port (Node: over a channel for the socket). */
  listens?: boolean;
}

/** A running child: its standard output as it comes, a way to write to its standard input, its end. */
export interface ChildHandle {
  readonly pid: number;
  readonly output: AsyncIterable<Uint8Array>;
  write(bytes: Uint8Array): void;
  /** Closes its standard input: the child ends once what it was asked is answered. */
  endInput(): void;
  /** Resolves once it has ended, with how: "exited with status 1", "was killed by SIGKILL". */
  readonly exited: Promise<string>;
  /** The last line it wrote on standard error, for the message when it fails. */
  lastErrorLine(): string | undefined;
  kill(): void;
  /** Node, for a child that `listens`: sends it the listening socket and closes this process's copy. */
  handOver?(listener: BoundListener): void;
}

/** What every child process gets from its runtime entry: its arguments and the channel to the parent. */
export interface ChildChannel extends Pick<CliPlatform, 'writeStderr' | 'runtime'> {
  /** Its arguments (cli/privsep.ts ChildSpec). */
  readonly args: readonly string[];
  /** Its standard input, the channel from the parent. */
  readonly input: AsyncIterable<Uint8Array>;
  /** Writes to its standard output, the channel to the parent. */
  write(bytes: Uint8Array): void;
}

/** The key process's runtime (cli/key-process.ts): the key files, and nothing that connects. */
export interface KeyChildPlatform extends ChildChannel, Pick<CliPlatform, 'readTextFile'>,
  Pick<CliRunPlatform, 'writeFileAtomic' | 'writeNewFile' | 'makeDirectories'> {}

/** The network process's runtime (cli/net-process.ts): connections, and the file calls its test hook tries. */
export interface NetChildPlatform extends ChildChannel, Pick<CliPlatform, 'readTextFile'>, Pick<CliRunPlatform, 'writeFileAtomic'> {
  /** A fetch that verifies TLS against the runtime's trust store, sends this User-Agent, and keeps its connections until close(). */
  createFetch(userAgent: string): ClosingFetch;
  /** CAA lookups (RFC 8659): the system's resolvers, or one DNS server given as "host:port". */
  caaResolver(server?: string): CaaResolver;
  /** ACME_CLIENT_TEST_HOOK, which only the tests set (cli/net-process.ts). */
  readonly testHook?: string;
  /** Resolves when the process receives SIGUSR2 (SIGUSR1 starts Node's inspector): a test that paused the run lets it go on. */
  waitForSignal(): Promise<void>;
  /**
   * The server on the port that its parent bound (bindListener): handed over (Node), or bound again (Deno). Undefined
   * where this process may not bind it: the parent serves it then.
   */
  standaloneResponder(type: StandaloneType, address: ListenAddress): Promise<StandaloneResponder | undefined>;
}

/**
 * What the crash and lock tests set in a run's environment: ACME_CLIENT_TEST_PAUSE_AT, a checkpoint name where the run
 * stops (says so on stderr and blocks the whole process, so the test kills it right there), and
 * ACME_CLIENT_TEST_LOCK_WAIT_MS, a shorter wait for a set's lock than the 30 s a real run waits.
 */
export function withTestHooks(
  environment: (name: string) => string | undefined, writeStderr: (text: string) => void, acquire: CliRunPlatform['acquireFileLock'],
): Pick<CliRunPlatform, 'checkpoint' | 'acquireFileLock'> {
  const pauseAt = environment('ACME_CLIENT_TEST_PAUSE_AT');
  const waitMs = Number(environment('ACME_CLIENT_TEST_LOCK_WAIT_MS')) || undefined;
  return {
    checkpoint(name) {
      if (name !== pauseAt) return;
      writeStderr(`acme-client: paused at ${name}\n`);
      // Synchronous on purpose: no other callback may run (and write) while the test kills the process.
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    },
    acquireFileLock: (path, options) => acquire(path, { ...(waitMs !== undefined && { waitMs }), ...options }),
  };
}

/** strerror(3)'s words for the errors a file operation meets, so that Node and Deno, which agree on codes only, say the same. */
const FILE_ERROR_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EEXIST: 'file exists',
  EIO: 'input/output error',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device',
  ENOTDIR: 'not a directory',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

/** Why a file operation failed, e.g. "EISDIR: is a directory"; errors without a known code keep their message. */
export function fileErrorReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const text = typeof code === 'string' ? FILE_ERROR_TEXT[code] : undefined;
  return text ? `${code}: ${text}` : error instanceof Error ? error.message : String(error);
}

/** The platform's readTextFile, failing with "Cannot read NAME: REASON"; `name` is how the message calls the file. */
export function readText(platform: Pick<CliPlatform, 'readTextFile'>, path: string, name = path): string | undefined {
  try {
    return platform.readTextFile(path);
  } catch (error) {
    throw new Error(`Cannot read ${name}: ${fileErrorReason(error)}`, { cause: error });
  }
}
