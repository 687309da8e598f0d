// How the transport rides out a flaky CA: which failures are worth another try, how long to wait before it
// (exponential backoff with full jitter, or the CA's Retry-After), and the bounds, tries per request and time per run.
// Boulder answers 503 in maintenance and under load, and the load balancer in front of it 502/504 with an HTML body.

/**
 * The bounds and waits of the transport's retries. A run is one Transport: the budget is shared by its requests.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * // A person is waiting: give up after 20 s of faults instead of a minute.
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await generateKey("ec256"),
 *   retry: { budgetMs: 20_000 },
 * });
 * ```
 */
export interface RetryPolicy {
  /** Tries per request, the first one included. */
  maxTries: number;
  /** The time a run may lose to faults, in ms: failed tries and the waits after them. */
  budgetMs: number;
  /** The longest first wait, in ms; each later wait may be twice as long, up to maxDelayMs. */
  firstDelayMs: number;
  /** The longest backoff wait, in ms (a Retry-After may ask for more, within the budget). */
  maxDelayMs: number;
  /** badNonce answers retried per request (RFC 8555 §6.5); they come with a fresh nonce and cost no wait. */
  maxBadNonces: number;
  /** Uniform in [0, 1): the jitter's source; tests fix it. */
  random: () => number;
}

/**
 * The policy a Transport uses unless told otherwise: 5 tries per request, 1, 2, 4 and 8 s at most between them,
 * and 60 s lost to faults per run.
 *
 * Nonces: a CA that rejects a share p of them fails a request only when 1 + maxBadNonces tries in a row are
 * rejected. At p = 0.5 that is 2^-31 ≈ 4.7e-10 per request, so about 1e-8 for a run of 20 signed requests, or
 * 4e-4 over a century of daily runs; 10 retries (the RFC-minded minimum) would fail 1 run in 100 (20 × 2^-11).
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_POLICY } from "@acmets/acme-client";
 * console.log(DEFAULT_RETRY_POLICY.maxTries, DEFAULT_RETRY_POLICY.budgetMs); // 5 60000
 * ```
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxTries: 5,
  budgetMs: 60_000,
  firstDelayMs: 1000,
  maxDelayMs: 8000,
  maxBadNonces: 30,
  random: Math.random,
});

/**
 * The wait before retry number `retry` (1 for the first): full jitter, uniform between 0 and the capped exponential,
 * so that clients that failed together do not come back together.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_POLICY, backoffDelay } from "@acmets/acme-client";
 * const half = { ...DEFAULT_RETRY_POLICY, random: () => 0.5 };
 * console.log([1, 2, 3, 4, 5].map((retry) => backoffDelay(half, retry))); // [500, 1000, 2000, 4000, 4000]
 * ```
 */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return Math.floor(policy.random() * Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (retry - 1)));
}

/** A try cut shorter than this would fail a CA that is only slow, and tell the user nothing. */
const MIN_TRY_MS = 5000;

/**
 * The most time a run loses to faults before it fails, in ms. A request's first try may take the whole request
 * timeout; once a fault has cost anything, each try is cut to what is left of the budget (but never below 5 s), and
 * no wait goes beyond it.
 *
 * @example
 * ```ts
 * import { DEFAULT_RETRY_POLICY, worstFaultTimeMs } from "@acmets/acme-client";
 * console.log(worstFaultTimeMs(DEFAULT_RETRY_POLICY, 60_000)); // 65000: a CA that is down fails a run within about a minute
 * ```
 */
export function worstFaultTimeMs(policy: RetryPolicy, requestTimeoutMs: number): number {
  return Math.max(policy.budgetMs + Math.min(MIN_TRY_MS, requestTimeoutMs), requestTimeoutMs);
}

/**
 * Statuses that say the CA or a proxy in front of it failed for now (RFC 9110 §15.6): the request is worth another
 * try. Other 4xx problems are the request's own and never change on a retry; 429 waits only for a Retry-After.
 *
 * @example
 * ```ts
 * import { isTransientStatus } from "@acmets/acme-client";
 * console.log(isTransientStatus(503), isTransientStatus(400)); // true false
 * ```
 */
export function isTransientStatus(status: number): boolean {
  return status === 500 || status === 502 || status === 503 || status === 504;
}

/** Where a request went: "ca.example:443" for connections, "ca.example" for names. */
interface Target {
  host: string;
  hostname: string;
}

/** Codes of Node, undici and POSIX (adapters/deno.ts gives Deno's failures the same) for failures worth another try. */
const TRANSIENT_CODES: Record<string, (to: Target) => string> = {
  ECONNRESET: ({ host }) => `the connection to ${host} was reset`,
  EPIPE: ({ host }) => `the connection to ${host} was reset`,
  ECONNABORTED: ({ host }) => `the connection to ${host} was reset`,
  UND_ERR_SOCKET: ({ host }) => `the connection to ${host} was reset`,
  ECONNREFUSED: ({ host }) => `the connection to ${host} was refused`,
  ETIMEDOUT: ({ host }) => `the connection to ${host} timed out`,
  UND_ERR_CONNECT_TIMEOUT: ({ host }) => `the connection to ${host} timed out`,
  EHOSTUNREACH: ({ host }) => `${host} is unreachable`,
  ENETUNREACH: ({ host }) => `${host} is unreachable`,
  ENETDOWN: ({ host }) => `${host} is unreachable: the network is down`,
  EAI_AGAIN: ({ hostname }) => `the name ${hostname} could not be looked up for now`,
};

const untrusted = ({ host }: Target) => `the TLS certificate of ${host} is not trusted`;

/**
 * Failures that another try would only repeat: a name that does not exist, a certificate that is not trusted. The
 * message then ends with the resolver's or the TLS library's own words.
 */
const PERMANENT_CODES: Record<string, (to: Target) => string> = {
  ENOTFOUND: ({ hostname }) => `the name ${hostname} does not resolve`,
  DEPTH_ZERO_SELF_SIGNED_CERT: untrusted,
  SELF_SIGNED_CERT_IN_CHAIN: untrusted,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: untrusted,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: untrusted,
  CERT_HAS_EXPIRED: untrusted,
  CERT_NOT_YET_VALID: untrusted,
  ERR_TLS_CERT_ALTNAME_INVALID: untrusted,
};

/** A failure without an answer from the CA: what to tell the user, and whether another try may help. */
export interface ConnectionFault {
  /** One clause naming the CA and the cause, e.g. "the connection to ca.example:443 was reset". */
  reason: string;
  transient: boolean;
  cause: unknown;
}

/** "ca.example:443": the CA as the user can check it, port included. */
export function hostOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === 'https:' ? '443' : '80')}`;
}

/** The first error along the cause chain that carries a code, with that code. */
function coded(error: unknown): { code: string; error: Error } | undefined {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string') return { code, error: at };
  }
  return undefined;
}

/**
 * What a failed fetch (or a failed read of its body, `whileReading`) means, or undefined when it is not a failure of
 * the connection at all (a refused redirect, an adapter's own check) and must not be retried. A TypeError without a
 * code is how a browser reports every network failure, so it counts as one worth retrying.
 */
export function connectionFault(error: unknown, url: string, whileReading: boolean): ConnectionFault | undefined {
  const target = { host: hostOf(url), hostname: new URL(url).hostname };
  const found = coded(error);
  const transient = found && TRANSIENT_CODES[found.code];
  if (transient) {
    // A body that stops before its end is the CA's answer cut off, whatever the socket says.
    return { reason: whileReading ? `the answer from ${target.host} broke off before its end` : transient(target), transient: true, cause: error };
  }
  const permanent = found && PERMANENT_CODES[found.code];
  if (permanent) return { reason: `${permanent(target)} (${found.error.message})`, transient: false, cause: error };
  if (!found && error instanceof TypeError) {
    const what = whileReading ? `reading the answer from ${target.host}` : `the request to ${target.host}`;
    return { reason: `${what} failed (${error.message})`, transient: true, cause: error };
  }
  return undefined;
}

/** The time lost to faults so far in one run, shared by every request of a Transport. */
export interface FaultLedger {
  lostMs: number;
}

/** Why a request gives up: the clause that ends its message. */
export type GiveUp = { wait?: undefined; clause: string };

/**
 * One request's tries: counts them and the badNonce answers, decides each wait, and books the time lost to
 * faults on the run's ledger. The transport asks it after every failure.
 */
export class RequestTries {
  readonly #policy: RetryPolicy;
  readonly #ledger: FaultLedger;
  readonly #now: () => number;
  readonly #started: number;
  #tryStarted: number;
  #tries = 1;
  #badNonces = 0;

  constructor(policy: RetryPolicy, ledger: FaultLedger, now: () => number) {
    this.#policy = policy;
    this.#ledger = ledger;
    this.#now = now;
    this.#started = now();
    this.#tryStarted = this.#started;
  }

  /** How long the next try may take: all of `requestTimeoutMs` until a fault has cost something, then what is left. */
  tryTimeout(requestTimeoutMs: number): number {
    this.#tryStarted = this.#now();
    const left = this.#policy.budgetMs - this.#ledger.lostMs;
    return this.#ledger.lostMs > 0 ? Math.min(requestTimeoutMs, Math.max(MIN_TRY_MS, left)) : requestTimeoutMs;
  }

  /** Whether one more badNonce may be retried (§6.5). */
  badNonce(): boolean {
    return this.#badNonces++ < this.#policy.maxBadNonces;
  }

  /** After a transient failure: the wait before the next try, or why there is none. `retryAfter` is the CA's, in ms. */
  next(retryAfterMs?: number): { wait: number } | GiveUp {
    this.#ledger.lostMs += Math.max(0, this.#now() - this.#tryStarted);
    const spent = this.#spent();
    const budget = `${Math.round(this.#policy.budgetMs / 1000)} s`;
    if (retryAfterMs !== undefined && this.#ledger.lostMs + retryAfterMs > this.#policy.budgetMs) {
      return { clause: `the CA asks to retry after ${Math.ceil(retryAfterMs / 1000)} s, beyond the ${budget} this run waits for a CA` };
    }
    if (this.#tries >= this.#policy.maxTries) return { clause: spent };
    const wait = retryAfterMs ?? backoffDelay(this.#policy, this.#tries);
    if (this.#ledger.lostMs + wait > this.#policy.budgetMs) return { clause: `${spent}; the ${budget} this run waits for a CA are spent` };
    this.#ledger.lostMs += wait;
    this.#tries++;
    return { wait };
  }

  /** "3 tries in 4 s" for a request that was retried before it failed for good; empty for a single try. */
  get tried(): string {
    return this.#tries === 1 ? '' : this.#spent();
  }

  #spent(): string {
    return `${this.#tries} ${this.#tries === 1 ? 'try' : 'tries'} in ${Math.round((this.#now() - this.#started) / 1000)} s`;
  }
}
