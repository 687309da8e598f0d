// Node's half of the process separation (cli/privsep.ts): the key and network processes run their entries
// (cli/node-key-child.ts, cli/node-net-child.ts) under Node's permission model, reading only their own code and
// what the spec grants, spawning nothing, and the network process under the unprivileged user. Node 20's model has no network rule (--allow-net came in Node 25): the key
// process's code opens no connection, and for the network process the dropped uid is the boundary that holds.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirnamePath } from '../adapters/_path.ts';
import type { ChildHandle, ChildSpec } from './platform.ts';
import { endedHow, lastLineKeeper } from './children.ts';
import { listenerHandOver } from './_node-handover.ts';

export { bindNodeListener } from './_node-handover.ts';

/**
 * Each path once, and none inside another: Node 20 aborts on a path granted twice, and refuses a folder itself once a
 * file inside it is granted as well.
 */
function disjointGrants(paths: readonly string[]): string[] {
  const unique = [...new Set(paths.map((path) => path.replace(/(.)\/+$/, '$1')))];
  const inside = (path: string, dir: string) => path !== dir && path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  return unique.filter((path) => !unique.some((other) => inside(path, other)));
}

/** A folder, or a path that does not exist yet (a key's folder that -n makes), is granted with what is inside it. */
function grantOf(path: string): string {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ? path : `${path.replace(/\/$/, '')}/*`;
}

/**
 * The network process, which parses what the CA sends as another user, gets only the variables that decide how it
 * connects (whom it trusts, Node's own options) and the tests' hook: not the rest of the caller's environment, which
 * may hold secrets, as Deno's children read none but the hook. The key process may connect nowhere and makes no TLS
 * connection, so it does without NODE_EXTRA_CA_CERTS: with it, Node builds its whole root store at start, whatever the
 * file holds (measured here: 25 ms of CPU with one certificate, 40 ms with the system bundle, against a 65 ms start
 * without).
 */
const NETWORK_ENVIRONMENT = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'ACME_CLIENT_TEST_HOOK'];

function environmentOf(spec: ChildSpec): NodeJS.ProcessEnv {
  if (spec.net.length) return Object.fromEntries(NETWORK_ENVIRONMENT.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]]));
  const { NODE_EXTRA_CA_CERTS: _extraCaCerts, ...withoutExtraCaCerts } = process.env;
  return withoutExtraCaCerts;
}

/**
 * Starts `spec` from its role's entry at `entry` (dist/cli/child/key-child.cjs, net-child.cjs), in the folder that holds
 * the children's code alone: its entry, and the files apart that it requires only when used (build.ts).
 */
export function startNodeChild(entry: string, spec: ChildSpec): ChildHandle {
  const flags = [
    '--experimental-permission',
    // The model's ExperimentalWarning would be the child's only stderr line when it fails.
    '--no-warnings',
    ...disjointGrants([dirnamePath(entry), ...spec.read]).map((path) => `--allow-fs-read=${grantOf(path)}`),
    ...disjointGrants(spec.write).map((path) => `--allow-fs-write=${grantOf(path)}`),
  ];
  const child = spawn(process.execPath, [...flags, entry, ...spec.args], {
    // An IPC channel only to hand the network process its listening socket (cli/_node-handover.ts).
    stdio: ['pipe', 'pipe', 'pipe', ...(spec.listens ? ['ipc' as const] : [])],
    env: environmentOf(spec),
    // The other user may not enter the caller's working directory; the key process keeps it for relative key paths.
    ...(spec.user && { uid: spec.user.uid, gid: spec.user.gid, cwd: '/' }),
  }) as ChildProcessWithoutNullStreams;
  const stderr = lastLineKeeper();
  child.stderr.setEncoding('utf8').on('data', (text: string) => stderr.add(text));
  // A child that died makes writes to its pipe fail; the run fails by its exit, named, and not by EPIPE.
  child.stdin.on('error', () => {});
  const exited = new Promise<string>((resolve) => {
    child.on('error', (error) => resolve(`could not start: ${error.message}`));
    child.on('exit', (code, signal) => resolve(endedHow(code, signal)));
  });
  return {
    pid: child.pid ?? -1,
    output: child.stdout,
    write: (bytes) => void child.stdin.write(bytes),
    endInput: () => void child.stdin.end(),
    exited,
    lastErrorLine: stderr.last,
    kill: () => void child.kill('SIGKILL'),
    ...(spec.listens && { handOver: listenerHandOver(child) }),
  };
}
