// The private-key operations the protocol needs, behind one small interface: a key can sign in this process
// (localSigner) or in another one that the flow reaches over a byte stream (signer-protocol.ts), as acme-client(1)'s
// acctproc and keyproc do. The transport, the client and the flow see only this, and a thumbprint needs the public key.

import type { PublicJwk, SignatureAlgorithm } from './engine.ts';
import type { AcmeKey } from './keys.ts';
import type { Identifier } from './names.ts';
import { createCsr } from './csr.ts';
import { signJws, type FlattenedJws, type JwsHeaderFields } from './jws.ts';

/**
 * What a CSR is built for: the names (normalised, the first one the CN) and whether it asks for must-staple.
 *
 * @example
 * ```ts
 * import { normalizeIdentifiers, type CsrRequest } from "@acmets/acme-client";
 * const request: CsrRequest = { identifiers: normalizeIdentifiers(["example.com"]), mustStaple: false };
 * ```
 */
export interface CsrRequest {
  /** In normalised form (names.ts); the first DNS name becomes the subject CN. */
  identifiers: readonly Identifier[];
  /** The TLS Feature extension (RFC 7633). */
  mustStaple?: boolean;
}

/**
 * A private key seen from outside: its public half, a JWS over a payload for one URL and nonce (RFC 8555 §6.2), and a
 * CSR (RFC 2986). The key itself may be in this process or in another one.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, localSigner } from "@acmets/acme-client";
 * const signer = localSigner(await generateKey("ec256"));
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: signer });
 * ```
 */
export interface KeySigner {
  /** The public key: the JWS `jwk` header (§6.2), the thumbprint of key authorizations (§8.1), certificate checks. */
  readonly publicJwk: PublicJwk;
  /** The JWS algorithm it signs with. */
  readonly algorithm: SignatureAlgorithm;
  /** The flattened JWS of `payload` (undefined for POST-as-GET, §6.3) with these protected header fields. */
  signJws(payload: unknown, header: JwsHeaderFields): Promise<FlattenedJws>;
  /** A DER PKCS#10 request for these names, signed by this key (a certificate key; never the account key, §11.1). */
  createCsr(request: CsrRequest): Promise<Uint8Array>;
}

/**
 * The signer for a key held in this process.
 *
 * @example
 * ```ts
 * import { generateKey, localSigner, normalizeIdentifiers } from "@acmets/acme-client";
 * const signer = localSigner(await generateKey("ec256"));
 * const csr = await signer.createCsr({ identifiers: normalizeIdentifiers(["example.com"]) });
 * ```
 */
export function localSigner(key: AcmeKey): KeySigner {
  return Object.freeze({
    publicJwk: key.publicJwk,
    algorithm: key.algorithm,
    signJws: (payload: unknown, header: JwsHeaderFields) => signJws(key, payload, header),
    createCsr: (request: CsrRequest) => createCsr({ key, identifiers: request.identifiers, mustStaple: request.mustStaple ?? false }),
  });
}

/**
 * The signer for a key or a signer: the library takes either wherever a key signs.
 *
 * @example
 * ```ts
 * import { generateKey, signerOf } from "@acmets/acme-client";
 * const signer = signerOf(await generateKey("ec256"));
 * console.log(signer.algorithm); // "ES256"
 * ```
 */
export function signerOf(key: AcmeKey | KeySigner): KeySigner {
  return 'signJws' in key ? key : localSigner(key);
}
