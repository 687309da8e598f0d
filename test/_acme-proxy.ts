// An HTTPS layer in front of a test Pebble that adds what Pebble 2.4 lacks: RFC 9773 renewalInfo, meta.profiles and
// meta.caaIdentities. It records each newOrder's profile and replaces, and can refuse replaces the way Boulder does.
// Pebble builds every URL, and checks every JWS url, from the Host header: forwarding ours keeps clients on the proxy.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pebble } from './_pebble.ts';
import { forwarder, readBody, sendUpstream } from './_upstream.ts';

/** Let's Encrypt's profiles as its directory lists them: each name with a link to its description. */
export const LETS_ENCRYPT_PROFILES: Readonly<Record<string, string>> = {
  classic: 'https://letsencrypt.org/docs/profiles#classic',
  tlsserver: 'https://letsencrypt.org/docs/profiles#tlsserver',
  shortlived: 'https://letsencrypt.org/docs/profiles#shortlived',
};
/** The issuer domain newer Pebbles list in caaIdentities. */
export const PEBBLE_CAA_IDENTITY = 'pebble.letsencrypt.org';

export interface ProxyRenewalInfo {
  start: Date;
  end: Date;
  explanationURL?: string;
  retryAfterSeconds?: number;
}

export interface RecordedOrder {
  identifiers: { type: string; value: string }[];
  profile?: string;
  replaces?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  status: number;
  /** The uid that owns the client's end of the connection, from /proc/net/tcp: whom the process that asked runs as. */
  uid: number;
}

/** 127.0.0.1:`port` as /proc/net/tcp writes it: hex, little-endian IPv4, then the port. */
function procAddress(port: number): string {
  return `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The uid that owns the client's end of a connection from 127.0.0.1:`clientPort` to 127.0.0.1:`serverPort`, from
 * /proc/net/tcp, whose lines give each socket's local and remote address and, in the eighth column, its owner's uid.
 * Both ends are matched: another socket may have the same local port (a connection of this process to Pebble, gone
 * and in TIME_WAIT, whose uid reads 0), and CI once counted such a socket as the client.
 */
function uidOfClientSocket(clientPort: number, serverPort: number): number {
  const [local, remote] = [procAddress(clientPort), procAddress(serverPort)];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === local && fields[2] === remote) return Number(fields[7]);
  }
  return -1;
}

/** Boulder's answers: an unknown certificate (malformed, 404) or one that already has a replacement (409). */
export type ReplacesRejection = 'unknown-certificate' | 'already-replaced';

export interface AcmeProxyOptions {
  /** meta.profiles to add; false adds none. Defaults to LETS_ENCRYPT_PROFILES. */
  profiles?: Record<string, string> | false;
  /** meta.caaIdentities to add; false adds none. Defaults to [PEBBLE_CAA_IDENTITY]. */
  caaIdentities?: string[] | false;
  /** Whether the directory lists renewalInfo. Defaults to true. */
  renewalInfo?: boolean;
}

export interface AcmeProxy {
  directoryUrl: string;
  renewalInfoUrl: string;
  /** Every newOrder the proxy saw, refused or forwarded, in order. */
  readonly orders: RecordedOrder[];
  /** The certificate identifiers renewalInfo was asked for. */
  readonly renewalInfoRequests: string[];
  /** Every request the proxy saw, in order: its method, path, and the status it answered. */
  readonly requests: RecordedRequest[];
  /** How many requests went to the directory, newNonce and newAccount (accounts created: 201). */
  count(what: 'directory' | 'newNonce' | 'newAccount' | 'accountsCreated', since?: number): number;
  /** The public JWK of every newAccount the CA answered with an account (200 or 201), even if the client never read it. */
  readonly accountKeys: JsonWebKey[];
  /** The CSR (base64url DER) of every finalize the CA accepted, even if the client never read the answer. */
  readonly finalizedCsrs: string[];
  /** Sets the window served for a certificate; undefined makes it unknown (404). */
  setRenewalInfo(certId: string, info: ProxyRenewalInfo | undefined): void;
  /** Refuse every newOrder that carries replaces, as Boulder does for this reason. */
  rejectReplaces: ReplacesRejection | undefined;
  stop(): Promise<void>;
}

const RENEWAL_INFO_PATH = '/renewal-info';

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startAcmeProxy(pebble: Pebble, options: AcmeProxyOptions = {}): Promise<AcmeProxy> {
  const pebbleUrl = new URL(pebble.directoryUrl);
  const ca = readFileSync(pebble.tlsCaFile);
  const server: Server = createServer({ key: readFileSync(join(pebble.dir, 'tls-key.pem')), cert: ca });
  // Idle connections stay open until the client closes them, as Pebble keeps them, so a client that leaks them is caught.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const renewalInfos = new Map<string, ProxyRenewalInfo>();

  const toPebble = forwarder(pebbleUrl, ca);
  const forward: typeof toPebble = (method, path, headers, body) => toPebble(method, path, { ...headers, host }, body);

  const directory = JSON.parse((await forward('GET', pebbleUrl.pathname, {})).body.toString()) as Record<string, string>;
  const newOrderPath = new URL(directory.newOrder!).pathname;
  const newNoncePath = new URL(directory.newNonce!).pathname;
  const newAccountPath = new URL(directory.newAccount!).pathname;
  const paths = { directory: pebbleUrl.pathname, newNonce: newNoncePath, newAccount: newAccountPath, accountsCreated: newAccountPath };

  const proxy: AcmeProxy = {
    directoryUrl: `https://${host}${pebbleUrl.pathname}`,
    renewalInfoUrl: `https://${host}${RENEWAL_INFO_PATH}`,
    orders: [],
    renewalInfoRequests: [],
    requests: [],
    count: (what, since = 0) => proxy.requests.slice(since)
      .filter((request) => request.path === paths[what] && (what !== 'accountsCreated' || request.status === 201)).length,
    accountKeys: [],
    finalizedCsrs: [],
    rejectReplaces: undefined,
    setRenewalInfo(certId, info) {
      if (info) renewalInfos.set(certId, info);
      else renewalInfos.delete(certId);
    },
    stop: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };

  function serveRenewalInfo(res: ServerResponse, certId: string): void {
    proxy.renewalInfoRequests.push(certId);
    const info = renewalInfos.get(certId);
    if (!info) {
      send(res, 404, { 'content-type': 'application/problem+json' },
        { type: 'urn:ietf:params:acme:error:malformed', detail: `Certificate ${certId} not found`, status: 404 });
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (info.retryAfterSeconds !== undefined) headers['retry-after'] = String(info.retryAfterSeconds);
    send(res, 200, headers, {
      suggestedWindow: { start: info.start.toISOString(), end: info.end.toISOString() },
      ...(info.explanationURL && { explanationURL: info.explanationURL }),
    });
  }

  /** Boulder's problem documents (wfe2 validateReplacementOrder), with a fresh nonce as every ACME error carries. */
  async function refuseReplaces(res: ServerResponse, replaces: string): Promise<void> {
    const serial = Buffer.from(replaces.split('.')[1] ?? '', 'base64url').toString('hex');
    const nonce = (await forward('HEAD', newNoncePath, {})).headers['replay-nonce'] as string;
    const [status, type, reason] = proxy.rejectReplaces === 'already-replaced'
      ? [409, 'alreadyReplaced', `cannot indicate an order replaces certificate with serial "${serial}", which already has a replacement order`]
      : [404, 'malformed', `request included \`replaces\` field, but no current certificate with serial "${serial}" exists`];
    send(res, status, { 'content-type': 'application/problem+json', 'replay-nonce': nonce },
      { type: `urn:ietf:params:acme:error:${type}`, detail: `Could not validate ARI 'replaces' field :: ${reason}`, status });
  }

  /** What the CA now knows: an account's key, or a certificate key it was asked to certify. */
  function recordKeys(path: string, body: Buffer): void {
    const jws = JSON.parse(body.toString()) as { protected: string; payload: string };
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString() || 'null');
    if (path === newAccountPath) proxy.accountKeys.push(decode(jws.protected).jwk);
    const payload = decode(jws.payload) as { csr?: unknown } | null;
    if (typeof payload?.csr === 'string') proxy.finalizedCsrs.push(payload.csr);
  }

  // Read as the connection comes, while the client's socket surely exists.
  const owners = new Map<number, number>();
  server.on('connection', (socket: Socket) => owners.set(socket.remotePort!, uidOfClientSocket(socket.remotePort!, socket.localPort!)));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const uid = owners.get(req.socket.remotePort!) ?? -1;
    res.on('finish', () => proxy.requests.push({ method: req.method!, path: req.url ?? '/', status: res.statusCode, uid }));
    (async () => {
      const path = req.url ?? '/';
      const body = await readBody(req);
      if (req.method === 'GET' && path.startsWith(`${RENEWAL_INFO_PATH}/`)) return serveRenewalInfo(res, decodeURIComponent(path.slice(RENEWAL_INFO_PATH.length + 1)));
      if (req.method === 'POST' && path === newOrderPath) {
        const payload = JSON.parse(Buffer.from(JSON.parse(body.toString()).payload, 'base64url').toString()) as RecordedOrder;
        proxy.orders.push({ identifiers: payload.identifiers, ...(payload.profile !== undefined && { profile: payload.profile }),
          ...(payload.replaces !== undefined && { replaces: payload.replaces }) });
        if (proxy.rejectReplaces && payload.replaces !== undefined) return refuseReplaces(res, payload.replaces);
      }
      const upstream = await forward(req.method!, path, req.headers, body);
      if (req.method === 'POST' && upstream.status < 300) recordKeys(path, body);
      let responseBody = upstream.body;
      if (req.method === 'GET' && path === pebbleUrl.pathname) {
        const augmented = JSON.parse(responseBody.toString()) as { meta?: Record<string, unknown>; renewalInfo?: string };
        augmented.meta = { ...augmented.meta };
        if (options.profiles !== false) augmented.meta.profiles = options.profiles ?? LETS_ENCRYPT_PROFILES;
        if (options.caaIdentities !== false) augmented.meta.caaIdentities = options.caaIdentities ?? [PEBBLE_CAA_IDENTITY];
        if (options.renewalInfo !== false) augmented.renewalInfo = proxy.renewalInfoUrl;
        responseBody = Buffer.from(JSON.stringify(augmented));
      }
      sendUpstream(res, upstream, responseBody);
    })().catch((error: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`acme proxy: ${(error as Error).message}`);
    });
  });
  return proxy;
}
