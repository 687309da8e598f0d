// What the key process agrees to sign. acme-client(1)'s acctproc and lacme-accountd sign whatever is well-formed; a
// network process taken over by a hostile CA or a parser bug could then roll the account key over, deactivate the
// account or revoke certificates. This guard signs only what the run the parent started needs, for its CA alone.

import { signExternalAccountBinding, type ExternalAccountBinding } from '../core/jws.ts';
import type { SignerGuard, SignRequest } from '../core/signer-protocol.ts';
import type { CsrRequest, KeySigner } from '../core/signer.ts';
import { compareIdentifiers, normalizeIdentifiers, type Identifier } from '../core/names.ts';

/** The parent's decision for one run: the CA, the names, and whether -r asked to revoke one certificate. */
export interface SignPolicy {
  /** The origin of the directory URL; every signed URL must be on it (RFC 8555 §6.4 binds a JWS to its URL). */
  origin: string;
  /**
   * Each domain key of the run with its set's names: the only names an order may name, and the only ones a CSR with
   * that key may. Every other key is an account key. The parent adds a set as the run comes to it (--renew-all).
   */
  names: Record<string, string[]>;
  /** Under -r: the base64url DER of the one certificate a revocation may name. */
  revoke?: string;
}

/** The requests RFC 8555 defines, told apart by their payload and by whether they name the account (§6.2). */
type Operation = 'new-account' | 'fetch' | 'new-order' | 'challenge' | 'finalize' | 'revoke' | 'key-change' | 'deactivate' | 'account-update';

const NEW_ACCOUNT_FIELDS = new Set(['termsOfServiceAgreed', 'contact', 'onlyReturnExisting', 'externalAccountBinding']);

function operationOf(payload: unknown, byAccount: boolean): Operation {
  if (payload === undefined) return 'fetch'; // §6.3 POST-as-GET
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return 'account-update';
  const fields = Object.keys(payload);
  const has = (field: string) => Object.hasOwn(payload, field);
  if (has('protected') && has('signature')) return 'key-change'; // §7.3.5: the inner JWS is the payload
  if ((payload as { status?: unknown }).status === 'deactivated') return 'deactivate'; // §7.3.6, §7.5.2
  if (has('certificate')) return 'revoke'; // §7.6
  if (byAccount && has('identifiers')) return 'new-order'; // §7.4
  if (byAccount && fields.length === 1 && has('csr')) return 'finalize'; // §7.4
  if (byAccount && fields.length === 0) return 'challenge'; // §7.5.1
  if (!byAccount && fields.every((field) => NEW_ACCOUNT_FIELDS.has(field))) return 'new-account'; // §7.3
  return 'account-update';
}

const NAMES: Record<Operation, string> = {
  'new-account': 'a new account',
  fetch: 'a POST-as-GET',
  'new-order': 'a new order',
  challenge: 'a challenge response',
  finalize: 'a finalization',
  revoke: 'a revocation',
  'key-change': 'an account key change',
  deactivate: 'a deactivation',
  'account-update': 'an account update',
};

function sameNames(identifiers: readonly Identifier[], names: readonly string[]): boolean {
  const { missing, extra } = compareIdentifiers(identifiers, normalizeIdentifiers(names));
  return missing.length === 0 && extra.length === 0;
}

/** The guard for a key process that holds account and domain keys under `policy`, which it reads at each request. */
export function signGuard(policy: SignPolicy): SignerGuard {
  const refuse = (what: string, url: string, why: string): never => {
    throw new Error(`The key process refuses to sign ${what} for ${url}: ${why}`);
  };
  const isDomainKey = (key: string) => Object.hasOwn(policy.names, key);
  const allNames = () => Object.values(policy.names).map((names) => names.join(', ')).join('; ') || 'none';
  return {
    checkSign({ key, payload, header }: SignRequest) {
      let origin: string;
      try {
        origin = new URL(header.url).origin;
      } catch {
        return refuse('a request', JSON.stringify(header.url), 'it is not a URL');
      }
      if (origin !== policy.origin) refuse('a request', header.url, `it is not on the CA's origin ${policy.origin}`);
      if (!header.nonce || !/^[A-Za-z0-9_-]+$/.test(header.nonce)) refuse('a request', header.url, 'it carries no nonce (RFC 8555 §6.5)');
      const operation = operationOf(payload, header.kid !== undefined);
      const what = NAMES[operation];
      if (header.kid !== undefined && new URL(header.kid).origin !== policy.origin) refuse(what, header.url, `the account ${header.kid} is not on the CA's origin`);
      if (operation === 'revoke') {
        if (policy.revoke === undefined) refuse(what, header.url, 'only -r revokes');
        if ((payload as { certificate?: unknown }).certificate !== policy.revoke) refuse(what, header.url, 'it names another certificate than the one -r revokes');
        return;
      }
      // The domain key signs a revocation and nothing else (§7.6); a CSR is not a JWS.
      if (isDomainKey(key)) refuse(what, header.url, 'the domain key signs only a revocation');
      if (policy.revoke !== undefined && operation !== 'new-account' && operation !== 'fetch') refuse(what, header.url, 'a revocation run only finds the account and revokes');
      switch (operation) {
        case 'new-account':
        case 'fetch':
        case 'challenge':
        case 'finalize':
          return;
        case 'new-order':
          if (!Object.values(policy.names).some((names) => sameNames((payload as { identifiers: Identifier[] }).identifiers, names))) {
            refuse(what, header.url, `it names other identifiers than ${allNames()}`);
          }
          return;
        default:
          refuse(what, header.url, 'this run does not need it');
      }
    },
    checkCsr(key: string, request: CsrRequest) {
      if (!isDomainKey(key)) throw new Error(`The key process refuses to build a CSR with the ${key} key: only a domain key is a certificate key (RFC 8555 §11.1)`);
      if (policy.revoke !== undefined) throw new Error('The key process refuses to build a CSR: this run revokes');
      if (!sameNames(request.identifiers, policy.names[key]!)) throw new Error(`The key process refuses to build a CSR for other names than ${policy.names[key]!.join(', ')}`);
    },
  };
}

/**
 * Issue 10's rule: a new key is on disk, fsynced, before the CA can learn of it. The account key's public key goes
 * out in newAccount's JWS header (RFC 8555 §7.3), and the domain key's in the CSR that finalize carries (§7.4), so
 * both are written, once each, before the account key signs those requests: `persist` gets 'account', or 'domain'
 * with the CSR, which tells whose key it is when one account finalizes orders of several sets.
 */
export function persistingFirst(account: KeySigner, persist: (which: 'account' | 'domain', csr?: string) => Promise<unknown>): KeySigner {
  const written = new Map<string, Promise<unknown>>();
  const once = (what: string, write: () => Promise<unknown>) => written.get(what) ?? written.set(what, write()).get(what)!;
  return {
    publicJwk: account.publicJwk,
    algorithm: account.algorithm,
    signJws: async (payload, header) => {
      if (header.kid === undefined) await once('account', () => persist('account'));
      const csr = typeof payload === 'object' && payload !== null ? (payload as { csr?: unknown }).csr : undefined;
      if (typeof csr === 'string') await once(`csr ${csr}`, () => persist('domain', csr));
      return account.signJws(payload, header);
    },
    createCsr: (request) => account.createCsr(request),
  };
}

/**
 * The account signer of the key process, which alone holds the external account binding's MAC key (RFC 8555 §7.3.4)
 * once the parent hands it over: a newAccount request that creates an account gets the binding added to its payload
 * here, over the account key and the request's URL, so the network process never holds the MAC key.
 */
export function bindingAccounts(account: KeySigner, binding: () => ExternalAccountBinding | undefined): KeySigner {
  return {
    publicJwk: account.publicJwk,
    algorithm: account.algorithm,
    signJws: async (payload, header) => {
      const eab = binding();
      const creates = header.kid === undefined && typeof payload === 'object' && payload !== null && !Object.hasOwn(payload, 'onlyReturnExisting');
      if (!eab || !creates) return account.signJws(payload, header);
      return account.signJws({ ...payload, externalAccountBinding: await signExternalAccountBinding(eab, account.publicJwk, header.url) }, header);
    },
    createCsr: (request) => account.createCsr(request),
  };
}
