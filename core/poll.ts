// Polling an order or authorization until the CA has moved it on (RFC 8555 §7.5.1): the schedule of waits, and the
// loop that follows it and the CA's Retry-After.

import type { Transport } from './http.ts';

// Validation takes a few hundred ms at most CAs: start fast, then back off so a slow CA is not flooded.

/**
 * The first wait before polling an order or authorization again, in ms; later waits grow by POLL_BACKOFF up to
 * POLL_MAX_DELAY_MS.
 *
 * @example
 * ```ts
 * import { POLL_BACKOFF, POLL_FIRST_DELAY_MS, POLL_MAX_DELAY_MS } from "@acmets/acme-client";
 * const waits = [0, 1, 2, 3].map((n) => Math.min(POLL_FIRST_DELAY_MS * POLL_BACKOFF ** n, POLL_MAX_DELAY_MS));
 * ```
 */
export const POLL_FIRST_DELAY_MS = 40;

/**
 * The factor each poll's wait grows by.
 *
 * @example
 * ```ts
 * import { POLL_BACKOFF } from "@acmets/acme-client";
 * console.log(POLL_BACKOFF); // 1.6
 * ```
 */
export const POLL_BACKOFF = 1.6;

/**
 * The longest wait between polls, in ms, unless the CA's Retry-After asks for longer.
 *
 * @example
 * ```ts
 * import { POLL_MAX_DELAY_MS } from "@acmets/acme-client";
 * console.log(POLL_MAX_DELAY_MS); // 3000
 * ```
 */
export const POLL_MAX_DELAY_MS = 3000;

/**
 * Waits first (the caller has just changed the resource), starting fast and backing off; the CA's Retry-After wins (§8.2).
 * Gives up with a TimeoutError once the next wait would end after `timeoutMs`.
 */
export async function pollUntil<T extends { status: string }>(
  transport: Transport, timeoutMs: number, what: string, url: string,
  fetchOnce: () => Promise<{ value: T; retryAfter?: Date | undefined }>, done: (value: T) => boolean,
): Promise<T> {
  const { now, sleep } = transport;
  const deadline = now() + timeoutMs;
  let delay = POLL_FIRST_DELAY_MS;
  let retryAfter: Date | undefined;
  let last: T | undefined;
  for (;;) {
    const wait = retryAfter ? Math.max(0, retryAfter.getTime() - now()) : delay;
    if (now() + wait > deadline) {
      const state = last ? `still "${last.status}"` : 'no answer';
      const asked = retryAfter ? `, and the CA asks to retry after ${retryAfter.toISOString()}` : '';
      throw new DOMException(`Cannot wait for ${what} ${url}: ${state} after ${Math.round(timeoutMs / 1000)} s${asked}`, 'TimeoutError');
    }
    await sleep(wait, transport.signal);
    const result = await fetchOnce();
    last = result.value;
    if (done(last)) return last;
    retryAfter = result.retryAfter;
    delay = Math.min(Math.round(delay * POLL_BACKOFF), POLL_MAX_DELAY_MS);
  }
}
