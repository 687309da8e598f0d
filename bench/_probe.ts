// Preloaded (node --import) into every benchmarked process, ours and the peer alike: counts the HTTP requests that
// reach the CA, whether through fetch (ours) or node:https (axios, in npm acme-client), and records peak RSS.
// At exit it writes {requests, maxRssKiB} as JSON to $BENCH_PROBE_FILE.

import https from 'node:https';
import { writeFileSync } from 'node:fs';

const caHost = process.env.BENCH_CA_HOST ?? '';
const probeFile = process.env.BENCH_PROBE_FILE;
let requests = 0;

const originalFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  if (new URL(url).host === caHost) requests++;
  return originalFetch(input, init);
};

const originalRequest = https.request;
https.request = function request(this: unknown, ...args: Parameters<typeof https.request>) {
  const first = args[0] as string | URL | { hostname?: string; host?: string; port?: string | number };
  const target = typeof first === 'string' || first instanceof URL ? new URL(first) : first;
  const host = `${target.hostname ?? (target as { host?: string }).host}:${target.port || 443}`;
  if (host === caHost) requests++;
  return originalRequest.apply(this, args as never);
} as typeof https.request;

process.on('exit', () => {
  if (probeFile) writeFileSync(probeFile, JSON.stringify({ requests, maxRssKiB: process.resourceUsage().maxRSS }));
});
