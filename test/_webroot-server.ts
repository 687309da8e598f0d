// The http-01 side of a webroot (-C) run, as a process of its own: serves WEBROOT/TOKEN at
// /.well-known/acme-challenge/TOKEN on 127.0.0.1:PORT, as Pebble's validator fetches it, and prints "ready" once it
// listens. test/node/_cli.ts serveWebroot starts it and stops it by PID. Apart from the test process, a validation is
// never held up by the test's own synchronous work (openssl, tree snapshots) while many runs go at once.
//   node --import tsx test/_webroot-server.ts WEBROOT PORT

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [webroot, port] = process.argv.slice(2);
if (!webroot || !port) throw new TypeError('usage: _webroot-server.ts WEBROOT PORT');
const server = createServer((request, response) => {
  const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(request.url ?? '')?.[1];
  try {
    const body = token ? readFileSync(join(webroot, token)) : undefined;
    if (!body) throw new Error('no token');
    response.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
