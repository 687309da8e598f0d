// The ACME transport (RFC 8555 §6): a nonce pool, signed POSTs, every request retried as core/retry.ts's policy says
// (badNonce, connection faults, 5xx, Retry-After), bounded bodies, Link headers and a trace hook. fetch, AbortSignal
// and the clock are handed in, never taken from globals.

import type { AcmeKey } from './keys.ts';
import type { FlattenedJws } from './jws.ts';
import { signerOf, type KeySigner } from './signer.ts';
import { ACME_ERROR, AcmeError, UnexpectedResponseError, formatProblem, parseProblem, type Problem } from './errors.ts';
import { base64UrlDecode, concatBytes, utf8Decode, utf8Encode } from './encoding.ts';
import { parseLinkHeader, parseRetryAfter, type Link } from './headers.ts';
import { DEFAULT_RETRY_POLICY, RequestTries, connectionFault, hostOf, isTransientStatus, type ConnectionFault, type FaultLedger, type RetryPolicy } from './retry.ts';

/**
 * Waits `ms` milliseconds, or rejects with the signal's reason once it aborts; the transport and the polls wait with
 * it.
 *
 * @example
 * ```ts
 * import type { Sleep } from "@acmets/acme-client";
 * // A sleep that does not wait, for tests that replay a CA.
 * const noWait: Sleep = async () => {};
 * ```
 */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/**
 * What a Transport (and so an AcmeClient) takes from its caller rather than from globals.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await generateKey("ec256"),
 *   signal: AbortSignal.timeout(60_000),
 *   trace: (line) => console.error(line),
 * });
 * ```
 */
export interface TransportOptions {
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Aborts every request, wait and poll. */
  signal?: AbortSignal;
  /** Receives one line per request and per response: method, URL, status, the JWS protected header and payload. */
  trace?: (line: string) => void;
  /** Waits between retries and polls; tests inject one that does not really wait. */
  sleep?: Sleep;
  /** Milliseconds since the epoch, for Retry-After dates and poll deadlines. */
  now?: () => number;
  /** How long one request may go without a complete answer, in ms; default 60 000. */
  requestTimeout?: number;
  /** How faults are retried; each field defaults to DEFAULT_RETRY_POLICY's. */
  retry?: Partial<RetryPolicy>;
}

/** A JWS for finalize with a 4096-bit key and a hundred names stays under 16 KiB. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The largest ACME resources are orders with many names and certificate chains: tens of KiB. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** A CA that accepts the connection and then never answers must not hold a cron job forever. */
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_POOLED_NONCES = 16;
const MAX_TRACED_BODY_CHARS = 4096;

/**
 * A CA's answer as the transport hands it on: status, headers, and the body already read and parsed.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const response = await client.transport.get(client.directory.newNonce, { action: "get a nonce", expect: "none" });
 * console.log(response.status, response.headers.get("replay-nonce"));
 * ```
 */
export interface AcmeResponse {
  /** The URL the request went to. */
  url: string;
  /** The HTTP status. */
  status: number;
  /** The response headers. */
  headers: Headers;
  /** The Location header, resolved against the request URL. */
  location?: string;
  /** The Link header's relations (RFC 8288). */
  links: Link[];
  /** When Retry-After asks the client to come back (RFC 9110 §10.2.3). */
  retryAfter?: Date;
  /** JSON for `expect: 'json'`, text for `'pem-chain'`, undefined for `'none'`. */
  body: unknown;
}

/**
 * The body a request expects: JSON, a PEM certificate chain (RFC 8555 §7.4.2), or none; another content type is an
 * error.
 *
 * @example
 * ```ts
 * import type { Expect } from "@acmets/acme-client";
 * const expect: Expect = "pem-chain";
 * ```
 */
export type Expect = 'json' | 'pem-chain' | 'none';

/**
 * The key a signed request is signed with, and the account URL that names it once the account exists.
 *
 * @example
 * ```ts
 * import { generateKey, type Signer } from "@acmets/acme-client";
 * const signer: Signer = { key: await generateKey("ec256"), kid: "https://ca.example/acct/1" };
 * ```
 */
export interface Signer {
  /** The account key, or the certificate key for a revocation (RFC 8555 §7.6); held here or signing elsewhere. */
  key: AcmeKey | KeySigner;
  /** The account URL; without it the JWS carries the public key (§6.2). */
  kid?: string;
}

/**
 * What a request is for: the action named in its error messages, and the body it expects.
 *
 * @example
 * ```ts
 * import type { RequestSpec } from "@acmets/acme-client";
 * const spec: RequestSpec = { action: "fetch order https://ca.example/order/1", expect: "json" };
 * ```
 */
export interface RequestSpec {
  /** What the request does, for messages: `Cannot ${action}: …`. */
  action: string;
  /** The body to expect. */
  expect: Expect;
  /**
   * For a request the CA may have acted on although its answer was lost (finalize, a challenge response, a key
   * rollover, a revocation): after the fault, finds out by reading state what happened. It returns the answer to
   * use instead, or undefined to send the request again. Without it, the request is sent again as it is.
   */
  recover?: () => Promise<AcmeResponse | undefined>;
}

const CONTENT_TYPES: Record<Expect, string> = {
  json: 'application/json',
  'pem-chain': 'application/pem-certificate-chain', // §7.4.2
  none: '',
};

/**
 * 127.0.0.0/8, ::1 and localhost: the hosts where plain http never leaves the machine.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "@acmets/acme-client";
 * console.log(isLoopbackHost("127.0.0.1"), isLoopbackHost("ca.example")); // true false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * ACME's replay protection and account keys assume TLS (§6.1), so plain http is refused unless it stays on the host.
 *
 * @example
 * ```ts
 * import { checkAcmeUrl } from "@acmets/acme-client";
 * checkAcmeUrl("http://localhost:14000/dir", "directory URL"); // a URL: loopback
 * checkAcmeUrl("http://ca.example/dir", "directory URL"); // throws TypeError
 * ```
 */
export function checkAcmeUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`Cannot use ${what} ${JSON.stringify(url)}: it is not an absolute URL`);
  }
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) return parsed;
  throw new TypeError(`Cannot use ${what} ${url}: ACME requires https unless the host is loopback (127.0.0.0/8, ::1, localhost)`);
}

const defaultSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function mediaType(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** §6.5.1: a nonce is base64url; anything else is dropped rather than echoed into a signed header. */
function nonceOf(headers: Headers): string | undefined {
  const nonce = headers.get('replay-nonce')?.trim();
  return nonce && nonce.length <= 512 && /^[A-Za-z0-9_-]+$/.test(nonce) ? nonce : undefined;
}

/** CAs pretty-print their JSON; a trace line stays one line. */
function compactJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text));
  } catch {
    return text.replace(/\s+/g, ' ');
  }
}

function decodeSegment(segment: string): string {
  return segment === '' ? '""' : utf8Decode(base64UrlDecode(segment));
}

interface Signed {
  payload: unknown;
  signer: Signer;
}

/**
 * The ACME transport (RFC 8555 §6): a nonce pool, signed POSTs retried on badNonce (§6.5), every request retried on
 * connection faults and 5xx within a RetryPolicy's bounds, Retry-After honoured (§6.6), bounded bodies, Link headers
 * and a trace hook. An AcmeClient holds one; use it directly for requests the client does not make.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * const order = await client.transport.post("https://ca.example/order/1", undefined, { key: client.accountKey, kid: client.accountUrl }, {
 *   action: "fetch order", expect: "json",
 * });
 * ```
 */
export class Transport {
  /** Set from the directory before the first signed request. */
  newNonceUrl?: string;
  readonly #fetch: typeof fetch;
  readonly #signal?: AbortSignal;
  readonly #trace?: (line: string) => void;
  readonly #requestTimeout: number;
  readonly #retry: RetryPolicy;
  /** Time this run lost to faults, against #retry.budgetMs. */
  readonly #faults: FaultLedger = { lostMs: 0 };
  /** How it waits between retries; AcmeClient polls with it too. */
  readonly sleep: Sleep;
  /** Its clock, in milliseconds since the epoch. */
  readonly now: () => number;
  /**
   * The nonces, shared with every transport made by share(). `holders` counts signed requests holding a nonce: each
   * brings one back, so others wait for it rather than HEAD newNonce.
   */
  #pool: { nonces: string[]; holders: number; waiters: (() => void)[] } = { nonces: [], holders: 0, waiters: [] };
  readonly #options: TransportOptions;

  /** No I/O: the first request fetches the first nonce. */
  constructor(options: TransportOptions = {}) {
    this.#options = options;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    if (options.signal) this.#signal = options.signal;
    if (options.trace) this.#trace = options.trace;
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? Date.now;
    this.#requestTimeout = options.requestTimeout ?? REQUEST_TIMEOUT_MS;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /**
   * Another transport over the same fetch and nonce pool, with a retry budget of its own and its own trace: one per
   * part of a larger job, such as each certificate of many, so that faults one part met do not cut another's tries,
   * while no part asks newNonce for a nonce that another just brought back.
   */
  share(options: Pick<TransportOptions, 'trace'> = {}): Transport {
    const { trace: _trace, ...common } = this.#options;
    const shared = new Transport({ ...common, ...options });
    shared.#pool = this.#pool;
    return shared;
  }

  /** The signal that aborts every request and wait, when one was given. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /** An unsigned GET (the directory, renewal information). */
  get(url: string, spec: RequestSpec): Promise<AcmeResponse> {
    return this.#request('GET', url, undefined, spec);
  }

  /** A signed POST (§6.2); `payload` undefined makes it a POST-as-GET (§6.3). */
  post(url: string, payload: unknown, signer: Signer, spec: RequestSpec): Promise<AcmeResponse> {
    return this.#request('POST', url, { payload, signer }, spec);
  }

  async #request(method: 'GET' | 'HEAD' | 'POST', url: string, signed: Signed | undefined, spec: RequestSpec): Promise<AcmeResponse> {
    checkAcmeUrl(url, 'URL');
    const tries = new RequestTries(this.#retry, this.#faults, this.now);
    let nonce = signed ? await this.#acquireNonce(spec.action) : undefined;
    let holding = signed !== undefined;
    try {
      for (;;) {
        const outcome = await this.#exchange(method, url, signed, nonce, spec, tries.tryTimeout(this.#requestTimeout));
        let retryAfter: Date | undefined;
        let giveUp: (clause: string) => Error;
        if ('fault' in outcome) {
          const { fault } = outcome;
          giveUp = (clause) => new Error(`Cannot ${spec.action}: ${fault.reason}${parenthesized(clause)}`, { cause: fault.cause });
          if (!fault.transient) throw giveUp(tries.tried);
        } else {
          const { response, bytes, replayNonce } = outcome;
          if (response.status >= 200 && response.status < 300) {
            // A HEAD's nonce goes straight to the one who asked for it, so no waiter can take it first.
            if (replayNonce && method !== 'HEAD') this.#addNonce(replayNonce);
            return this.#readSuccess(response, bytes, url, spec);
          }
          const problem = readProblem(response, bytes);
          retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.now());
          // §6.5: the error carries a fresh nonce, so the retry costs no wait and no newNonce request.
          if (signed && problem.type === ACME_ERROR.badNonce && tries.badNonce()) {
            nonce = replayNonce ?? (await this.#freshNonce(spec.action));
            continue;
          }
          if (replayNonce) this.#addNonce(replayNonce);
          // A proxy's 502 or a CA's 503 says nothing about the request; the CA's own words name the CA only by URL.
          const from = isTransientStatus(response.status) ? ` from ${hostOf(url)}` : '';
          const when = retryAfter ? `retry after ${retryAfter.toISOString()}` : '';
          giveUp = (clause) => new AcmeError(`Cannot ${spec.action}: ${formatProblem(problem)}${from}${parenthesized(when, clause)}`, {
            problem, status: response.status, url, ...(retryAfter && { retryAfter }),
          });
          // §6.6: a rate limit is waited out only when the CA says for how long.
          if (!isTransientStatus(response.status) && !(response.status === 429 && retryAfter)) throw giveUp(tries.tried);
        }
        const next = tries.next(retryAfter && Math.max(0, retryAfter.getTime() - this.now()));
        if (next.wait === undefined) throw giveUp(next.clause);
        // The nonce went with the failed try; while this request waits, others may use the pool.
        if (holding) this.#release();
        holding = false;
        await this.sleep(next.wait, this.#signal);
        const recovered = await spec.recover?.();
        if (recovered) return recovered;
        if (signed) {
          nonce = await this.#acquireNonce(spec.action);
          holding = true;
        }
      }
    } finally {
      if (holding) this.#release();
    }
  }

  /** One try: the answer read whole, or the connection fault that stopped it; anything else throws. */
  async #exchange(method: string, url: string, signed: Signed | undefined, nonce: string | undefined, spec: RequestSpec, timeoutMs: number) {
    const headers: Record<string, string> = {};
    let body: string | undefined;
    let traceLine = `→ ${method} ${url}`;
    if (signed) {
      const jws: FlattenedJws = await signerOf(signed.signer.key).signJws(signed.payload, { url, nonce, ...(signed.signer.kid && { kid: signed.signer.kid }) });
      body = JSON.stringify(jws);
      const size = utf8Encode(body).length;
      if (size > MAX_REQUEST_BYTES) throw new RangeError(`Cannot ${spec.action}: the request is ${size} bytes (at most ${MAX_REQUEST_BYTES})`);
      headers['content-type'] = 'application/jose+json'; // §6.2
      traceLine += ` ${decodeSegment(jws.protected)} ${decodeSegment(jws.payload)}`;
    }
    if (spec.expect !== 'none') headers.accept = `${CONTENT_TYPES[spec.expect]}, application/problem+json`;
    this.#trace?.(traceLine);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = this.#signal ? AbortSignal.any([this.#signal, timeout]) : timeout;
    const failure = (error: unknown, whileReading: boolean): { fault: ConnectionFault } => {
      if (this.#signal?.aborted) throw this.#signal.reason;
      let fault: ConnectionFault | undefined;
      if (timeout.aborted) fault = { reason: `${hostOf(url)} gave no complete answer within ${timeoutMs / 1000} s`, transient: true, cause: error };
      else fault = connectionFault(error, url, whileReading);
      if (!fault) throw new Error(`Cannot ${spec.action}: ${method} ${url} failed: ${(error as Error).message}`, { cause: error });
      this.#trace?.(`✗ ${method} ${url}: ${fault.reason}`);
      return { fault };
    };
    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(body !== undefined && { body }),
        // A redirected POST would carry a JWS signed for another URL (§6.4); only the directory GET may follow one.
        redirect: method === 'GET' ? 'follow' : 'error',
        signal,
      });
    } catch (error) {
      return failure(error, false);
    }
    const replayNonce = nonceOf(response.headers);
    let bytes: Uint8Array;
    try {
      bytes = await readLimited(response, url, spec.action);
    } catch (error) {
      if (error instanceof UnexpectedResponseError) throw error;
      if (replayNonce) this.#addNonce(replayNonce);
      return failure(error, true);
    }
    this.#traceResponse(response, url, bytes);
    return { response, bytes, replayNonce };
  }

  #traceResponse(response: Response, url: string, bytes: Uint8Array): void {
    if (!this.#trace) return;
    let line = `← ${response.status} ${url}`;
    const location = response.headers.get('location');
    if (location) line += ` location=${location}`;
    const link = response.headers.get('link');
    if (link) line += ` link=${link}`;
    const type = mediaType(response.headers);
    if (bytes.length > 0) {
      if (type.endsWith('json')) {
        const text = compactJson(new TextDecoder().decode(bytes));
        line += ` ${text.length > MAX_TRACED_BODY_CHARS ? `${text.slice(0, MAX_TRACED_BODY_CHARS)}… (${bytes.length} bytes)` : text}`;
      } else {
        line += ` (${bytes.length} bytes of ${type || 'unknown type'})`;
      }
    }
    this.#trace(line);
  }

  #readSuccess(response: Response, bytes: Uint8Array, url: string, spec: RequestSpec): AcmeResponse {
    const location = response.headers.get('location');
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'), this.now());
    const result: AcmeResponse = {
      url,
      status: response.status,
      headers: response.headers,
      links: parseLinkHeader(response.headers.get('link'), url),
      body: undefined,
      ...(retryAfter && { retryAfter }),
    };
    if (location) {
      try {
        result.location = new URL(location, url).href;
      } catch {
        throw new UnexpectedResponseError(`Cannot ${spec.action}: the Location header ${JSON.stringify(location)} from ${url} is not a URL`, url, response.status);
      }
    }
    if (spec.expect === 'none') return result;
    const type = mediaType(response.headers);
    if (type !== CONTENT_TYPES[spec.expect]) {
      throw new UnexpectedResponseError(`Cannot ${spec.action}: ${url} answered with ${type ? `content type ${type}` : 'no content type'}, expected ${CONTENT_TYPES[spec.expect]}`, url, response.status);
    }
    let text: string;
    try {
      text = utf8Decode(bytes);
    } catch {
      throw new UnexpectedResponseError(`Cannot ${spec.action}: the response from ${url} is not UTF-8`, url, response.status);
    }
    if (spec.expect === 'pem-chain') {
      result.body = text;
      return result;
    }
    try {
      result.body = JSON.parse(text);
    } catch (error) {
      throw new UnexpectedResponseError(`Cannot ${spec.action}: the response from ${url} is not JSON (${(error as Error).message})`, url, response.status);
    }
    return result;
  }

  /** A nonce from the pool, or from newNonce (§7.2) only when the pool is empty and no request in flight will refill it. */
  async #acquireNonce(action: string): Promise<string> {
    for (;;) {
      this.#signal?.throwIfAborted();
      const pooled = this.#pool.nonces.pop();
      if (pooled !== undefined) {
        this.#pool.holders++;
        return pooled;
      }
      if (this.#pool.holders === 0) {
        this.#pool.holders++;
        try {
          return await this.#headNonce(action);
        } catch (error) {
          this.#release();
          throw error;
        }
      }
      await this.#waitForNonce();
    }
  }

  /** For a request that already holds its place: the pool, else newNonce. */
  async #freshNonce(action: string): Promise<string> {
    return this.#pool.nonces.pop() ?? (await this.#headNonce(action));
  }

  /** `action` is the request the nonce is for, so that a failure here names what the user asked for. */
  async #headNonce(action: string): Promise<string> {
    if (!this.newNonceUrl) throw new TypeError('Cannot get a nonce: the transport has no newNonce URL (load the directory first)');
    const response = await this.#request('HEAD', this.newNonceUrl, undefined, { action: `get a nonce from ${this.newNonceUrl} to ${action}`, expect: 'none' });
    const nonce = nonceOf(response.headers);
    if (!nonce) throw new UnexpectedResponseError(`Cannot get a nonce from ${this.newNonceUrl}: the response has no valid Replay-Nonce header`, this.newNonceUrl, response.status);
    return nonce;
  }

  #addNonce(nonce: string): void {
    this.#pool.nonces.push(nonce);
    if (this.#pool.nonces.length > MAX_POOLED_NONCES) this.#pool.nonces.shift();
    this.#pool.waiters.shift()?.();
  }

  #release(): void {
    this.#pool.holders--;
    this.#pool.waiters.shift()?.();
  }

  #waitForNonce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.#signal;
      const onAbort = () => {
        const index = this.#pool.waiters.indexOf(waiter);
        if (index >= 0) this.#pool.waiters.splice(index, 1);
        reject(signal!.reason);
      };
      const waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#pool.waiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** " (retry after …; 2 tries in 3 s)", or nothing when every clause is empty. */
function parenthesized(...clauses: string[]): string {
  const text = clauses.filter(Boolean).join('; ');
  return text ? ` (${text})` : '';
}

/** Reads at most MAX_RESPONSE_BYTES, refusing a longer body before it is all in memory. */
async function readLimited(response: Response, url: string, action: string): Promise<Uint8Array> {
  const tooLarge = () => new UnexpectedResponseError(`Cannot ${action}: the response from ${url} is larger than ${MAX_RESPONSE_BYTES} bytes`, url, response.status);
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > MAX_RESPONSE_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(...chunks);
}

/** §6.7: errors come as problem documents; anything else becomes an about:blank problem naming the status. */
function readProblem(response: Response, bytes: Uint8Array): Problem {
  const type = mediaType(response.headers);
  let body: unknown;
  if (type === 'application/problem+json' || type === 'application/json') {
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      body = undefined;
    }
  }
  const statusText = response.statusText ? ` ${response.statusText}` : '';
  return parseProblem(body, response.status, `HTTP ${response.status}${statusText} with ${type ? `a ${type} body` : 'no problem document'}`);
}
