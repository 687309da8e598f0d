/**
 * Deno's side of what the ACME core needs from a platform, on Deno's built-ins only: atomic files with the right
 * modes, keys kept on disk, http-01 responders (a webroot folder, or a server on `Deno.serve`), a tls-alpn-01 server,
 * dns-01 through a callback or RFC 2136 updates, acme-client(1)'s -t line protocol on stdin and stdout, CAA lookups
 * and a fetch with a User-Agent.
 *
 * @example Issue a certificate with dns-01 answered through a DNS provider's HTTP API
 * ```ts
 * import { AcmeClient, issueCertificate } from "@acmets/acme-client";
 * import { CERT_FILE_MODE, dnsResponder, loadOrCreateKey, writeFileAtomic } from "@acmets/acme-client/deno";
 *
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await loadOrCreateKey("account.pem"),
 * });
 * const issued = await issueCertificate({
 *   client,
 *   identifiers: ["example.com"],
 *   certificateKey: await loadOrCreateKey("privkey.pem"),
 *   account: { termsOfServiceAgreed: true },
 *   responder: dnsResponder({
 *     present: async (name, value) => { await fetch("https://dns.example/txt", { method: "PUT", body: JSON.stringify({ name, value }) }); },
 *     cleanup: async (name) => { await fetch(`https://dns.example/txt/${name}`, { method: "DELETE" }); },
 *   }),
 * });
 * await writeFileAtomic("fullchain.pem", issued.fullchainPem, CERT_FILE_MODE);
 * ```
 *
 * @module
 */

import type { CaaRecord, CaaResolver } from '../core/caa.ts';
import type { ChallengeType } from '../core/resources.ts';
import type { KeyType } from '../core/engine.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import { generateKey, type AcmeKey } from '../core/keys.ts';
import { cnameChainEnd, parseDnsServer } from '../core/_dns.ts';
import { basenamePath, dirnamePath, joinPath } from './_path.ts';
import { acquireLock, temporaryName, type HeldLock, type LockFiles, type LockOptions } from './_lock.ts';
import {
  KEY_DIR_MODE, KEY_FILE_MODE, http01Answers, lineProtocolResponder, listenError, parentsOfNewDirectories, webrootResponderOver, type CallerResponder,
  type ClosingFetch, type StandaloneResponder,
} from './_shared.ts';

export { startTlsAlpnResponder } from './deno-tls-alpn.ts';
export { LockBusyError, type HeldLock, type LockHolder, type LockOptions } from './_lock.ts';
export {
  CERT_FILE_MODE, CHALLENGE_FILE_MODE, HTTP01_PATH_PREFIX, KEY_DIR_MODE, KEY_FILE_MODE, PUBLIC_DIR_MODE, dnsResponder, type CallerResponder,
  type ClosingFetch, type DnsRecordApi, type StandaloneResponder,
} from './_shared.ts';
export { dnsUpdateResponder, parseTsigKey, type DnsUpdateResponderOptions, type TsigAlgorithm, type TsigKey } from './deno-dns-update.ts';

const encoder = new TextEncoder();

/**
 * Writes all of `text` to a synchronous Deno writer such as `Deno.stdout`, which may take a write in parts.
 *
 * @example
 * ```ts
 * import { writeAllSync } from "@acmets/acme-client/deno";
 * writeAllSync(Deno.stderr, "renewed\n");
 * ```
 */
export function writeAllSync(writer: { writeSync(bytes: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) written += writer.writeSync(bytes.subarray(written));
}

/**
 * A file's text, or undefined when it does not exist; any other failure (permissions, a folder) throws.
 *
 * @example
 * ```ts
 * import { readTextFileIfExists } from "@acmets/acme-client/deno";
 * const pem = await readTextFileIfExists("/etc/ssl/acme/cert.pem");
 * if (pem === undefined) console.log("no certificate yet");
 * ```
 */
export async function readTextFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Whether `path` is an existing folder; false when nothing is there, and other failures throw.
 *
 * @example
 * ```ts
 * import { isDirectory } from "@acmets/acme-client/deno";
 * if (!(await isDirectory("/var/www/acme"))) throw new Error("no webroot");
 * ```
 */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * mkdir -p; `mode` applies to the folders it creates, and each new folder's entry is synced to disk.
 *
 * @example
 * ```ts
 * import { KEY_DIR_MODE, makeDirectories } from "@acmets/acme-client/deno";
 * await makeDirectories("/etc/acme/example.com", KEY_DIR_MODE);
 * ```
 */
export async function makeDirectories(path: string, mode: number): Promise<void> {
  const absolute = path.startsWith('/') ? path : joinPath(Deno.cwd(), path);
  let first: string | undefined;
  for (let dir = absolute; !(await exists(dir)); dir = dirnamePath(dir)) first = dir;
  await Deno.mkdir(absolute, { recursive: true, mode });
  if (first === undefined) return;
  for (const dir of parentsOfNewDirectories(first, absolute)) {
    // A folder outside this run's --allow-read cannot be opened to sync; the new entries in it are left to the system.
    await syncDirectory(dir).catch((error) => {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
    });
  }
}

/** Whether something is at `path`; a folder this run may not look at (Deno's permissions) is taken to be there. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/**
 * Removes a file; resolves to false when there was none, and other failures throw.
 *
 * @example
 * ```ts
 * import { removeFileIfExists } from "@acmets/acme-client/deno";
 * await removeFileIfExists("/var/www/acme/old-token");
 * ```
 */
export async function removeFileIfExists(path: string): Promise<boolean> {
  try {
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * fsync(2) of a folder: renames and removals in it are on disk once it resolves.
 *
 * @example
 * ```ts
 * import { syncDirectory } from "@acmets/acme-client/deno";
 * await Deno.rename("cert.pem.new", "cert.pem");
 * await syncDirectory(".");
 * ```
 */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/** A temporary file beside `path` that holds `data` with exactly `mode` (whatever the umask), synced to disk. */
async function writeTemporary(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const temporary = joinPath(dirnamePath(path), temporaryName(basenamePath(path), Deno.pid));
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  const handle = await Deno.open(temporary, { write: true, createNew: true, mode });
  try {
    await Deno.chmod(temporary, mode);
    for (let written = 0; written < bytes.length;) written += await handle.write(bytes.subarray(written));
    await handle.sync();
  } catch (error) {
    await Deno.remove(temporary).catch(() => undefined);
    throw error;
  } finally {
    handle.close();
  }
  return temporary;
}

/**
 * Writes a whole file or nothing: a temporary file in the same folder, fsync, rename over the target, fsync the
 * folder. A crash leaves the old file or the new one, never part of one; a reader never sees a partial file.
 * The file gets exactly `mode` (KEY_FILE_MODE 0600, CERT_FILE_MODE 0444), whatever the umask. A temporary file that a
 * crash leaves starts with ".acme-client-tmp-" and the writer's PID, so a later run can tell it and remove it.
 *
 * @example
 * ```ts
 * import { CERT_FILE_MODE, writeFileAtomic } from "@acmets/acme-client/deno";
 * await writeFileAtomic("fullchain.pem", "-----BEGIN CERTIFICATE-----\n…", CERT_FILE_MODE);
 * ```
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temporary = await writeTemporary(path, data, mode);
  try {
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirnamePath(path));
}

/**
 * Like writeFileAtomic, but only where nothing is yet: false, and nothing written, when `path` exists. A new key is
 * written this way, so a key that another process wrote a moment ago (and the CA may know) is never replaced.
 *
 * @example
 * ```ts
 * import { KEY_FILE_MODE, writeNewFile } from "@acmets/acme-client/deno";
 * if (!(await writeNewFile("account.pem", "-----BEGIN PRIVATE KEY-----\n…", KEY_FILE_MODE))) console.log("kept the key already there");
 * ```
 */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<boolean> {
  const temporary = await writeTemporary(path, data, mode);
  try {
    await Deno.link(temporary, path);
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    // The holder of a set's lock removes the files of other runs' lock attempts (cli/cert-set.ts): a caller then
    // tries again, as it does when the file exists.
    if (error instanceof Deno.errors.NotFound && !(await Deno.stat(temporary).then(() => true, () => false))) return false;
    throw error;
  } finally {
    await Deno.remove(temporary).catch(() => undefined);
  }
  await syncDirectory(dirnamePath(path));
  return true;
}

/**
 * A file's last modification, undefined when it is gone.
 *
 * @example
 * ```ts
 * import { modifiedTime } from "@acmets/acme-client/deno";
 * console.log(await modifiedTime("/etc/ssl/acme/cert.pem"));
 * ```
 */
export function modifiedTime(path: string): Promise<Date | undefined> {
  return Deno.stat(path).then((info) => info.mtime ?? undefined, () => undefined);
}

/**
 * false when no process has this PID, true when one runs, undefined when Deno may not tell: signalling, even with
 * signal 0, needs --allow-run (and Deno reads /proc only with --allow-all).
 *
 * @example
 * ```ts
 * import { isProcessAlive } from "@acmets/acme-client/deno";
 * console.log(isProcessAlive(Deno.pid)); // true with --allow-run, else undefined
 * ```
 */
export function isProcessAlive(pid: number): boolean | undefined {
  try {
    // Signal 0 checks for the process without signalling it (kill(2)).
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? false : undefined;
  }
}

const lockFiles: LockFiles = {
  pid: Deno.pid,
  createExclusive: (path, text) => writeNewFile(path, text, 0o644),
  readTextFileIfExists,
  removeFileIfExists,
  modifiedTime,
  touch: (path) => Deno.utime(path, new Date(), new Date()).catch(() => undefined),
  unrefTimer: (timer) => Deno.unrefTimer(timer as unknown as number),
  isProcessAlive,
};

/**
 * Takes the lock at `path`, waiting up to `waitMs` (30 s) for a live holder, then failing with LockBusyError, which
 * names its PID. A lock whose process is gone is taken over (at once where its PID can be looked up, else after an
 * hour), safely when several processes find it at once.
 *
 * @example
 * ```ts
 * import { acquireFileLock } from "@acmets/acme-client/deno";
 * const lock = await acquireFileLock("/etc/ssl/acme/.acme-client.lock", { waitMs: 5000 });
 * try {
 *   // replace the certificate files
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export function acquireFileLock(path: string, options?: LockOptions): Promise<HeldLock> {
  return acquireLock(path, lockFiles, options);
}

/**
 * The key in a PEM (or JWK) file, or a new one of `type` written there with mode 0600 (its missing folders 0700),
 * synced to disk with its folders before it is returned, so it is there before any CA learns of it. The default type,
 * EC P-256, is quick to make and accepted by every CA for accounts and certificates.
 *
 * @example
 * ```ts
 * import { loadOrCreateKey } from "@acmets/acme-client/deno";
 * const accountKey = await loadOrCreateKey("account.pem");
 * const certificateKey = await loadOrCreateKey("privkey.pem", "rsa2048");
 * ```
 */
export async function loadOrCreateKey(path: string, type: KeyType = 'ec256'): Promise<AcmeKey> {
  const text = await readTextFileIfExists(path);
  if (text !== undefined) {
    try {
      return await importKey(text);
    } catch (error) {
      throw new Error(`Cannot use key ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  const key = await generateKey(type);
  await makeDirectories(dirnamePath(path), KEY_DIR_MODE);
  // Another process may have made this key since the read; that key may be in use already, so it wins.
  if (!(await writeNewFile(path, exportPkcs8Pem(key), KEY_FILE_MODE))) return loadOrCreateKey(path, type);
  return key;
}

/** Deno's words for a failed connection, and the POSIX code Node would give it, which the core's retry policy reads. */
const FAILURE_CODES: [RegExp, string][] = [
  [/connection refused|os error 111/i, 'ECONNREFUSED'],
  [/connection reset|os error 104|broken pipe|connection closed before message completed|tls handshake eof|error reading a body/i, 'ECONNRESET'],
  [/timed out|os error 110/i, 'ETIMEDOUT'],
  [/no route to host|network is unreachable/i, 'EHOSTUNREACH'],
  [/temporary failure in name resolution/i, 'EAI_AGAIN'],
  [/dns error|name or service not known/i, 'ENOTFOUND'],
  [/invalid peer certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
];

/**
 * Deno's fetch error says "fetch failed" and puts the reason, after the URL again, in its cause; the reason alone
 * makes the one line that the core's message ends with, and a code says which failure it was.
 */
function fetchFailure(error: unknown): unknown {
  if (!(error instanceof TypeError)) return error;
  const cause = error.cause instanceof Error ? error.cause.message : error.message;
  const reason = cause.replace(/^error sending request (?:for url|from \S+ for) \(?\S*?\)?(?: \(\S+\))?: /, '').replace(/^client error \(\w+\): /, '');
  const code = FAILURE_CODES.find(([pattern]) => pattern.test(reason))?.[1];
  return Object.assign(new TypeError(reason, { cause: error }), code && { code });
}

/** The body with its read failures given codes too: a connection cut mid-answer fails there, not in fetch(). */
function codedBody(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        controller.error(fetchFailure(error));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * Deno's fetch with a User-Agent on every request (RFC 8555 §6.1), one-line failure reasons, and a connection pool
 * of its own that close() ends. TLS is verified against Deno's trust store, plus `DENO_CERT` or `--cert` for a
 * private CA.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * import { createDenoFetch } from "@acmets/acme-client/deno";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await generateKey("ec256"),
 *   fetch: createDenoFetch("my-renewer/1.0"),
 * });
 * ```
 */
export function createDenoFetch(userAgent: string): ClosingFetch {
  const client = Deno.createHttpClient({});
  const pooled = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('user-agent')) headers.set('user-agent', userAgent);
    let response: Response;
    try {
      const pooledInit: RequestInit & { client: Deno.HttpClient } = { ...init, headers, client };
      response = await fetch(input, pooledInit);
    } catch (error) {
      throw fetchFailure(error);
    }
    if (!response.body) return response;
    return new Response(codedBody(response.body), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return Object.assign(pooled, { close: () => client.close() });
}

/**
 * http-01 through a web server that serves `dir` at /.well-known/acme-challenge/ (acme-client(1)'s -C).
 *
 * @example
 * ```ts
 * import { webrootResponder } from "@acmets/acme-client/deno";
 * const responder = webrootResponder("/var/www/acme");
 * ```
 */
export function webrootResponder(dir: string): ChallengeResponder {
  return webrootResponderOver(dir, { writeFileAtomic, removeFileIfExists });
}

/**
 * http-01 answered by a `Deno.serve` server of our own on [host:]port (no host: every interface). It listens at
 * once, so a port already taken is reported before anything is written; close() stops it.
 *
 * @example
 * ```ts
 * import { startStandaloneResponder } from "@acmets/acme-client/deno";
 * const responder = await startStandaloneResponder({ port: 80 });
 * try {
 *   // issueCertificate({ ..., responder })
 * } finally {
 *   await responder.close();
 * }
 * ```
 */
export function startStandaloneResponder(address: { host?: string; port: number }): Promise<StandaloneResponder> {
  const answers = http01Answers();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // "::" takes IPv4 too on a dual-stack host, as Node's server does when given no host.
    server = Deno.serve({ hostname: address.host ?? '::', port: address.port, onListen() {} }, (request) => {
      const answer = answers.answer(request.method, new URL(request.url).pathname);
      if (answer === undefined) return new Response('not found\n', { status: 404, headers: { 'content-type': 'text/plain' } });
      return new Response(request.method === 'HEAD' ? null : answer, { headers: { 'content-type': 'application/octet-stream' } });
    });
  } catch (error) {
    return Promise.reject(listenError(address, 'http-01', error instanceof Deno.errors.AddrInUse, error as Error));
  }
  return Promise.resolve({
    types: ['http-01'],
    port: server.addr.port,
    present: answers.present,
    cleanup: answers.cleanup,
    close: () => server.shutdown(),
  });
}

/**
 * acme-client(1)'s -t over standard input and output (or the given stream and writer): for each name one line
 * "TYPE NAME KEYAUTH" goes out, and the same line must come back before the next; see the CLI's manual page.
 * The input is read only from the first exchange on, and close() stops reading it.
 *
 * @example
 * ```ts
 * import { callerResponder } from "@acmets/acme-client/deno";
 * const responder = callerResponder("dns-01");
 * ```
 */
export function callerResponder(
  type: ChallengeType,
  input: ReadableStream<Uint8Array<ArrayBuffer>> = Deno.stdin.readable,
  output: { writeSync(bytes: Uint8Array): number } = Deno.stdout,
): CallerResponder {
  let reader: ReadableStreamDefaultReader<string> | undefined;
  let buffered = '';
  let ended = false;
  return lineProtocolResponder(type, {
    write: (line) => writeAllSync(output, line),
    async nextLine() {
      reader ??= input.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const newline = buffered.indexOf('\n');
        if (newline !== -1 || (ended && buffered !== '')) {
          const end = newline === -1 ? buffered.length : newline;
          const line = buffered.slice(0, end).replace(/\r$/, '');
          buffered = buffered.slice(end + 1);
          return line;
        }
        if (ended) return undefined;
        const next = await reader.read();
        if (next.done) ended = true;
        else buffered += next.value;
      }
    },
    close() {
      reader?.cancel().catch(() => undefined);
    },
  });
}

/** RFC 8659 §4.1: the issuer critical flag is the most significant bit of the flags octet. */
const CRITICAL_FLAG = 128;

/**
 * CAA lookups (RFC 8659) for the pre-check in `issueCertificate`, with `Deno.resolveDns`: the system's resolvers,
 * or one DNS server given as "host:port" (Deno needs --allow-net to that address, port 53 for the system's). No
 * records is an empty list; a failed lookup rejects. Deno reports SERVFAIL as it reports NXDOMAIN, so a name whose
 * lookup fails that way reads as one without records: the pre-check lets it through and the CA's own check decides.
 *
 * @example
 * ```ts
 * import { denoCaaResolver } from "@acmets/acme-client/deno";
 * const records = await denoCaaResolver().caa("example.com");
 * ```
 */
export function denoCaaResolver(server?: string): CaaResolver {
  const nameServer = server === undefined ? undefined : parseDnsServer(server);
  const options = nameServer ? { nameServer: { ipAddr: nameServer.host, port: nameServer.port } } : {};
  const cnames = async (name: string) => {
    try {
      // Deno gives the targets fully qualified, with the root's dot; Node and the messages do without.
      return (await Deno.resolveDns(name, 'CNAME', options)).map((target) => target.replace(/\.$/, ''));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
  };
  return {
    async caa(name) {
      let answers: Deno.CaaRecord[];
      try {
        answers = await Deno.resolveDns(name, 'CAA', options);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return [];
        throw new Error(`CAA query for ${name} failed: ${(error as Error).message}`, { cause: error });
      }
      if (answers.length === 0) return [];
      const owner = await cnameChainEnd(name, cnames).catch(() => name);
      return answers.map((answer): CaaRecord => ({
        flags: answer.critical ? CRITICAL_FLAG : 0,
        tag: answer.tag,
        value: answer.value,
        ...(owner !== name && { owner }),
      }));
    },
  };
}
