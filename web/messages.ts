// What the page tells a person when something fails: the CA's own words where it gave some, and for the
// failures a browser hides (CORS, an unreachable host) what most likely happened and what to do instead.

import { AcmeError, isRateLimited, type Problem, type Subproblem } from '../core/errors.ts';

/** How a failed fetch was diagnosed (adapters/browser.ts diagnoseFetchFailure). */
export type NetworkFailure = 'no-cors' | 'unreachable';

/** Whether `error` is a fetch that never got an answer: core/http.ts wraps the browser's TypeError as the cause. */
export function isFetchFailure(error: unknown): boolean {
  return error instanceof Error && error.cause instanceof TypeError;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** A local date and time a person can read, with the UTC form for someone writing it down or reporting it. */
export function formatRetryTime(date: Date): string {
  const local = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return `${local} (${date.toISOString().slice(0, 16).replace('T', ' ')} UTC)`;
}

/** The CA's detail with the error type's short name (RFC 8555 §6.7), e.g. "CAA record forbids issuance (caa)". */
export function problemText(problem: Problem | Subproblem): string {
  const type = problem.type.replace(/^urn:ietf:params:acme:error:/, '');
  return problem.detail ? `${problem.detail} (${type})` : type;
}

/**
 * Boulder (Let's Encrypt) exposes only Link, Replay-Nonce and Location to pages (Access-Control-Expose-Headers), so
 * a browser cannot read its Retry-After header; the same time is in its detail: "…, retry after 2025-12-31 04:04:56 UTC".
 */
export function retryTimeInDetail(detail: string | undefined): Date | undefined {
  const match = /retry after (\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?(?: ?UTC|Z)/i.exec(detail ?? '');
  const date = match ? new Date(`${match[1]}T${match[2]}Z`) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

export interface ErrorContext {
  /** The CA's directory URL, to name the CA. */
  directoryUrl: string;
  /** Set when isFetchFailure(error) and the page probed the CA. */
  network?: NetworkFailure;
}

export function describeError(error: unknown, context: ErrorContext): string {
  const host = hostOf(context.directoryUrl);
  if (context.network === 'no-cors') {
    return `The CA at ${host} answered, but it does not allow web pages to use it: its answers lack the CORS headers `
      + '(Access-Control-Allow-Origin) a browser needs. ZeroSSL, for one, does not send them; Let\'s Encrypt does. '
      + 'For this CA, use a command-line ACME client such as this project\'s acme-client.';
  }
  if (context.network === 'unreachable') {
    return `Cannot reach the CA at ${host}: no answer came back. Check the directory URL and your connection; `
      + 'a CA whose TLS certificate this browser does not trust fails the same way.';
  }
  if (isRateLimited(error)) {
    const retryAfter = error.retryAfter ?? retryTimeInDetail(error.problem.detail);
    const when = retryAfter ? `Try again after ${formatRetryTime(retryAfter)}.` : 'The CA gave no time to try again; wait before retrying.';
    return `The CA is limiting requests like this one: ${error.problem.detail ?? error.problem.type}. ${when}`;
  }
  if (error instanceof AcmeError) {
    const { problem } = error;
    const about = error.identifier ?? problem.identifier;
    const lines = [`The CA refused${about ? ` ${about.value}` : ''}: ${problemText(problem)}`];
    for (const sub of problem.subproblems ?? []) lines.push(`• ${sub.identifier ? `${sub.identifier.value}: ` : ''}${problemText(sub)}`);
    return lines.join('\n');
  }
  return error instanceof Error ? error.message : String(error);
}
