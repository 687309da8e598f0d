// The library's public entry: everything a CLI, a page or a Deno script needs to issue and manage certificates.

export type {
  CryptoEngine, EcCurve, EcPrivateJwk, EcPublicJwk, EngineName, HashName, HmacAlgorithm, KeyType, PrivateJwk, PublicJwk, RsaPrivateJwk, RsaPublicJwk,
  SignatureAlgorithm,
} from './engine.ts';
export { KEY_TYPES, loadEngine } from './engine.ts';
export * from './keys.ts';
export * from './key-pem.ts';
export * from './jws.ts';
export * from './signer.ts';
export * from './names.ts';
export * from './csr.ts';
export * from './x509.ts';
export * from './errors.ts';
export { Transport, checkAcmeUrl, isLoopbackHost, type AcmeResponse, type Expect, type RequestSpec, type Signer, type Sleep, type TransportOptions } from './http.ts';
export * from './headers.ts';
export { DEFAULT_RETRY_POLICY, backoffDelay, isTransientStatus, worstFaultTimeMs, type RetryPolicy } from './retry.ts';
export * from './resources.ts';
export * from './responses.ts';
export * from './client.ts';
export { POLL_BACKOFF, POLL_FIRST_DELAY_MS, POLL_MAX_DELAY_MS } from './poll.ts';
export * from './flow.ts';
export * from './renewal.ts';
export * from './ari.ts';
export * from './profiles.ts';
export * from './caa.ts';
export * from './tls-alpn.ts';
