// The library's public entry: everything a CLI, a page or a Deno script needs to issue and manage certificates.

export type { KeyType, PublicJwk, PrivateJwk, SignatureAlgorithm, HmacAlgorithm } from './engine.ts';
export { KEY_TYPES } from './engine.ts';
export * from './keys.ts';
export * from './key-pem.ts';
export * from './jws.ts';
export * from './names.ts';
export * from './csr.ts';
export * from './x509.ts';
export * from './errors.ts';
export { checkAcmeUrl, isLoopbackHost, parseLinkHeader, parseRetryAfter, type Link, type Sleep, type TransportOptions } from './http.ts';
export * from './client.ts';
export * from './flow.ts';
export * from './renewal.ts';
export * from './ari.ts';
export * from './profiles.ts';
export * from './caa.ts';
