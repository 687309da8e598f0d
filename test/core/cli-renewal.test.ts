// The CLI's pure pieces for renewal: renewal-info.json read and written, when it can decide without asking the CA,
// the decision it leads to, and --renew-list's file format.
import { assert, assertEquals, test } from '../_harness.ts';
import { hexDecode } from '../../core/encoding.ts';
import type { CertificateSummary } from '../../core/_der-lite.ts';
import { decideFromState, formatRenewalState, isCurrent, parseRenewalState, serialOf, type RenewalState } from '../../cli/renewal-info.ts';
import { parseRenewList } from '../../cli/renew-many.ts';

const DAY = 24 * 60 * 60 * 1000;
/** Day `n` of a 90-day certificate issued on 2026-01-01; the lifetime rule makes it due on day 60. */
const at = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * DAY);
const CERT: CertificateSummary = { serialBytes: hexDecode('00fa11'), authorityKeyIdentifier: hexDecode('0102'), notBefore: at(0), notAfter: at(90), dnsNames: ['a.example'], ipAddresses: [] };
const URL_ = 'https://ca.example/renewal-info';
const STATE: RenewalState = {
  serial: '00fa11', renewalInfo: URL_, suggestedWindow: { start: at(40), end: at(42) }, explanationURL: 'https://ca.example/why', nextCheck: at(30.25),
};

test('renewal-info.json: the serial keeps DER\'s leading zero, and the state survives a round trip', () => {
  assertEquals(serialOf(CERT), '00fa11');
  assertEquals(parseRenewalState(formatRenewalState(STATE)), STATE);
  assertEquals(parseRenewalState(formatRenewalState({ serial: '01', renewalInfo: null })), { serial: '01', renewalInfo: null });
});

test('renewal-info.json: anything malformed counts as no state', () => {
  const text = (change: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(formatRenewalState(STATE)), ...change });
  for (const bad of ['', '{', 'null', '[]', '"x"', text({ serial: 1 }), text({ renewalInfo: 5 }), text({ suggestedWindow: { start: 'soon', end: '2026-01-02T00:00:00Z' } }),
    text({ suggestedWindow: 'x' }), text({ nextCheck: 'tomorrow' })]) {
    assertEquals(parseRenewalState(bad), undefined, bad);
  }
});

test('renewal-info.json decides alone only for its certificate, inside Retry-After, or for a CA without ARI', () => {
  assert(isCurrent(STATE, CERT, at(30)), 'inside Retry-After');
  assert(!isCurrent(STATE, CERT, at(30.25)), 'Retry-After has passed');
  assert(!isCurrent({ ...STATE, serial: '01' }, CERT, at(30)), 'another certificate');
  const { nextCheck: _, ...unasked } = STATE;
  assert(!isCurrent(unasked, CERT, at(30)), 'no answer yet');
  assert(isCurrent({ serial: '00fa11', renewalInfo: null }, CERT, at(89)), 'a CA without ARI is never asked');
});

test('renewal-info.json: the window decides, renewing a day early when the moment falls before the next daily run', () => {
  const moment = decideFromState(CERT, STATE, at(30)).at;
  assert(moment >= at(40) && moment < at(42), `chosen ${moment.toISOString()}`);
  assertEquals(decideFromState(CERT, STATE, at(30)), { due: false, at: moment, reason: 'ari', explanationURL: 'https://ca.example/why', nextCheck: at(30.25) });
  assertEquals(decideFromState(CERT, STATE, new Date(moment.getTime() - DAY / 2)).due, true);
  assertEquals(decideFromState(CERT, STATE, new Date(moment.getTime() - 2 * DAY)).due, false);
  // Without a window, the lifetime rule: due at day 60.
  assertEquals(decideFromState(CERT, { serial: '00fa11', renewalInfo: null }, at(59)), { due: false, at: at(60), reason: 'lifetime' });
  assertEquals(decideFromState(CERT, { serial: '00fa11', renewalInfo: URL_ }, at(60)).due, true);
});

test('--renew-list: one set per line, blanks between names, "#" comments, and a set listed twice named by line', () => {
  const text = '# sites\n\na.example www.a.example   # the shop\r\n  b.example\n#c.example\nA.example\n';
  assertEquals(parseRenewList(text, 'sets.txt'), [
    { label: 'a.example', names: ['a.example', 'www.a.example'] },
    { label: 'b.example', names: ['b.example'] },
    { label: 'A.example', names: ['A.example'], error: 'sets.txt line 6 lists A.example again (first on line 3)' },
  ]);
  assertEquals(parseRenewList('# nothing\n\n', 'sets.txt'), []);
});
