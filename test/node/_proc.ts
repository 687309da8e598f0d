// What Linux's /proc tells about a running process tree: each process's uid, its TCP connections (socket inodes in
// /proc/PID/fd matched against /proc/net/tcp and tcp6) and the bytes of its memory (/proc/PID/mem over /proc/PID/maps).
// The privilege-separation tests read these rather than trusting what the processes say about themselves.

import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';

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

/** The socket inodes of established TCP connections to `port` on any address, from /proc/net/tcp and tcp6. */
function connectionsTo(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = parseInt(fields[2]!.split(':')[1]!, 16);
      if (remotePort === port && fields[3] === '01') inodes.add(fields[9]!); // 01: ESTABLISHED
    }
  }
  return inodes;
}

/** The processes among `pids` that hold an established TCP connection to `port`. */
export function processesConnectedTo(pids: readonly number[], port: number): number[] {
  const inodes = connectionsTo(port);
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
