// What Linux's /proc tells about a running process tree: each process's uid, its TCP sockets (socket inodes in
// /proc/PID/fd matched against /proc/net/tcp and tcp6) and the bytes of its memory (/proc/PID/mem over /proc/PID/maps),
// in which the tests look for the private keys.
// The privilege-separation tests read these rather than trusting what the processes say about themselves.

import { createPrivateKey } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';

/** How long whenReleased waits before it names the processes that still hold files. */
const RELEASE_LIMIT_MS = 10_000;

/**
 * Resolves once no process of `pids` holds a file (its /proc/PID/fd is empty or gone). A run killed with SIGKILL leaves
 * its children to end when they read the end of their input, and on a loaded machine one may still hold the
 * standalone port when the next run starts. Linux gives no event for another
 * process's end, so this looks every 10 ms.
 */
export async function whenReleased(pids: readonly number[]): Promise<void> {
  const holdsFiles = (pid: number) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).length > 0;
    } catch {
      return false;
    }
  };
  const started = Date.now();
  while (pids.some(holdsFiles)) {
    if (Date.now() - started > RELEASE_LIMIT_MS) throw new Error(`processes ${pids.filter(holdsFiles).join(', ')} still hold files ${RELEASE_LIMIT_MS} ms after their run was killed`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `root` and every process below it. */
export function processTree(root: number): number[] {
  // Each thread's list of the processes it started (Linux's /proc/PID/task/TID/children): a walk of a few small files
  // rather than a read of every process's stat, since the benchmark samples the tree every few milliseconds.
  const tree = [root];
  for (let at = 0; at < tree.length; at++) {
    const pid = tree[at]!;
    let threads: string[];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // It ended meanwhile.
    }
    for (const thread of threads) {
      try {
        tree.push(...readFileSync(`/proc/${pid}/task/${thread}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
      } catch {
        // The thread or the process ended meanwhile.
      }
    }
  }
  return tree;
}

export function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

export function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
}

/** One TCP socket as /proc/net/tcp and tcp6 list it: its ports, its state (hex: "01" ESTABLISHED, "0A" LISTEN), its inode. */
export interface TcpSocket {
  localPort: number;
  remotePort: number;
  state: string;
  inode: string;
}

export const TCP_ESTABLISHED = '01';
export const TCP_LISTEN = '0A';

function tcpSockets(): TcpSocket[] {
  const sockets: TcpSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const port = (address: string) => parseInt(address.split(':')[1]!, 16);
      sockets.push({ localPort: port(fields[1]!), remotePort: port(fields[2]!), state: fields[3]!, inode: fields[9]! });
    }
  }
  return sockets;
}

/** The processes among `pids` that hold a TCP socket that `matches`. */
export function processesHolding(pids: readonly number[], matches: (socket: TcpSocket) => boolean): number[] {
  const inodes = new Set(tcpSockets().filter(matches).map((socket) => socket.inode));
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? '');
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/** The processes among `pids` that hold an established TCP connection to `port`. */
export function processesConnectedTo(pids: readonly number[], port: number): number[] {
  return processesHolding(pids, (socket) => socket.remotePort === port && socket.state === TCP_ESTABLISHED);
}

/** Every readable mapping of the process, read through /proc/PID/mem (as root), as one list of chunks. */
export function readMemory(pid: number): Buffer[] {
  const chunks: Buffer[] = [];
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const match = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
      if (!match || line.endsWith('[vvar]') || line.endsWith('[vsyscall]')) continue;
      const start = Number.parseInt(match[1]!, 16);
      const length = Number.parseInt(match[2]!, 16) - start;
      const buffer = Buffer.alloc(length);
      try {
        const read = readSync(fd, buffer, 0, length, start);
        chunks.push(buffer.subarray(0, read));
      } catch {
        // Some mappings (guard pages, device memory) cannot be read.
      }
    }
  } finally {
    closeSync(fd);
  }
  return chunks;
}

/** Which of `needles` (name → bytes) occur in the process's memory. */
export function findInMemory(pid: number, needles: Record<string, Buffer>): string[] {
  const memory = readMemory(pid);
  return Object.entries(needles).filter(([, needle]) => memory.some((chunk) => chunk.includes(needle))).map(([name]) => name);
}

/**
 * The ways a private key could sit in memory: the base64 of its PEM file (a stretch inside the private scalar, as the
 * file has it), the raw scalar d as bytes (which its DER holds too), and d in base64url as a JWK has it.
 */
export function keyNeedles(name: string, pem: string): Record<string, Buffer> {
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  const d = Buffer.from(jwk.d!, 'base64url');
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const start = Math.ceil((der.indexOf(d) * 4) / 3) + 4;
  // 20 characters of the scalar's base64 that the PEM text holds without a line break between them.
  let at = start;
  while (Math.floor(at / 64) !== Math.floor((at + 19) / 64)) at++;
  return {
    [`${name} key PEM base64`]: Buffer.from(body.slice(at, at + 20)),
    [`${name} key d bytes`]: d,
    [`${name} key JWK d`]: Buffer.from(jwk.d!),
  };
}
