// What the Node entries of the key and network processes (cli/node-key-child.ts, cli/node-net-child.ts) share: the
// channel to the parent over standard input and output, and how the process ends. Each entry is bundled alone to one
// CommonJS file (build.ts), so that a child loads no module but its own and no ES module loader: each child's start
// is on the path of every issuance.

import type { ChildChannel } from './platform.ts';

export const nodeChildChannel: ChildChannel = {
  args: process.argv.slice(2),
  runtime: `Node.js ${process.version}`,
  input: process.stdin,
  write: (bytes) => void process.stdout.write(bytes),
  writeStderr: (text) => void process.stderr.write(text),
};

/** Ends the process with the status `role` settles to, once its answers are written; a failure is its message on stderr. */
export function exitWhenDone(role: Promise<number>): void {
  role.then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
