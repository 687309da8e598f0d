// What the client does when the answer to a request that changes something is lost (RFC 8555 §6.3 requests are
// not idempotent): for each such request, how to tell from the CA whether the first one took effect.

import { AcmeError, isAccountDoesNotExist } from './errors.ts';
import type { AcmeResponse, RequestSpec, Transport } from './http.ts';
import type { KeySigner } from './signer.ts';
import type { Challenge } from './resources.ts';
import { readChallenge, readOrder } from './responses.ts';

type Recover = NonNullable<RequestSpec['recover']>;

/** §7.3.1: newAccount with onlyReturnExisting, signed by `key`, answers with that key's account, or none. */
export async function lookUpAccount(transport: Transport, newAccountUrl: string, key: KeySigner): Promise<AcmeResponse | undefined> {
  try {
    return await transport.post(newAccountUrl, { onlyReturnExisting: true }, { key }, { action: 'find account', expect: 'json' });
  } catch (error) {
    if (isAccountDoesNotExist(error)) return undefined;
    throw error;
  }
}

/**
 * §7.3.5: after a lost answer only the CA knows which key the account has now: the account found under the new key
 * means the rollover happened; otherwise it is sent again.
 */
export function recoverRollover(transport: Transport, newAccountUrl: string, newKey: KeySigner, accountUrl: string): Recover {
  return async () => {
    const found = await lookUpAccount(transport, newAccountUrl, newKey);
    return found?.location === accountUrl ? found : undefined;
  };
}

/**
 * §7.4: a finalize the CA acted on moves the order on from "ready", so after a lost answer the order is read, and
 * only an order still "ready" gets the CSR again.
 */
export function recoverFinalize(orderUrl: string, fetchOrder: () => Promise<AcmeResponse>): Recover {
  return async () => {
    const response = await fetchOrder();
    return readOrder(response.body, orderUrl).status === 'ready' ? undefined : response;
  };
}

/**
 * A request the transport may send again after a lost answer, remembering that it did: the CA's refusal of the second
 * one can then mean the first one worked (§7.5.1 challenge responses, §7.6 revocations). `check`, when given, reads
 * state first and answers for a first request that took effect, which is then not sent again.
 */
export class Resend {
  /** Whether the request was sent again. */
  repeated = false;
  readonly #check: Recover | undefined;

  constructor(check?: Recover) {
    this.#check = check;
  }

  /** For RequestSpec.recover: check, else send again and remember it. */
  readonly recover: Recover = async () => {
    const found = await this.#check?.();
    if (found) return found;
    this.repeated = true;
    return undefined;
  };
}

/**
 * §7.5.1: before a challenge response is sent again, the challenge is read. A CA that acted on the first one shows
 * it by a status past "pending" or by the time its validation began (`validated`): Pebble 2.4 keeps a challenge
 * "pending" while it validates and starts a second validation for a second response, which fails on its own once
 * the response is cleaned up and turns the order invalid, after it was "ready".
 */
export function recoverChallenge(url: string, fetchChallenge: () => Promise<AcmeResponse>): Recover {
  return async () => {
    const response = await fetchChallenge();
    const challenge = readChallenge(response.body, url);
    return challenge.status !== 'pending' || challenge.validated !== undefined ? response : undefined;
  };
}

/**
 * §7.5.1: a challenge response sent again may still be refused because the first one started validation meanwhile
 * (Pebble: malformed, "Cannot update challenge with status processing"); then the challenge, no longer pending, is
 * the answer.
 */
export async function challengeAfterRefusal(error: unknown, resend: Resend, fetchChallenge: () => Promise<Challenge>): Promise<Challenge> {
  if (!resend.repeated || !(error instanceof AcmeError) || error.status >= 500) throw error;
  const challenge = await fetchChallenge();
  if (challenge.status === 'pending') throw error;
  return challenge;
}
