// What this process shares with the CA, however many certificate sets a run works on (--renew-all, --renew-list): one
// pool of connections for the renewal windows it asks (RFC 9773, cli/ari-query.ts), which need no key and decide
// whether the run splits at all; everything else goes through the network process (cli/privsep.ts). Loaded by dynamic
// import when the first set asks; the run closes it when its last set is done, so no connection outlives the run's work.

import type { ClosingFetch } from '../adapters/_shared.ts';
import { fetchDirectory } from '../core/client.ts';
import { Transport, type TransportOptions } from '../core/http.ts';
import type { Directory } from '../core/resources.ts';
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
  /** The sets' transports share its pools. */
  readonly #transport: Transport;
  readonly #options: CliOptions;
  #directory?: Promise<Directory>;

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

  /** The CA's directory (RFC 8555 §7.1.1), read once for all the sets; a failure is every set's. */
  directory(): Promise<Directory> {
    return (this.#directory ??= fetchDirectory(directoryUrlOf(this.#options), this.#transport));
  }

  /** Closes every connection to the CA. */
  close(): void {
    this.#fetch.close();
  }
}
