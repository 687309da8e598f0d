// The entry of acme-client's child processes under Node (bundled to dist/cli/lazy/child.js): `child.js key CONFIG`
// is the key process, `child.js net` the network process. cli/node-children.ts starts them under the permission model.

import { createNodeFetch, makeDirectories, writeFileAtomic, writeNewFile } from '../adapters/node.ts';
import { nodeCaaResolver } from '../adapters/node-dns.ts';
import { readTextFileIfExists } from './_node-read.ts';
import { runKeyProcess } from './key-process.ts';
import { runNetProcess } from './net-process.ts';
import type { ChildPlatform } from './platform.ts';

const [role, ...args] = process.argv.slice(2);

const platform: ChildPlatform = {
  args,
  runtime: `Node.js ${process.version}`,
  input: process.stdin,
  write: (bytes) => void process.stdout.write(bytes),
  writeStderr: (text) => void process.stderr.write(text),
  readTextFile: readTextFileIfExists,
  writeFileAtomic,
  writeNewFile,
  makeDirectories,
  createFetch: createNodeFetch,
  caaResolver: nodeCaaResolver,
  ...(process.env.ACME_CLIENT_TEST_HOOK && { testHook: process.env.ACME_CLIENT_TEST_HOOK }),
  waitForSignal: () => new Promise((resolve) => process.once('SIGUSR2', () => resolve())),
};

const roles: Record<string, (platform: ChildPlatform) => Promise<number>> = { key: runKeyProcess, net: runNetProcess };
if (!role || !Object.hasOwn(roles, role)) {
  process.stderr.write(`acme-client: child.js runs as "key" or "net", not ${JSON.stringify(role)}\n`);
  process.exit(1);
}
roles[role]!(platform).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
