// The key types, apart from the engines: the CLI's argument check needs the list without loading any crypto.

/**
 * The key types ACME CAs accept for accounts and certificates: RSA 2048, 3072 or 4096 bits, ECDSA P-256 or P-384.
 *
 * @example
 * ```ts
 * import { generateKey, type KeyType } from "@acmets/acme-client";
 * const type: KeyType = "ec256";
 * const key = await generateKey(type);
 * ```
 */
export type KeyType = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'ec256' | 'ec384';

/**
 * Every KeyType, in the order the CLI lists them.
 *
 * @example
 * ```ts
 * import { KEY_TYPES } from "@acmets/acme-client";
 * console.log(KEY_TYPES.includes("rsa4096")); // true
 * ```
 */
export const KEY_TYPES: readonly KeyType[] = ['rsa2048', 'rsa3072', 'rsa4096', 'ec256', 'ec384'];
