// Node's side of what the core and the CLI need from a platform: atomic files with the right modes, http-01
// responders (a webroot folder, or a built-in server) and the -t line protocol on stdio. No protocol logic here.

import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { createServer, request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ChallengeTask } from '../core/client.ts';
import type { ChallengeResponder } from '../core/flow.ts';

export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o444;
/** The web server, usually another user, must read the response. */
export const CHALLENGE_FILE_MODE = 0o644;
export const KEY_DIR_MODE = 0o700;
export const PUBLIC_DIR_MODE = 0o755;

/** RFC 8555 §8.3: http-01 answers at this path plus the token. */
export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';

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
 * A `fetch` for the core over node:http(s), for a process that makes a handful of requests and exits. Node's own
 * fetch, Headers and Response are undici, and touching any of them compiles its WebAssembly HTTP parser (+11 MB
 * for `new Headers()` alone). A 3-name issuance peaked at 91 MB RSS with the global fetch and at 58 MB with this
 * one (measured with bench/issuance.ts). So the responses are the part of Response that the core reads: status,
 * statusText, headers (get, has, iteration) and a streamed body, which keeps the core's size bound working. TLS is verified as fetch verifies it, against Node's
 * roots plus NODE_EXTRA_CA_CERTS; `redirect: "error"` is honoured (signed POSTs, RFC 8555 §6.4); every request
 * carries a User-Agent (RFC 8555 §6.1).
 */
export function createNodeFetch(userAgent: string): typeof fetch {
  const agents = { 'https:': new HttpsAgent({ keepAlive: true }), 'http:': new HttpAgent({ keepAlive: true }) };
  const once = (url: URL, init: RequestInit): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`Cannot fetch ${url.href}: only http and https are supported`);
      if (init.body != null && typeof init.body !== 'string') throw new TypeError('Cannot fetch: only string bodies are supported');
      const headers = requestHeaders(init.headers);
      headers['user-agent'] ??= userAgent;
      if (init.body != null) headers['content-length'] = String(Buffer.byteLength(init.body));
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const request = send(url, { method: init.method ?? 'GET', headers, agent: agents[url.protocol], ...(init.signal && { signal: init.signal }) }, resolve);
      request.on('error', reject);
      request.end(init.body ?? undefined);
    });
  return (async (input: string | URL | { url: string }, init: RequestInit = {}) => {
    let url = new URL(typeof input === 'object' && 'url' in input ? input.url : input);
    for (let redirects = 0; ; redirects++) {
      const message = await once(url, init);
      const status = message.statusCode ?? 0;
      const location = message.headers.location;
      if (status >= 300 && status < 400 && location && init.redirect !== 'manual') {
        message.resume();
        if (init.redirect === 'error') throw new TypeError(`Cannot fetch ${url.href}: it redirects to ${location}, and redirects are refused`);
        if (redirects >= MAX_REDIRECTS) throw new TypeError(`Cannot fetch ${url.href}: more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        continue;
      }
      // The Fetch standard's null-body statuses, and HEAD, have no body.
      const hasBody = init.method !== 'HEAD' && ![101, 204, 205, 304].includes(status);
      if (!hasBody) message.resume();
      return { status, statusText: message.statusMessage ?? '', ok: status >= 200 && status < 300, headers: new ResponseHeaders(message.rawHeaders), body: hasBody ? streamOf(message) : null };
    }
  }) as unknown as typeof fetch;
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

/** mkdir -p; `mode` applies to the folders it creates. */
export async function makeDirectories(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a whole file or nothing: a temporary file in the same folder, fsync, rename over the target, fsync the
 * folder. A crash leaves the old file or the new one, never part of one; a reader never sees a partial file.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${randomUUID()}.tmp`);
  const handle = await open(temporary, 'wx', mode);
  try {
    try {
      await handle.chmod(mode); // the umask may have taken bits away
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
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

/** The core refuses tokens that are not base64url (RFC 8555 §8.3); checked again here because a file is named after it. */
function tokenFileName(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new RangeError(`Refusing challenge token ${JSON.stringify(token)}: it is not base64url`);
  return token;
}

/** http-01 through a web server that serves `dir` at /.well-known/acme-challenge/ (acme-client(1)'s -C). */
export function webrootResponder(dir: string): ChallengeResponder {
  return {
    types: ['http-01'],
    async present(task: ChallengeTask) {
      await writeFileAtomic(join(dir, tokenFileName(task.token)), task.keyAuthorization, CHALLENGE_FILE_MODE);
    },
    async cleanup(task: ChallengeTask) {
      await removeFileIfExists(join(dir, tokenFileName(task.token)));
    },
  };
}

export interface StandaloneResponder extends ChallengeResponder {
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * http-01 answered by a server of our own on [host:]port. It listens at once, so a port already taken is
 * reported before anything is written; close() ends it together with the keep-alive connections of the CA.
 */
export async function startStandaloneResponder(address: { host?: string; port: number }): Promise<StandaloneResponder> {
  const answers = new Map<string, string>();
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]!;
    const answer = path.startsWith(HTTP01_PATH_PREFIX) ? answers.get(path.slice(HTTP01_PATH_PREFIX.length)) : undefined;
    if ((request.method !== 'GET' && request.method !== 'HEAD') || answer === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(answer) });
    response.end(request.method === 'HEAD' ? undefined : answer);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    const where = `${address.host ?? '*'}:${address.port}`;
    throw new Error(`Cannot listen on ${where} for http-01: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`);
  });
  return {
    types: ['http-01'],
    port: (server.address() as AddressInfo).port,
    async present(task) {
      answers.set(tokenFileName(task.token), task.keyAuthorization);
    },
    async cleanup(task) {
      answers.delete(task.token);
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export interface CallerResponder extends ChallengeResponder {
  /** Stops reading the input, so that the process can exit. */
  close(): void;
}

/**
 * acme-client(1)'s -t: the caller sets up each challenge. For each name, one line "TYPE NAME KEYAUTH" goes to
 * `output`, and the same line must come back on `input` before the next name is printed, so even authorizations
 * worked in parallel reach the caller one at a time. A different line, or the end of the input, fails the run.
 */
export function callerResponder(type: ChallengeTask['type'], input: Readable, output: Writable): CallerResponder {
  let lines: AsyncIterator<string> | undefined;
  let reader: ReturnType<typeof createInterface> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const exchange = async (task: ChallengeTask) => {
    const line = `${type} ${task.identifier.value} ${task.keyAuthorization}`;
    output.write(`${line}\n`);
    if (!reader) {
      reader = createInterface({ input, crlfDelay: Infinity });
      lines = reader[Symbol.asyncIterator]();
    }
    const next = await lines!.next();
    if (next.done) throw new Error(`Cannot go on with ${task.identifier.value}: standard input ended before the line "${line}" came back`);
    if (next.value !== line) {
      const got = next.value.length > 120 ? `${next.value.slice(0, 120)}…` : next.value;
      throw new Error(`Cannot go on with ${task.identifier.value}: expected the line "${line}" back on standard input, got ${JSON.stringify(got)}`);
    }
  };

  return {
    types: [type],
    present(task) {
      const turn = queue.then(() => exchange(task));
      queue = turn.catch(() => undefined);
      return turn;
    },
    async cleanup() {
      // The caller removes what it set up; it knows when, from our exit.
    },
    close() {
      reader?.close();
      input.destroy();
    },
  };
}
