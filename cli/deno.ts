// The acme-client entry for Deno: Deno's platform for cli/command.ts, over adapters/deno.ts. Run it with the
// narrowest permissions (see "acme-client under Deno" in the README):
//   deno run --no-prompt --allow-net=CA_HOST:PORT --allow-read=FILES --allow-write=DIRS --allow-run=DENO --allow-sys=uid \
//     cli/deno.ts [flags] domain...
// An issuance or revocation goes through the key and network processes it starts (cli/privsep.ts), which get no more
// than this process was given; this process asks the CA itself only for the daily run's renewal window (ARI).

import * as deno from '../adapters/deno.ts';
import { readTextFileIfExists } from './_deno-read.ts';
import { runCommand } from './command.ts';
import { withTestHooks } from './platform.ts';

/** An environment variable, or undefined where the run has no --allow-env for it. */
function environment(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** Deno's own error for a permission that the command line was not given, wherever it sits among the causes. */
function deniedPermission(error: unknown): Error | undefined {
  for (let at = error; at instanceof Error; at = at.cause) if (at instanceof Deno.errors.NotCapable) return at;
  return undefined;
}

/** The resolvers Deno's CAA lookups ask, for the --allow-net they need; "" without read access to the file. */
function readResolvConf(): string {
  try {
    return Deno.readTextFileSync('/etc/resolv.conf');
  } catch {
    return '';
  }
}

runCommand({
  args: Deno.args,
  runtime: `Deno ${Deno.version.deno}`,
  readTextFile: readTextFileIfExists,
  listNamesSync(path) {
    try {
      return Array.from(Deno.readDirSync(path), (entry) => entry.name);
    } catch {
      return [];
    }
  },
  writeStdout: (text) => deno.writeAllSync(Deno.stdout, text),
  writeStderr: (text) => deno.writeAllSync(Deno.stderr, text),
  // Deno's writes to stdout and stderr are done when writeSync returns, so nothing is left to flush.
  exit: (code) => Deno.exit(code),
  // Deno's own hint ("run again with the --allow-read flag") does not help with a task, whose flags are fixed.
  async describeFailure(error, line) {
    const denied = deniedPermission(error);
    if (!denied) return undefined;
    const { deniedRunText } = await import('./deno-permissions.ts');
    return deniedRunText({ line, denied: denied.message, args: Deno.args, resolvConf: readResolvConf(), denoBinary: Deno.execPath(), entry: import.meta.filename!, cwd: Deno.cwd() });
  },
  isRoot: () => Deno.uid() === 0,
  startChild: async (spec) => (await import('./deno-children.ts')).startDenoChild(spec),
  load: async () => ({
    ...deno,
    dnsUpdateResponder: async (options) => deno.dnsUpdateResponder(options),
    bindListener: async (type, address) => (await import('./deno-children.ts')).bindDenoListener(type, address),
    renameFile: (from, to) => Deno.rename(from, to),
    pid: Deno.pid,
    ...withTestHooks(environment, (text) => deno.writeAllSync(Deno.stderr, text), deno.acquireFileLock),
    async listDirectory(path) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      return names;
    },
  }),
});
