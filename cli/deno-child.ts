// The entry of acme-client's child processes under Deno: `deno-child.ts key CONFIG` is the key process,
// `deno-child.ts net` the network process. cli/deno-children.ts starts them with their narrow permissions.

import * as deno from '../adapters/deno.ts';
import { readTextFileIfExists } from './_deno-read.ts';
import { runKeyProcess } from './key-process.ts';
import { runNetProcess } from './net-process.ts';
import type { KeyChildPlatform, NetChildPlatform } from './platform.ts';

const [role, ...args] = Deno.args;
const testHook = Deno.env.get('ACME_CLIENT_TEST_HOOK');

const platform: KeyChildPlatform & NetChildPlatform = {
  args,
  runtime: `Deno ${Deno.version.deno}`,
  input: Deno.stdin.readable,
  write: (bytes) => {
    for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
  },
  writeStderr: (text) => deno.writeAllSync(Deno.stderr, text),
  readTextFile: readTextFileIfExists,
  writeFileAtomic: deno.writeFileAtomic,
  writeNewFile: deno.writeNewFile,
  makeDirectories: deno.makeDirectories,
  createFetch: deno.createDenoFetch,
  caaResolver: deno.denoCaaResolver,
  // Deno cannot take over a socket its parent bound: this process binds the port itself (cli/deno-children.ts), which
  // it may not below ip_unprivileged_port_start: then the parent serves.
  standaloneResponder: (type, address) => (type === 'http-01' ? deno.startStandaloneResponder(address) : deno.startTlsAlpnResponder(address))
    .catch((error: Error) => (error.cause instanceof Deno.errors.PermissionDenied ? undefined : Promise.reject(error))),
  ...(testHook && { testHook }),
  waitForSignal: () => new Promise((resolve) => Deno.addSignalListener('SIGUSR2', () => resolve())),
};

const roles: Record<string, (platform: KeyChildPlatform & NetChildPlatform) => Promise<number>> = { key: runKeyProcess, net: runNetProcess };
if (!role || !Object.hasOwn(roles, role)) {
  deno.writeAllSync(Deno.stderr, `acme-client: deno-child.ts runs as "key" or "net", not ${JSON.stringify(role)}\n`);
  Deno.exit(1);
}
roles[role]!(platform).then((code) => Deno.exit(code), (error: unknown) => {
  deno.writeAllSync(Deno.stderr, `${error instanceof Error ? error.message : String(error)}\n`);
  Deno.exit(1);
});
