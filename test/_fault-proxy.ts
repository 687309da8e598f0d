// A fault-injecting HTTPS proxy in front of a test Pebble, run as a process of its own:
//   node --import tsx test/_fault-proxy.ts UPSTREAM_URL TLS_CERT TLS_KEY
// It prints {"control": PORT} and takes plans on that plain-http loopback port: POST /lanes with a FaultPlan opens a
// lane (an HTTPS listener with Pebble's test certificate) and answers {"port"}; GET /lanes/PORT answers its stats.
// Each lane has its own plan and seeded generator, so runs in parallel stay deterministic. Faults are the ones seen
// in front of Boulder: a reset, a 503 without Retry-After, a load balancer's 502 with an HTML body, an answer lost
// after Pebble acted (the request goes on, the client's connection is then closed), and a body cut in half.
// test/_fault-lanes.ts starts it and talks to it.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { forwarder, readBody, sendUpstream, upstreamHeaders } from './_upstream.ts';
import { FAULT_KINDS, type FaultKind, type FaultPlan, type LaneStats, type Step } from './_fault-plan.ts';

/** Pebble 2.4's resource paths (wfe.go); newNonce, newAccount and newOrder are the directory's. */
const PEBBLE_PREFIXES: [string, Step][] = [
  ['/dir', 'directory'], ['/nonce-plz', 'nonce'], ['/sign-me-up', 'newAccount'], ['/order-plz', 'newOrder'], ['/authZ/', 'authz'],
  ['/chalZ/', 'challenge'], ['/finalize-order/', 'finalize'], ['/my-order/', 'order'], ['/certZ/', 'certificate'],
];

function stepOf(path: string): Step {
  return PEBBLE_PREFIXES.find(([prefix]) => path === prefix || (prefix.endsWith('/') && path.startsWith(prefix)))?.[1] ?? 'other';
}

/** mulberry32: a small generator whose sequence a seed fixes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sendText(res: ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const [upstreamUrl, certFile, keyFile] = process.argv.slice(2);
if (!upstreamUrl || !certFile || !keyFile) throw new TypeError('usage: _fault-proxy.ts UPSTREAM_URL TLS_CERT TLS_KEY');
const cert = readFileSync(certFile);
const tls = { cert, key: readFileSync(keyFile) };
const forward = forwarder(new URL(upstreamUrl), cert);
const lanes = new Map<number, LaneStats>();

async function openLane(plan: FaultPlan): Promise<number> {
  const stats: LaneStats = { requests: 0, steps: {}, faults: [], upstreamErrors: 0 };
  const random = plan.random ? seeded(plan.random.seed) : undefined;
  const server = createHttpsServer(tls);

  function faultFor(step: Step): FaultKind | undefined {
    const nth = stats.steps[step]! - 1;
    const planned = plan.at?.find((fault) => fault.step === step && (fault.nth ?? 0) === nth);
    if (planned) return planned.kind;
    if (!random) return undefined;
    // Two draws per request whatever happens, so one request's fault never shifts the next one's.
    const [draw, pick] = [random(), random()];
    return draw < plan.random!.rate ? FAULT_KINDS[Math.floor(pick * FAULT_KINDS.length)] : undefined;
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    (async () => {
      const path = req.url ?? '/';
      const step = stepOf(path.split('?')[0]!);
      const body = await readBody(req);
      stats.requests++;
      stats.steps[step] = (stats.steps[step] ?? 0) + 1;
      if (plan.downFrom === step || !server.listening) {
        server.close();
        server.closeAllConnections();
        return;
      }
      const kind = faultFor(step);
      if (kind) stats.faults.push({ step, kind });
      if (kind === 'reset') return void req.socket.destroy();
      if (kind === '503') {
        return sendText(res, 503, 'application/problem+json', JSON.stringify({ type: 'urn:ietf:params:acme:error:serverInternal', detail: 'Service Unavailable', status: 503 }));
      }
      if (kind === '502-html') return sendText(res, 502, 'text/html', '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n');
      const upstream = await forward(req.method!, path, req.headers, body);
      if (kind === 'lost') return void req.socket.destroy();
      if (kind === 'cut') {
        res.writeHead(upstream.status, { ...upstreamHeaders(upstream), 'content-length': upstream.body.length });
        res.write(upstream.body.subarray(0, upstream.body.length >> 1), () => req.socket.destroy());
        return;
      }
      sendUpstream(res, upstream);
    })().catch((error: unknown) => {
      stats.upstreamErrors++;
      sendText(res, 500, 'text/plain', `fault proxy: ${(error as Error).message}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  lanes.set(port, stats);
  return port;
}

const control = createHttpServer((req, res) => {
  (async () => {
    const lane = /^\/lanes\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && req.url === '/lanes') {
      const port = await openLane(JSON.parse((await readBody(req)).toString()) as FaultPlan);
      return sendText(res, 200, 'application/json', JSON.stringify({ port }));
    }
    const stats = lane && lanes.get(Number(lane[1]));
    if (req.method === 'GET' && stats) return sendText(res, 200, 'application/json', JSON.stringify(stats));
    sendText(res, 404, 'text/plain', 'no such lane\n');
  })().catch((error: unknown) => sendText(res, 400, 'text/plain', `${(error as Error).message}\n`));
});
control.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ control: (control.address() as AddressInfo).port })));
