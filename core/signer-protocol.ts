// The signer protocol, over any byte stream (core/_line-rpc.ts): the side that holds keys serves them by name, and the
// side that talks to the CA gets a KeySigner for each, which asks for every JWS and CSR. Three operations:
//   keys → { NAME: { publicJwk, algorithm } }
//   sign { key, payload, header } → a flattened JWS (payload absent for POST-as-GET, RFC 8555 §6.3)
//   csr { key, identifiers, mustStaple } → the DER request, base64url
// The serving side checks each request with its guard before the key is used, so what it signs is its own decision.

import type { PublicJwk, SignatureAlgorithm } from './engine.ts';
import type { FlattenedJws, JwsHeaderFields } from './jws.ts';
import type { Identifier } from './names.ts';
import type { CsrRequest, KeySigner } from './signer.ts';
import { base64UrlDecode, base64UrlEncode, isBase64Url } from './encoding.ts';
import { keyTypeOfJwk, algorithmOf } from './keys.ts';
import { RpcClient, serveRpc, type LineChannel } from './_line-rpc.ts';

/** A JWS the client asks for: which key, the payload (undefined for POST-as-GET) and the protected header fields. */
export interface SignRequest {
  key: string;
  payload: unknown;
  header: JwsHeaderFields;
}

/** Refuses (throws) what the serving side will not sign; a request it returns from is signed. */
export interface SignerGuard {
  checkSign(request: SignRequest): void;
  checkCsr(key: string, request: CsrRequest): void;
}

type Params = Record<string, unknown>;

function signerNamed(signers: Readonly<Record<string, KeySigner>>, params: Params): [string, KeySigner] {
  const name = params.key;
  if (typeof name !== 'string' || !Object.hasOwn(signers, name)) throw new Error(`no key ${JSON.stringify(name)}`);
  return [name, signers[name]!];
}

function headerOf(params: Params): JwsHeaderFields {
  const header = params.header as Record<string, unknown> | null | undefined;
  if (typeof header !== 'object' || header === null || typeof header.url !== 'string') throw new Error('the request has no header with a url');
  const fields: JwsHeaderFields = { url: header.url };
  if (header.nonce !== undefined) {
    if (typeof header.nonce !== 'string') throw new Error('the nonce is not a string');
    fields.nonce = header.nonce;
  }
  if (header.kid !== undefined) {
    if (typeof header.kid !== 'string') throw new Error('the kid is not a string');
    fields.kid = header.kid;
  }
  return fields;
}

function identifiersOf(value: unknown): Identifier[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item?.value === 'string' && (item.type === 'dns' || item.type === 'ip'))) {
    throw new Error('the identifiers are not a list of {type, value}');
  }
  return value.map((item: Identifier) => ({ type: item.type, value: item.value }));
}

/**
 * Serves `signers` on `channel` until the other side closes it; `guard` decides what is signed, and `extra` adds
 * operations of the caller's own (the CLI's key process persists new keys with one).
 */
export function serveSigners(
  channel: LineChannel, signers: Readonly<Record<string, KeySigner>>, guard: SignerGuard, peer: string, extra: Record<string, (params: Params) => unknown> = {},
): Promise<void> {
  return serveRpc(channel, {
    ...extra,
    keys: () => Object.fromEntries(Object.entries(signers).map(([name, signer]) => [name, { publicJwk: signer.publicJwk, algorithm: signer.algorithm }])),
    sign: (params) => {
      const [key, signer] = signerNamed(signers, params);
      const request: SignRequest = { key, payload: params.payload, header: headerOf(params) };
      guard.checkSign(request);
      return signer.signJws(request.payload, request.header);
    },
    csr: async (params) => {
      const [key, signer] = signerNamed(signers, params);
      const request: CsrRequest = { identifiers: identifiersOf(params.identifiers), mustStaple: params.mustStaple === true };
      guard.checkCsr(key, request);
      return base64UrlEncode(await signer.createCsr(request));
    },
  }, peer);
}

function isJws(value: unknown): value is FlattenedJws {
  const jws = value as Record<string, unknown> | null;
  return typeof jws === 'object' && jws !== null && [jws.protected, jws.payload, jws.signature].every((part) => typeof part === 'string' && (part === '' || isBase64Url(part)));
}

function remoteSigner(rpc: RpcClient, name: string, publicJwk: PublicJwk, algorithm: SignatureAlgorithm, peer: string): KeySigner {
  return Object.freeze({
    publicJwk,
    algorithm,
    async signJws(payload: unknown, header: JwsHeaderFields) {
      const jws = await rpc.call('sign', { key: name, ...(payload !== undefined && { payload }), header });
      if (!isJws(jws)) throw new Error(`Cannot sign for ${header.url}: ${peer} answered with no flattened JWS`);
      return { protected: jws.protected, payload: jws.payload, signature: jws.signature };
    },
    async createCsr(request: CsrRequest) {
      const der = await rpc.call('csr', { key: name, identifiers: request.identifiers, mustStaple: request.mustStaple ?? false });
      if (typeof der !== 'string' || !isBase64Url(der)) throw new Error(`Cannot build the CSR: ${peer} answered with no base64url request`);
      return base64UrlDecode(der);
    },
  });
}

/** The signers that the other side of `rpc` serves, by name, each checked to be a key type ACME CAs accept. */
export async function connectSigners(rpc: RpcClient, peer: string): Promise<Record<string, KeySigner>> {
  const keys = await rpc.call('keys');
  if (typeof keys !== 'object' || keys === null) throw new Error(`Cannot use ${peer}: it lists no keys`);
  const signers: Record<string, KeySigner> = {};
  for (const [name, info] of Object.entries(keys as Record<string, { publicJwk?: PublicJwk }>)) {
    const publicJwk = info?.publicJwk;
    if (typeof publicJwk !== 'object' || publicJwk === null) throw new Error(`Cannot use ${peer}: key ${name} has no public JWK`);
    const jwk: PublicJwk = publicJwk.kty === 'RSA' ? { kty: 'RSA', n: publicJwk.n, e: publicJwk.e } : { kty: 'EC', crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y };
    signers[name] = remoteSigner(rpc, name, jwk, algorithmOf(keyTypeOfJwk(jwk)), peer);
  }
  return signers;
}
