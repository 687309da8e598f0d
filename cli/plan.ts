// What a run has to do, decided from the certificate on disk before any network: acme-client(1)'s rules for
// names (-e) and forcing (-F), and the lifetime-based renewal time. Pure, so the cron path is testable offline.

import type { CertificateSummary } from '../core/_der-lite.ts';
import { compareIdentifiers, identifiersOf, type Identifier } from '../core/names.ts';
import { renewalTime } from '../core/renewal.ts';
import type { CliOptions } from './args.ts';

/** acme-client(1)'s exit status: 0 certificates changed, 2 nothing to do, 1 failure. */
export const EXIT_CHANGED = 0;
export const EXIT_FAILURE = 1;
export const EXIT_UNCHANGED = 2;

export type Plan =
  | { action: 'issue' }
  /**
   * `renewAt` is set when the time made it due (then the CA's renewal window may still move it, cli/renewal-info.ts),
   * `replaces` when the CA can count the order as the renewal of the certificate (RFC 9773 §5).
   */
  | { action: 'renew'; reason: string; renewAt?: Date; replaces?: string }
  /** `why`: what set renewAt when it was not the lifetime rule alone, e.g. the CA's window. */
  | { action: 'unchanged'; renewAt: Date; notAfter: Date; why?: string }
  | { action: 'revoke' };

const list = (identifiers: Identifier[]) => identifiers.map((identifier) => identifier.value).join(', ');

/**
 * Names must match the certificate's; -e lets new ones in (and then forces renewal), but a name the certificate
 * has and the command line lacks is always an error, as in acme-client(1), so a typo never drops a site.
 */
export function planRun(
  options: Pick<CliOptions, 'force' | 'expand' | 'revoke'>,
  identifiers: readonly Identifier[],
  existing: Pick<CertificateSummary, 'notBefore' | 'notAfter' | 'dnsNames' | 'ipAddresses'> | undefined,
  certFile: string,
  now: Date,
  /** Why cert.pem, chain.pem, fullchain.pem and the domain key are not one set (cli/set-check.ts); a new set repairs it. */
  mismatch?: string,
): Plan {
  if (!existing) {
    if (options.revoke) throw new RangeError(`Cannot revoke: there is no certificate at ${certFile}`);
    return { action: 'issue' };
  }
  const { missing: added, extra: dropped } = compareIdentifiers(identifiersOf(existing), identifiers);
  if (dropped.length) throw new RangeError(`The certificate ${certFile} also covers ${list(dropped)}: name every domain it has`);
  if (added.length && (options.revoke || !options.expand)) {
    throw new RangeError(`The certificate ${certFile} does not cover ${list(added)}${options.revoke ? '' : ': use -e to add names'}`);
  }
  if (options.revoke) return { action: 'revoke' };
  if (mismatch) return { action: 'renew', reason: mismatch };
  if (added.length) return { action: 'renew', reason: `adding ${list(added)}` };
  if (options.force) return { action: 'renew', reason: 'forced by -F' };
  const renewAt = renewalTime(existing);
  if (now >= renewAt) return { action: 'renew', reason: `due since ${renewAt.toISOString()}`, renewAt };
  return { action: 'unchanged', renewAt, notAfter: existing.notAfter };
}
