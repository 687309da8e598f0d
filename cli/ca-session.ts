// What one run shares with its CA, however many certificate sets it works on (--renew-all, --renew-list): one pool of
// connections and one of nonces, the directory read once, and what must happen once per key file, such as the
// account registered for an account key. Loaded by dynamic import when the first set talks to the CA; the run closes
// it when its last set is done, so no connection outlives the run's work.

import type { ClosingFetch } from '../adapters/_shared.ts';
import { AcmeClient, fetchDirectory, type Directory } from '../core/client.ts';
import { Transport, type TransportOptions } from '../core/http.ts';
import type { AcmeKey } from '../core/keys.ts';
import type { CliOptions } from './args.ts';
import { directoryUrlOf } from './defaults.ts';
import type { CliPlatform, CliRunPlatform } from './platform.ts';
import { userAgent } from './version.ts';

export class CaSession {
  /**
   * Every request to the CA: acme-client's User-Agent (RFC 8555 §6.1), nonces pooled across sets, retried within
   * --retry-time (the run's budget, shared by its sets), traced on stderr under -vv.
   */
  readonly transport: Transport;
  readonly #fetch: ClosingFetch;
  readonly #directoryUrl: string;
  readonly #made = new Map<string, Promise<unknown>>();

  /** No I/O: the first request opens the first connection. */
  constructor(platform: CliPlatform & CliRunPlatform, options: CliOptions) {
    this.#fetch = platform.createFetch(userAgent(platform.runtime));
    const connection: TransportOptions = { fetch: this.#fetch };
    if (options.retryTime !== undefined) connection.retry = { budgetMs: options.retryTime * 1000 };
    // -vv: methods, URLs, JWS headers and payloads and responses; never a private key.
    if (options.verbosity >= 2) connection.trace = (line) => platform.writeStderr(`acme-client: ${line}\n`);
    this.transport = new Transport(connection);
    this.#directoryUrl = directoryUrlOf(options);
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
    return this.once('directory', () => fetchDirectory(this.#directoryUrl, this.transport));
  }

  /** A client for this key over the shared connections; given the account URL, it never asks the CA for it. */
  async client(accountKey: AcmeKey, accountUrl?: string): Promise<AcmeClient> {
    return new AcmeClient(await this.directory(), { accountKey, ...(accountUrl !== undefined && { accountUrl }) }, this.transport);
  }

  /** Closes every connection to the CA. */
  close(): void {
    this.#fetch.close();
  }
}
