// `npm run web`: serves the built page (dist/web) on 127.0.0.1, at a fixed port so that the account key kept in
// IndexedDB, which belongs to one origin (scheme, host and port), is found again on the next visit.
// Usage: tsx web/serve.ts [PORT]   (default 8378; PORT 0 picks a free one)

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { serveStatic } from '../test/_chromium.ts';

const root = resolve(import.meta.dirname, '../dist/web');
if (!existsSync(resolve(root, 'index.html'))) {
  console.error(`web: ${root}/index.html is missing; build the page first with "npx tsx build.ts"`);
  process.exit(1);
}
const port = Number(process.argv[2] ?? 8378);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`web: invalid port ${JSON.stringify(process.argv[2])}: expected a number from 0 to 65535`);
  process.exit(1);
}
const server = await serveStatic(root, '127.0.0.1', port);
console.log(`web: serving ${root} at ${server.url} (Ctrl-C stops it)`);
