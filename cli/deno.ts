// The acme-client entry for Deno: Deno's platform for cli/command.ts, over adapters/deno.ts. Run it with the
// narrowest permissions (see "acme-client under Deno" in the README):
//   deno run --no-prompt --allow-net=CA_HOST:PORT --allow-read=FILES --allow-write=DIRS cli/deno.ts [flags] domain...

import * as deno from '../adapters/deno.ts';
import { runCommand } from './command.ts';

runCommand({
  args: Deno.args,
  runtime: `Deno ${Deno.version.deno}`,
  readTextFile(path) {
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  },
  writeStdout: (text) => deno.writeAllSync(Deno.stdout, text),
  writeStderr: (text) => deno.writeAllSync(Deno.stderr, text),
  // Deno's writes to stdout and stderr are done when writeSync returns, so nothing is left to flush.
  exit: (code) => Deno.exit(code),
  load: async () => ({
    ...deno,
    createFetch: deno.createDenoFetch,
    caaResolver: deno.denoCaaResolver,
    async listDirectory(path) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      return names;
    },
  }),
});
