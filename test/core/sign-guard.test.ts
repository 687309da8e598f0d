// The key process's guard (cli/sign-guard.ts): what an issuance, a renewal and a revocation get signed, and the
// requests a network process taken over could ask for and must be refused; and the external account binding it adds.
import { assertEquals, assertThrows, test } from '../_harness.ts';
import { base64UrlDecode, utf8Decode } from '../../core/encoding.ts';
import { signExternalAccountBinding, type ExternalAccountBinding, type JwsHeaderFields } from '../../core/jws.ts';
import { generateKey } from '../../core/keys.ts';
import { normalizeIdentifiers } from '../../core/names.ts';
import { localSigner } from '../../core/signer.ts';
import { bindingAccounts, signGuard, type SignPolicy } from '../../cli/sign-guard.ts';

const CA = 'https://ca.test:14000';
const ACCOUNT = `${CA}/my-account/1`;
const ISSUE: SignPolicy = { origin: CA, names: { domain: ['a.example', 'b.example'] } };
const REVOKE: SignPolicy = { ...ISSUE, revoke: 'MIIBcert' };
const byAccount = (url: string, nonce = 'n0nce') => ({ url: `${CA}${url}`, nonce, kid: ACCOUNT });
const byKey = (url: string) => ({ url: `${CA}${url}`, nonce: 'n0nce' });

test('sign guard: an issuance gets its account, order, challenges, polls, finalize and CSR signed', () => {
  const guard = signGuard(ISSUE);
  guard.checkSign({ key: 'account', payload: { termsOfServiceAgreed: true, contact: ['mailto:a@b.example'] }, header: byKey('/new-acct') });
  guard.checkSign({ key: 'account', payload: { onlyReturnExisting: true }, header: byKey('/new-acct') });
  guard.checkSign({ key: 'account', payload: { identifiers: [{ type: 'dns', value: 'B.example' }, { type: 'dns', value: 'a.example' }] }, header: byAccount('/new-order') });
  guard.checkSign({ key: 'account', payload: undefined, header: byAccount('/authz/1') });
  guard.checkSign({ key: 'account', payload: {}, header: byAccount('/chall/1') });
  guard.checkSign({ key: 'account', payload: { csr: 'MIIB' }, header: byAccount('/finalize/1') });
  guard.checkCsr('domain', { identifiers: normalizeIdentifiers(['b.example', 'a.example']) });
});

test('sign guard: another origin, a missing nonce, an account elsewhere are refused', () => {
  const guard = signGuard(ISSUE);
  assertThrows(() => guard.checkSign({ key: 'account', payload: undefined, header: { url: 'https://evil.test/order/1', nonce: 'n', kid: ACCOUNT } }), Error,
    "The key process refuses to sign a request for https://evil.test/order/1: it is not on the CA's origin https://ca.test:14000");
  assertThrows(() => guard.checkSign({ key: 'account', payload: undefined, header: { url: 'https://ca.test:443/order/1', nonce: 'n', kid: ACCOUNT } }), Error, "not on the CA's origin");
  assertThrows(() => guard.checkSign({ key: 'account', payload: undefined, header: { url: `${CA}/order/1`, kid: ACCOUNT } }), Error, 'it carries no nonce (RFC 8555 §6.5)');
  assertThrows(() => guard.checkSign({ key: 'account', payload: undefined, header: { url: `${CA}/order/1`, nonce: 'n', kid: 'https://evil.test/acct/1' } }), Error, 'is not on the CA\'s origin');
  assertThrows(() => guard.checkSign({ key: 'account', payload: undefined, header: { url: 'not a url', nonce: 'n' } }), Error, 'it is not a URL');
});

test('sign guard: a renewal never gets a key change, a deactivation, an account update or a revocation signed', () => {
  const guard = signGuard(ISSUE);
  const inner = { protected: 'e30', payload: 'e30', signature: 'AA' };
  assertThrows(() => guard.checkSign({ key: 'account', payload: inner, header: byAccount('/rollover-account-key') }), Error, 'refuses to sign an account key change');
  assertThrows(() => guard.checkSign({ key: 'account', payload: { status: 'deactivated' }, header: byAccount('/my-account/1') }), Error, 'refuses to sign a deactivation');
  assertThrows(() => guard.checkSign({ key: 'account', payload: { contact: ['mailto:x@evil.test'] }, header: byAccount('/my-account/1') }), Error, 'refuses to sign an account update');
  assertThrows(() => guard.checkSign({ key: 'account', payload: { certificate: 'MIIBcert' }, header: byAccount('/revoke-cert') }), Error, 'a revocation for https://ca.test:14000/revoke-cert: only -r revokes');
  assertThrows(() => guard.checkSign({ key: 'domain', payload: { certificate: 'MIIBcert' }, header: byKey('/revoke-cert') }), Error, 'only -r revokes');
});

test('sign guard: orders and CSRs name this run\'s identifiers alone; the domain key signs no request but a revocation', () => {
  const guard = signGuard(ISSUE);
  assertThrows(() => guard.checkSign({ key: 'account', payload: { identifiers: [{ type: 'dns', value: 'a.example' }, { type: 'dns', value: 'evil.example' }] }, header: byAccount('/new-order') }),
    Error, 'it names other identifiers than a.example, b.example');
  assertThrows(() => guard.checkCsr('domain', { identifiers: normalizeIdentifiers(['a.example']) }), Error, 'refuses to build a CSR for other names');
  assertThrows(() => guard.checkCsr('account', { identifiers: normalizeIdentifiers(['a.example', 'b.example']) }), Error, 'only a domain key is a certificate key');
  assertThrows(() => guard.checkSign({ key: 'domain', payload: undefined, header: byAccount('/order/1') }), Error, 'the domain key signs only a revocation');
});

test('sign guard: -r gets the revocation of its certificate signed, by either key, and nothing else', () => {
  const guard = signGuard(REVOKE);
  guard.checkSign({ key: 'domain', payload: { certificate: 'MIIBcert' }, header: byKey('/revoke-cert') });
  guard.checkSign({ key: 'account', payload: { onlyReturnExisting: true }, header: byKey('/new-acct') });
  guard.checkSign({ key: 'account', payload: { certificate: 'MIIBcert', reason: 4 }, header: byAccount('/revoke-cert') });
  assertThrows(() => guard.checkSign({ key: 'account', payload: { certificate: 'MIIBother' }, header: byAccount('/revoke-cert') }), Error, 'it names another certificate than the one -r revokes');
  assertThrows(() => guard.checkSign({ key: 'account', payload: { identifiers: [{ type: 'dns', value: 'a.example' }, { type: 'dns', value: 'b.example' }] }, header: byAccount('/new-order') }),
    Error, 'a revocation run only finds the account and revokes');
  assertThrows(() => guard.checkCsr('domain', { identifiers: normalizeIdentifiers(['a.example', 'b.example']) }), Error, 'this run revokes');
});

test('key process: a newAccount that creates an account gets the external account binding added, over the account key and its URL; nothing else does', async () => {
  const account = localSigner(await generateKey('ec256'));
  let eab: ExternalAccountBinding | undefined;
  const signer = bindingAccounts(account, () => eab);
  const payloadOf = async (payload: unknown, header: JwsHeaderFields) => JSON.parse(utf8Decode(base64UrlDecode((await signer.signJws(payload, header)).payload))) as Record<string, unknown>;
  // Before the parent hands the binding over, and with none, the payload stays as asked.
  assertEquals(await payloadOf({ termsOfServiceAgreed: true }, byKey('/new-acct')), { termsOfServiceAgreed: true });
  eab = { kid: 'kid-1', hmacKey: 'c2VjcmV0LWtleS1mcm9tLXRoZS1jYQ' };
  const created = await payloadOf({ termsOfServiceAgreed: true }, byKey('/new-acct'));
  assertEquals(created.externalAccountBinding, await signExternalAccountBinding(eab, account.publicJwk, `${CA}/new-acct`));
  assertEquals(await payloadOf({ onlyReturnExisting: true }, byKey('/new-acct')), { onlyReturnExisting: true });
  assertEquals(await payloadOf({ identifiers: [] }, byAccount('/new-order')), { identifiers: [] });
});
