// What the test proxies in front of Pebble share: reading a whole body, sending a request on to Pebble over TLS
// and reading its answer, and passing that answer back. Node-only test helper.

import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Sends requests to `upstream` (Pebble), trusting `ca`; the caller chooses the Host header Pebble builds its URLs from. */
export function forwarder(upstream: URL, ca: Buffer) {
  return (method: string, path: string, headers: IncomingHttpHeaders, body?: Buffer) =>
    new Promise<Upstream>((resolve, reject) => {
      const request = httpsRequest({ host: upstream.hostname, port: upstream.port, method, path, headers, ca }, (response) => {
        readBody(response).then((data) => resolve({ status: response.statusCode!, headers: response.headers, body: data }), reject);
      });
      request.on('error', reject);
      request.end(body);
    });
}

/** Pebble's headers without its framing: the body may have changed length, and goes out with its own. */
export function upstreamHeaders(upstream: Upstream): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(upstream.headers)
    .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined && entry[0] !== 'transfer-encoding' && entry[0] !== 'content-length'));
}

/** Passes Pebble's answer back, with `body` in place of its own when given. */
export function sendUpstream(res: ServerResponse, upstream: Upstream, body: Buffer = upstream.body): void {
  res.writeHead(upstream.status, { ...upstreamHeaders(upstream), 'content-length': body.length });
  res.end(body);
}
