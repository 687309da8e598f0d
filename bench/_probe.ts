// Preloaded (node --require) into every benchmarked process, ours and the peer alike: counts the HTTP requests that
// reach the CA through node:https (our CLI's fetch and axios in npm acme-client both use it) and records peak RSS.
// At exit it writes {requests, maxRssKiB} as JSON to $BENCH_PROBE_FILE.

import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { writeFileSync } from 'node:fs';

const caHost = process.env.BENCH_CA_HOST ?? '';
const probeFile = process.env.BENCH_PROBE_FILE;
let requests = 0;

const originalRequest = https.request;
https.request = function request(this: unknown, ...args: Parameters<typeof https.request>) {
  const first = args[0] as string | URL | { hostname?: string; host?: string; port?: string | number };
  const target = typeof first === 'string' || first instanceof URL ? new URL(first) : first;
  const host = `${target.hostname ?? (target as { host?: string }).host}:${target.port || 443}`;
  if (host === caHost) requests++;
  return originalRequest.apply(this, args as never);
} as typeof https.request;
// ES modules that import { request } from 'node:https' see the patch only after this.
syncBuiltinESMExports();

process.on('exit', () => {
  if (probeFile) writeFileSync(probeFile, JSON.stringify({ requests, maxRssKiB: process.resourceUsage().maxRSS }));
});
