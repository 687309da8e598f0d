// The acme-client entry for Node (bundled to dist/cli/acme-client.cjs): Node's platform for cli/command.ts. Only
// node:fs loads at start; adapters/node.ts, with its servers, TLS and readline, comes by dynamic import once a
// certificate has to change, so the cron run that finds nothing due starts almost as fast as `node -e 0`.

import { readdirSync, writeSync } from 'node:fs';
import { readTextFileIfExists } from './_node-read.ts';
import { runCommand } from './command.ts';
import { withTestHooks, type CliRunPlatform } from './platform.ts';

async function loadNodePlatform(): Promise<CliRunPlatform> {
  const [node, { readdir, rename }] = await Promise.all([import('../adapters/node.ts'), import('node:fs/promises')]);
  return {
    ...node,
    listDirectory: (path) => readdir(path),
    renameFile: (from, to) => rename(from, to),
    pid: process.pid,
    ...withTestHooks((name) => process.env[name], (text) => writeSync(2, text), node.acquireFileLock),
    dnsUpdateResponder: async (options) => (await import('../adapters/node-dns-update.ts')).dnsUpdateResponder(options),
    bindListener: async (type, address) => (await import('./node-children.ts')).bindNodeListener(type, address),
  };
}

runCommand({
  args: process.argv.slice(2),
  runtime: `Node.js ${process.version}`,
  readTextFile: readTextFileIfExists,
  listNamesSync(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
  writeStdout: (text) => process.stdout.write(text),
  writeStderr: (text) => process.stderr.write(text),
  // fetch keeps idle keep-alive connections to the CA open for seconds after the last response, and a finished
  // run must not wait for them (cron and scripts wait for the exit): end once stdout and stderr are flushed.
  exit: (code) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code))),
  load: loadNodePlatform,
  isRoot: () => process.getuid?.() === 0,
  // build.ts puts each child's entry in the folder child beside this bundle.
  startChild: async (spec) => (await import('./node-children.ts')).startNodeChild(`${__dirname}/child/${spec.role}-child.cjs`, spec),
});
