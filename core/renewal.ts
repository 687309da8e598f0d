// When a certificate is due for renewal: a rule that scales with the lifetime, so short-lived certificates
// (Let's Encrypt's 160-hour `shortlived`, 45-day `tlsserver`) are neither renewed on every run nor left too late.

const DAY_MS = 24 * 60 * 60 * 1000;
/** acme-client(1)'s fixed window: a long-lived certificate renews 30 days before it expires. */
const MAX_WINDOW_MS = 30 * DAY_MS;

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * The moment renewal becomes due: when less than a third of the lifetime remains, but with at most 30 days to
 * go. A 90-day certificate renews 30 days before expiry (as acme-client(1) always did), a 45-day one at 15 days,
 * a 6-day one at 2 days, and a 1-year one at 30 days. Let's Encrypt recommends renewing at two thirds of the
 * lifetime; a fixed 30-day window would renew any certificate shorter than that on every run.
 */
export function renewalTime(cert: Validity): Date {
  const notBefore = cert.notBefore.getTime();
  const notAfter = cert.notAfter.getTime();
  if (!Number.isFinite(notBefore) || !Number.isFinite(notAfter)) throw new RangeError('Cannot compute a renewal time: the validity holds an invalid date');
  const lifetime = Math.max(0, notAfter - notBefore);
  return new Date(notAfter - Math.min(lifetime / 3, MAX_WINDOW_MS));
}

export function isRenewalDue(cert: Validity, now: Date = new Date()): boolean {
  return now.getTime() >= renewalTime(cert).getTime();
}
