// A scripted ACME server behind an injected fetch: it records every request (with its JWS decoded), stamps a
// fresh Replay-Nonce on every answer, and a virtual clock stands in for real waiting. Runtime-neutral.

import { base64UrlDecode, utf8Decode } from '../../core/encoding.ts';
import { AcmeClient, type ClientOptions } from '../../core/client.ts';
import { readDirectory } from '../../core/responses.ts';
import type { AcmeKey } from '../../core/keys.ts';

export const CA = 'https://ca.test';
export const DIRECTORY = {
  newNonce: `${CA}/nonce`,
  newAccount: `${CA}/new-account`,
  newOrder: `${CA}/new-order`,
  revokeCert: `${CA}/revoke`,
  keyChange: `${CA}/key-change`,
  meta: { termsOfService: `${CA}/terms`, profiles: { classic: 'The usual', shortlived: 'Six days' } },
};

export interface Recorded {
  method: string;
  url: string;
  headers: Headers;
  body?: string;
  /** The decoded JWS protected header and payload of a signed POST; payload '' for POST-as-GET. */
  protected?: Record<string, unknown>;
  payload?: unknown;
}

export interface Reply {
  status?: number;
  /** An object goes out as JSON; a string as it is. */
  body?: unknown;
  /** Defaults to application/json for an object body (application/problem+json at status >= 400). */
  contentType?: string;
  headers?: Record<string, string>;
  /** Leave out the Replay-Nonce this server otherwise adds. */
  noNonce?: boolean;
}

export type Handler = (request: Recorded) => Reply | Response | Promise<Reply | Response>;

export function decodeJson(segment: string): unknown {
  return segment === '' ? '' : JSON.parse(utf8Decode(base64UrlDecode(segment)));
}

export class FakeCa {
  readonly requests: Recorded[] = [];
  readonly nonces: string[] = [];
  #handler: Handler;
  #counter = 0;

  constructor(handler: Handler) {
    this.#handler = handler;
  }

  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const request: Recorded = { method, url, headers: new Headers(init?.headers) };
    if (body !== undefined) {
      request.body = body;
      const jws = JSON.parse(body) as { protected: string; payload: string };
      request.protected = decodeJson(jws.protected) as Record<string, unknown>;
      request.payload = decodeJson(jws.payload);
    }
    this.requests.push(request);
    if (method === 'HEAD' && url === DIRECTORY.newNonce) return this.#build({ status: 200 });
    const reply = await this.#handler(request);
    return reply instanceof Response ? reply : this.#build(reply);
  }) as typeof fetch;

  #build(reply: Reply): Response {
    const status = reply.status ?? 200;
    const headers = new Headers(reply.headers);
    if (!reply.noNonce) {
      const nonce = `nonce${++this.#counter}`;
      this.nonces.push(nonce);
      headers.set('replay-nonce', nonce);
    }
    let body: string | null = null;
    if (typeof reply.body === 'string') body = reply.body;
    else if (reply.body !== undefined) body = JSON.stringify(reply.body);
    if (reply.contentType) headers.set('content-type', reply.contentType);
    else if (reply.body !== undefined && typeof reply.body !== 'string') headers.set('content-type', status >= 400 ? 'application/problem+json' : 'application/json');
    return new Response(body, { status, headers });
  }

  /** Every request as "METHOD path", newNonce HEADs included. */
  get calls(): string[] {
    return this.requests.map((request) => `${request.method} ${request.url.replace(CA, '')}`);
  }
}

/** A clock that only moves when slept on, recording each sleep. */
export class VirtualClock {
  time = Date.UTC(2026, 0, 1);
  readonly sleeps: number[] = [];
  readonly now = () => this.time;
  readonly sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.time += ms;
  };
}

export function fakeClient(ca: FakeCa, accountKey: AcmeKey, options: Partial<ClientOptions> = {}, directory: object = DIRECTORY): { client: AcmeClient; clock: VirtualClock } {
  const clock = new VirtualClock();
  const client = new AcmeClient(readDirectory(directory, `${CA}/dir`), {
    accountKey,
    accountUrl: `${CA}/account/1`,
    fetch: ca.fetch,
    now: clock.now,
    sleep: clock.sleep,
    ...options,
  });
  return { client, clock };
}

export function orderBody(status: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status,
    identifiers: [{ type: 'dns', value: 'a.example.com' }],
    authorizations: [`${CA}/authz/a`],
    finalize: `${CA}/order/1/finalize`,
    ...extra,
  };
}
