import { assertEquals, assertThrows, test } from '../_harness.ts';
import { isRenewalDue, renewalTime } from '../../core/renewal.ts';

const DAY = 24 * 60 * 60 * 1000;
const START = Date.UTC(2025, 0, 1);
const issued = (days: number) => ({ notBefore: new Date(START), notAfter: new Date(START + days * DAY) });

const WINDOWS: [string, number, number][] = [
  // lifetime in days, expected days before expiry at which renewal becomes due
  ['90-day (acme-client(1)\'s 30 days)', 90, 30],
  ['6-day (a third)', 6, 2],
  ['160-hour shortlived (a third)', 160 / 24, 160 / 24 / 3],
  ['45-day tlsserver (a third)', 45, 15],
  ['64-day classic of 2027 (a third)', 64, 64 / 3],
  ['1-year (capped at 30 days)', 365, 30],
];

for (const [name, lifetime, window] of WINDOWS) {
  test(`renewalTime: ${name}`, () => {
    const cert = issued(lifetime);
    assertEquals(renewalTime(cert).getTime(), cert.notAfter.getTime() - window * DAY);
    assertEquals(isRenewalDue(cert, new Date(cert.notAfter.getTime() - window * DAY - 1)), false);
    assertEquals(isRenewalDue(cert, new Date(cert.notAfter.getTime() - window * DAY)), true);
  });
}

test('isRenewalDue: an expired certificate is due, a fresh one is not', () => {
  const cert = issued(90);
  assertEquals(isRenewalDue(cert, new Date(cert.notAfter.getTime() + DAY)), true);
  assertEquals(isRenewalDue(cert, new Date(START)), false);
});

test('renewalTime: an invalid date is refused', () => {
  assertThrows(() => renewalTime({ notBefore: new Date(NaN), notAfter: new Date(START) }), RangeError, 'invalid date');
});
