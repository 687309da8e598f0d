// Node's side of what the core and the CLI need from a platform: atomic files with the right modes, http-01
// responders (a webroot folder, or a built-in server), a tls-alpn-01 server (node-tls-alpn.ts) and the -t line
// protocol on stdio. No protocol logic here.

import { chmod, link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import type { Agent, IncomingMessage } from 'node:http';
import type { Interface as LineReader } from 'node:readline';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ChallengeTask } from '../core/resources.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { listenOn, type ListenTarget } from './_node-listen.ts';
import { acquireLock, temporaryName, type HeldLock, type LockFiles, type LockOptions } from './_lock.ts';
import {
  http01Answers, lineProtocolResponder, parentsOfNewDirectories, webrootResponderOver, type CallerResponder, type ClosingFetch, type StandaloneResponder,
} from './_shared.ts';

/**
 * tls-alpn-01 answered by a TLS server of our own (adapters/node-tls-alpn.ts), whose certificate code loads only
 * when it starts.
 *
 * @example
 * ```ts
 * import { startTlsAlpnResponder } from "@acmets/acme-client/node";
 * const responder = await startTlsAlpnResponder({ port: 443 });
 * await responder.close();
 * ```
 */
export async function startTlsAlpnResponder(address: ListenTarget): Promise<StandaloneResponder> {
  return (await import('./node-tls-alpn.ts')).startTlsAlpnResponder(address);
}
export type { ListenTarget } from './_node-listen.ts';
export { LockBusyError, type HeldLock, type LockHolder, type LockOptions } from './_lock.ts';
export {
  CERT_FILE_MODE, CHALLENGE_FILE_MODE, HTTP01_PATH_PREFIX, KEY_DIR_MODE, KEY_FILE_MODE, PUBLIC_DIR_MODE, type CallerResponder, type ClosingFetch,
  type StandaloneResponder,
} from './_shared.ts';

const MAX_REDIRECTS = 5;

/** The headers of a response, read as Fetch's Headers reads them: names case-insensitive, repeats joined by ", ". */
class ResponseHeaders {
  readonly #values = new Map<string, string>();

  constructor(raw: readonly string[]) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const earlier = this.#values.get(name);
      this.#values.set(name, earlier === undefined ? raw[i + 1]! : `${earlier}, ${raw[i + 1]}`);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  forEach(callback: (value: string, name: string) => void): void {
    this.#values.forEach(callback);
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

function requestHeaders(init: HeadersInit | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!init) return headers;
  const pairs = Symbol.iterator in init ? (init as Iterable<[string, string]>) : Object.entries(init);
  for (const [name, value] of pairs) headers[name.toLowerCase()] = value;
  return headers;
}

function streamOf(message: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      message.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
      message.on('end', () => controller.close());
      message.on('error', (error) => controller.error(error));
    },
    cancel() {
      message.destroy();
    },
  });
}

/**
 * A TypeError as fetch's own, with a code no network failure has, so that the core's retry policy does not take
 * the adapter's refusal for a connection that failed. Node's socket errors keep their codes (ECONNRESET for
 * "socket hang up" and for an answer cut off, "aborted"), from which the core words its message.
 */
function refusal(message: string, code: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

/**
 * A `fetch` for the core over node:http(s), for a process that makes a handful of requests and exits. Node's own
 * fetch, Headers and Response are undici, and touching any of them compiles its WebAssembly HTTP parser (+11 MB
 * for `new Headers()` alone). A 3-name issuance peaked at 91 MB RSS with the global fetch and at 58 MB with this
 * one (measured with bench/issuance.ts). So the responses are the part of Response that the core reads: status,
 * statusText, headers (get, has, iteration) and a streamed body, which keeps the core's size bound working. TLS is verified as fetch verifies it, against Node's
 * roots plus NODE_EXTRA_CA_CERTS; `redirect: "error"` is honoured (signed POSTs, RFC 8555 §6.4); every request
 * carries a User-Agent (RFC 8555 §6.1). Its keep-alive connections stay open for the next request until close().
 */
export function createNodeFetch(userAgent: string): ClosingFetch {
  // node:http and node:https load with the first request of their protocol: a process that never fetches (the parent
  // of a split issuance, cli/privsep.ts, which only writes files) does not pay for them.
  const transports: Partial<Record<'https:' | 'http:', Promise<{ send: typeof import('node:http').request; agent: Agent }>>> = {};
  const agents: Agent[] = [];
  const transportFor = (protocol: 'https:' | 'http:') =>
    (transports[protocol] ??= (protocol === 'https:' ? import('node:https') : import('node:http')).then(({ request, Agent: KeepAlive }) => {
      const agent = new KeepAlive({ keepAlive: true });
      agents.push(agent);
      return { send: request, agent };
    }));
  const once = async (url: URL, init: RequestInit): Promise<IncomingMessage> => {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw refusal(`Cannot fetch ${url.href}: only http and https are supported`, 'ERR_INVALID_PROTOCOL');
    const body = init.body ?? undefined;
    if (body !== undefined && typeof body !== 'string') throw refusal('Cannot fetch: only string bodies are supported', 'ERR_INVALID_ARG_TYPE');
    const headers = requestHeaders(init.headers);
    headers['user-agent'] ??= userAgent;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const { send, agent } = await transportFor(url.protocol);
    return new Promise((resolve, reject) => {
      const request = send(url, { method: init.method ?? 'GET', headers, agent, ...(init.signal && { signal: init.signal }) }, resolve);
      request.on('error', reject);
      request.end(body);
    });
  };
  const fetch = async (input: string | URL | { url: string }, init: RequestInit = {}) => {
    let url = new URL(typeof input === 'object' && 'url' in input ? input.url : input);
    for (let redirects = 0; ; redirects++) {
      const message = await once(url, init);
      const status = message.statusCode ?? 0;
      const location = message.headers.location;
      if (status >= 300 && status < 400 && location && init.redirect !== 'manual') {
        message.resume();
        if (init.redirect === 'error') throw refusal(`Cannot fetch ${url.href}: it redirects to ${location}, and redirects are refused`, 'ERR_FETCH_REDIRECT');
        if (redirects >= MAX_REDIRECTS) throw refusal(`Cannot fetch ${url.href}: more than ${MAX_REDIRECTS} redirects`, 'ERR_FETCH_REDIRECT');
        url = new URL(location, url);
        continue;
      }
      // The Fetch standard's null-body statuses, and HEAD, have no body.
      const hasBody = init.method !== 'HEAD' && ![101, 204, 205, 304].includes(status);
      if (!hasBody) message.resume();
      return { status, statusText: message.statusMessage ?? '', ok: status >= 200 && status < 300, headers: new ResponseHeaders(message.rawHeaders), body: hasBody ? streamOf(message) : null };
    }
  };
  const close = () => agents.forEach((agent) => agent.destroy());
  return Object.assign(fetch, { close }) as unknown as ClosingFetch;
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT';

/** A file's text, or undefined when it does not exist; any other failure (permissions, a folder) throws. */
export async function readTextFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** mkdir -p; `mode` applies to the folders it creates, and each new folder's entry is synced to disk. */
export async function makeDirectories(path: string, mode: number): Promise<void> {
  const absolute = resolve(path);
  const first = await mkdir(absolute, { recursive: true, mode });
  if (first !== undefined) for (const dir of parentsOfNewDirectories(first, absolute)) await syncDirectory(dir);
}

/** fsync(2) of a folder: renames and removals in it are on disk once it resolves. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A temporary file beside `path` that holds `data` with exactly `mode` (whatever the umask), synced to disk. */
async function writeTemporary(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temporary = join(dirname(path), temporaryName(basename(path), process.pid));
  const handle = await open(temporary, 'wx', mode);
  try {
    // The umask may have taken bits away; by path, since Node's permission model refuses fchmod (the key process).
    await chmod(temporary, mode);
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  } finally {
    await handle.close();
  }
  return temporary;
}

/**
 * Writes a whole file or nothing: a temporary file in the same folder, fsync, rename over the target, fsync the
 * folder. A crash leaves the old file or the new one, never part of one; a reader never sees a partial file. A
 * temporary file that a crash leaves is named by temporaryName, so a later run can tell it and remove it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temporary = await writeTemporary(path, data, mode);
  try {
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Like writeFileAtomic, but only where nothing is yet: false, and nothing written, when `path` exists (or when its
 * temporary file was removed meanwhile, see below). A new key is written this way, so a key that another process
 * wrote a moment ago (and the CA may know) is never replaced.
 */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  const temporary = await writeTemporary(path, data, mode);
  try {
    await link(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    // The holder of a set's lock removes the files of other runs' lock attempts (cli/cert-set.ts): a caller then
    // tries again, as it does when the file exists.
    if (isMissing(error) && !(await stat(temporary).then(() => true, () => false))) return false;
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
  return true;
}

/** A file's last modification, undefined when it is gone. */
export function modifiedTime(path: string): Promise<Date | undefined> {
  return stat(path).then((info) => info.mtime, () => undefined);
}

/** false when no process has this PID, true when one runs (ours to signal or not), undefined when unknown. */
export function isProcessAlive(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ESRCH' ? false : code === 'EPERM' ? true : undefined;
  }
}

const lockFiles: LockFiles = {
  pid: process.pid,
  createExclusive: (path, text) => writeNewFile(path, text, 0o644),
  readTextFileIfExists,
  removeFileIfExists,
  modifiedTime,
  touch: (path) => utimes(path, new Date(), new Date()).catch(() => undefined),
  unrefTimer: (timer) => (timer as NodeJS.Timeout).unref(),
  isProcessAlive,
};

/** The lock at `path` (see acquireLock in adapters/_lock.ts): one process at a time, a gone holder taken over. */
export function acquireFileLock(path: string, options?: LockOptions): Promise<HeldLock> {
  return acquireLock(path, lockFiles, options);
}

export async function removeFileIfExists(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** http-01 through a web server that serves `dir` at /.well-known/acme-challenge/ (acme-client(1)'s -C). */
export function webrootResponder(dir: string): ChallengeResponder {
  return webrootResponderOver(dir, { writeFileAtomic, removeFileIfExists });
}

/**
 * http-01 answered by a server of our own on [host:]port, or on the socket of a server that listens already. It
 * listens at once, so a port already taken is reported before anything is written; close() ends it together with the
 * keep-alive connections of the CA.
 */
export async function startStandaloneResponder(address: ListenTarget): Promise<StandaloneResponder> {
  const answers = http01Answers();
  const { createServer } = await import('node:http');
  const server = createServer((request, response) => {
    const answer = answers.answer(request.method ?? '', (request.url ?? '').split('?')[0]!);
    if (answer === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer) });
    response.end(request.method === 'HEAD' ? undefined : answer);
  });
  const port = await listenOn(server, address, 'http-01');
  return {
    types: ['http-01'],
    port,
    present: answers.present,
    cleanup: answers.cleanup,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * acme-client(1)'s -t over Node streams, standard input and output by default: see lineProtocolResponder. The
 * input is read only from the first exchange on, and close() lets the process exit.
 */
export function callerResponder(type: ChallengeTask['type'], input: Readable = process.stdin, output: Writable = process.stdout): CallerResponder {
  let reader: LineReader | undefined;
  let lines: AsyncIterator<string> | undefined;
  return lineProtocolResponder(type, {
    write: (line) => output.write(line),
    async nextLine() {
      if (!reader) {
        reader = (await import('node:readline')).createInterface({ input, crlfDelay: Infinity });
        lines = reader[Symbol.asyncIterator]();
      }
      const next = await lines!.next();
      return next.done ? undefined : next.value;
    },
    close() {
      reader?.close();
      input.destroy();
    },
  });
}
