// SHA-2 and HMAC from @noble/hashes for the engines that run where crypto.subtle is missing (DESIGN.md).

import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { HashName } from './engine.ts';
import { checkHmacKey } from './engine.ts';

const HASHES = { 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 } as const;

export async function nobleDigest(hash: HashName, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(HASHES[hash](data));
}

export async function nobleHmac(hash: HashName, key: Uint8Array, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  checkHmacKey(key);
  return new Uint8Array(hmac(HASHES[hash], key, data));
}
