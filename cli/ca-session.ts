// What one run shares with its CA, however many certificate sets it works on (--renew-all, --renew-list): one pool of
// connections and one of nonces, the directory read once, and what must happen once per key file, such as the
// account registered for an account key. Loaded by dynamic import when the first set talks to the CA; the run closes
// it when its last set is done, so no connection outlives the run's work.

import type { ClosingFetch } from '../adapters/_shared.ts';
import { AcmeClient, fetchDirectory } from '../core/client.ts';
import type { Directory } from '../core/resources.ts';
import { Transport, type TransportOptions } from '../core/http.ts';
import type { AcmeKey } from '../core/keys.ts';
import type { CliOptions } from './args.ts';
import { directoryUrlOf } from './defaults.ts';
import type { CliPlatform, CliRunPlatform } from './platform.ts';
import { userAgent } from './version.ts';

/** -vv: methods, URLs, JWS headers and payloads and responses, on this platform's stderr; never a private key. */
function traceOn(platform: CliPlatform, options: CliOptions): Pick<TransportOptions, 'trace'> {
  return options.verbosity >= 2 ? { trace: (line) => platform.writeStderr(`acme-client: ${line}\n`) } : {};
}

export class CaSession {
  readonly #fetch: ClosingFetch;
  /** Requests the run makes once for all its sets (the directory); the sets' own transports share its pools. */
  readonly #transport: Transport;
  readonly #options: CliOptions;
  readonly #made = new Map<string, Promise<unknown>>();

  /** No I/O: the first request opens the first connection. */
  constructor(platform: CliPlatform & CliRunPlatform, options: CliOptions) {
    this.#options = options;
    this.#fetch = platform.createFetch(userAgent(platform.runtime));
    // acme-client's User-Agent (RFC 8555 §6.1) on every request, each retried within --retry-time.
    this.#transport = new Transport({
      fetch: this.#fetch, ...(options.retryTime !== undefined && { retry: { budgetMs: options.retryTime * 1000 } }), ...traceOn(platform, options),
    });
  }

  /**
   * A transport for one set's work, over the run's connections and nonces: its retries have a --retry-time of their
   * own, as a run for that set alone would, so that faults other sets met never cut its tries; -vv traces on the
   * set's stderr, whose lines name the set.
   */
  transportFor(platform: CliPlatform): Transport {
    return this.#transport.share(traceOn(platform, this.#options));
  }

  /**
   * What `make` gives for `what`, made once in this run however many sets ask at the same moment. A failure is
   * shared too: the sets would only repeat the same request and be refused alike.
   */
  once<T>(what: string, make: () => Promise<T>): Promise<T> {
    let made = this.#made.get(what) as Promise<T> | undefined;
    if (!made) this.#made.set(what, (made = make()));
    return made;
  }

  /** The CA's directory (RFC 8555 §7.1.1). */
  directory(): Promise<Directory> {
    return this.once('directory', () => fetchDirectory(directoryUrlOf(this.#options), this.#transport));
  }

  /** A client for this key over `transport`; given the account URL, it never asks the CA for it. */
  async client(transport: Transport, accountKey: AcmeKey, accountUrl?: string): Promise<AcmeClient> {
    return new AcmeClient(await this.directory(), { accountKey, ...(accountUrl !== undefined && { accountUrl }) }, transport);
  }

  /** Closes every connection to the CA. */
  close(): void {
    this.#fetch.close();
  }
}
