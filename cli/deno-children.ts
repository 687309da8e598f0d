// Deno's half of the process separation (cli/privsep.ts): the key and network processes run cli/deno-child.ts with
// only the permissions the spec grants: no --allow-net for the key process, --allow-net for the CA's HOST:PORT (and
// the CAA pre-check's DNS servers) alone for the network process, which also runs as the unprivileged user. Neither
// gets --allow-run, since a child deno could be given more than its parent has.

import { listenTcp } from '../adapters/deno-tls-alpn.ts';
import type { ListenAddress } from './args.ts';
import type { BoundListener, ChildHandle, ChildSpec, StandaloneType } from './platform.ts';
import { endedHow, lastLineKeeper } from './children.ts';

const ENTRY = new URL('./deno-child.ts', import.meta.url).href;

/**
 * A child deno may be given more than its parent (DESIGN.md), so each grant must be one this process holds: the run
 * then fails as if this process had tried the access itself, with the flag that the command line lacks.
 */
function checkHeld(spec: ChildSpec): void {
  const wanted: [Deno.PermissionDescriptor, string][] = [
    ...spec.read.map((path) => [{ name: 'read', path }, path] as [Deno.PermissionDescriptor, string]),
    ...spec.write.map((path) => [{ name: 'write', path }, path] as [Deno.PermissionDescriptor, string]),
    ...spec.net.map((host) => [{ name: 'net', host }, host] as [Deno.PermissionDescriptor, string]),
  ];
  for (const [descriptor, target] of wanted) {
    if (Deno.permissions.querySync(descriptor).state === 'granted') continue;
    throw new Deno.errors.NotCapable(`Requires ${descriptor.name} access to "${target}", run again with the --allow-${descriptor.name} flag`);
  }
}

export function startDenoChild(spec: ChildSpec): ChildHandle {
  checkHeld(spec);
  const grant = (flag: string, items: string[]) => (items.length ? [`${flag}=${items.join(',')}`] : []);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      'run', '--no-prompt', '--quiet',
      ...grant('--allow-read', spec.read), ...grant('--allow-write', spec.write), ...grant('--allow-net', spec.net),
      '--allow-env=ACME_CLIENT_TEST_HOOK',
      ENTRY, spec.role, ...spec.args,
    ],
    stdin: 'piped',
    stdout: 'piped',
    stderr: 'piped',
    // The other user may not enter the caller's working directory; the key process keeps it for relative key paths.
    ...(spec.user && { uid: spec.user.uid, gid: spec.user.gid, cwd: '/' }),
  }).spawn();
  const stderr = lastLineKeeper();
  void child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream({ write: (text) => stderr.add(text) })).catch(() => {});
  const input = child.stdin.getWriter();
  return {
    pid: child.pid,
    output: child.stdout,
    // A child that died makes writes to its pipe fail; the run fails by its exit, named, and not by a broken pipe.
    write: (bytes) => void input.write(bytes as Uint8Array<ArrayBuffer>).catch(() => {}),
    endInput: () => void input.close().catch(() => {}),
    exited: child.status.then((status) => endedHow(status.signal ? null : status.code, status.signal)),
    lastErrorLine: stderr.last,
    kill: () => {
      try {
        child.kill('SIGKILL');
      } catch {
        // It has ended already.
      }
    },
  };
}

/**
 * Deno cannot send a socket to another process, so the network process binds the port again itself. This process
 * binds it first and closes it at once, so that a taken port is bad input here, before anything is written, as under
 * Node; should another program take the port in the moment between, the network process fails the run with that line
 * before its first signed request. Where it may not bind the port (below ip_unprivileged_port_start, 1024 on most
 * systems, so 80 and 443), it asks this process to serve it instead (cli/net-process.ts).
 */
export function bindDenoListener(type: StandaloneType, address: ListenAddress): Promise<BoundListener> {
  try {
    listenTcp(address, type).close();
  } catch (error) {
    return Promise.reject(error);
  }
  return Promise.resolve({ type, address, close() {} });
}
