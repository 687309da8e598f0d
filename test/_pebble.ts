// Starts a real Pebble ACME server and pebble-challtestsrv on free loopback ports for one test file,
// with a throwaway TLS certificate, and stops both by PID. Node-only test helper.

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';

export interface PebbleOptions {
  /** Extra environment for pebble, e.g. { PEBBLE_WFE_NONCEREJECT: '30' }. VA sleeps are always off. */
  env?: Record<string, string>;
  /** Turns on externalAccountBindingRequired with these key ids and base64url MAC keys. */
  eabKeys?: Record<string, string>;
  /** The DNS server Pebble's VA asks ("127.0.0.1:PORT", e.g. a BIND of the test's own) instead of challtestsrv. */
  dnsServer?: string;
  /** Validates http-01 and tls-alpn-01 on ports below 1024, which only a privileged process may bind (as 80 and 443). */
  privilegedChallengePorts?: boolean;
}

export interface Pebble {
  directoryUrl: string;
  managementUrl: string;
  challtestsrvUrl: string;
  /** Port Pebble's VA connects to for http-01 (on 127.0.0.1, where challtestsrv resolves every name). */
  httpPort: number;
  /** Port Pebble's VA connects to for tls-alpn-01. */
  tlsPort: number;
  dnsPort: number;
  /** PEM file of Pebble's own TLS certificate: give it to children as NODE_EXTRA_CA_CERTS / DENO_CERT. */
  tlsCaFile: string;
  /** Temporary folder for this instance; removed by stop(). */
  dir: string;
  /** A fetch that trusts Pebble's TLS certificate, for in-process clients. */
  fetch: typeof fetch;
  /** Pebble's issuing root (index 0 is the default chain's root). */
  rootPem(index?: number): Promise<string>;
  setTxt(host: string, value: string): Promise<void>;
  clearTxt(host: string): Promise<void>;
  addCaa(host: string, policies: { tag: string; value: string }[]): Promise<void>;
  /** A CNAME from `host` to `target`, which challtestsrv's DNS follows for every query type. */
  setCname(host: string, target: string): Promise<void>;
  /** The certificate status Pebble's management API reports, e.g. { Status: 'Revoked', ... }. */
  certStatus(serialHex: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Whether 127.0.0.1:`port` can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The lowest port the kernel hands out to outgoing connections (ip_local_port_range). */
function ephemeralPortsStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

const FIRST_TEST_PORT = 10000;
let nextPort = 0;

/**
 * Where each test process marks the ports it holds, by its pid: a port such as a CLI run's standalone port stays
 * unbound between runs, and without a mark another test file, running at once, could find it free and take it too.
 */
const PORT_MARKS = join(tmpdir(), 'acme-client-test-ports');
const marked: string[] = [];
process.on('exit', () => marked.forEach((mark) => rmSync(mark, { force: true })));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Marks `port` as this process's (in PORT_MARKS, which exists); false when a live process marked it first. */
function markPort(port: number): boolean {
  const mark = join(PORT_MARKS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(mark, String(process.pid), { flag: 'wx' });
      marked.push(mark);
      return true;
    } catch {
      let owner: number;
      try {
        // A mark being written reads empty: its writer is alive.
        owner = Number(readFileSync(mark, 'utf8') || process.pid);
      } catch {
        continue; // removed meanwhile
      }
      if (owner === process.pid || isAlive(owner)) return false;
      rmSync(mark, { force: true }); // its process is gone
    }
  }
  return false;
}

/**
 * A free port that no other test process holds, below the kernel's range for outgoing connections. A port from
 * listen(0) is in that range, where any connection the suite opens may take it as its own local port between a CLI
 * run and the next, and another test file could find it free then as well. Each process
 * counts up from a place of its own, taken from its pid, and each port is taken from the count before the probe
 * waits, so ports asked for at once (Promise.all) all differ.
 */
export async function freePort(): Promise<number> {
  const end = ephemeralPortsStart();
  const span = end - FIRST_TEST_PORT;
  if (nextPort === 0) nextPort = FIRST_TEST_PORT + ((process.pid * 7919) % span);
  mkdirSync(PORT_MARKS, { recursive: true });
  for (let tried = 0; tried < span; tried++) {
    const port = nextPort;
    nextPort = port + 1 >= end ? FIRST_TEST_PORT : port + 1;
    if (markPort(port) && (await canListen(port))) return port;
  }
  throw new Error(`No free port from ${FIRST_TEST_PORT} to ${end - 1}`);
}

/** Free ports below 1024 (the tests run as root), from the top down; the kernel hands out none there by itself. */
async function freePrivilegedPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = 1023; port > 512 && ports.length < count; port--) {
    if (await canListen(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error('No free ports below 1024');
  return ports;
}

/** Resolves once the child prints a line matching `ready`; rejects if it exits first. */
function startAndWait(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp, cwd: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        // Keep draining so a chatty child never blocks on a full pipe.
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`)));
  });
}

/** SIGTERM to the child's PID, resolved once it has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(child.pid!, 'SIGTERM');
  });
}

export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'pebble-'));
  // The CLI's network process runs as nobody and must read the TLS certificate it trusts, as it would a system bundle.
  chmodSync(dir, 0o755);
  const tlsCaFile = join(dir, 'tls-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'tls-key.pem'),
    '-out', tlsCaFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    // Not a CA: Deno's TLS (rustls) refuses a CA certificate as the server's own ("CaUsedAsEndEntity").
    '-addext', 'basicConstraints=critical,CA:FALSE'], { stdio: 'ignore' });
  const [acmePort, managementPort, dnsPort, challtestsrvPort, ...challengePorts] = await Promise.all(Array.from({ length: 6 }, freePort));
  const [httpPort, tlsPort] = options.privilegedChallengePorts ? await freePrivilegedPorts(2) : challengePorts;
  writeFileSync(join(dir, 'pebble-config.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: join(dir, 'tls-cert.pem'),
      privateKey: join(dir, 'tls-key.pem'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: options.eabKeys !== undefined,
      externalAccountMACKeys: options.eabKeys ?? {},
    },
  }));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    children.push(await startAndWait('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challtestsrvPort}`,
      '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], process.env, /Starting management server/, dir));
    children.push(await startAndWait('pebble', ['-config', join(dir, 'pebble-config.json'), '-dnsserver', options.dnsServer ?? `127.0.0.1:${dnsPort}`],
      { ...process.env, PEBBLE_VA_NOSLEEP: '1', ...options.env }, /ACME directory available at/, dir));
  } catch (error) {
    await stop();
    throw error;
  }

  const dispatcher = new Agent({ connect: { ca: readFileSync(tlsCaFile, 'utf8') } });
  const trustingFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const challtestsrvUrl = `http://127.0.0.1:${challtestsrvPort}`;
  const challtestsrv = async (path: string, body: unknown) => {
    const response = await fetch(`${challtestsrvUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`challtestsrv ${path}: HTTP ${response.status} ${await response.text()}`);
  };
  // challtestsrv answers for fully qualified names only.
  const fqdn = (host: string) => (host.endsWith('.') ? host : `${host}.`);

  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    managementUrl,
    challtestsrvUrl,
    httpPort,
    tlsPort,
    dnsPort,
    tlsCaFile,
    dir,
    fetch: trustingFetch,
    async rootPem(index = 0) {
      const response = await trustingFetch(`${managementUrl}/roots/${index}`);
      if (!response.ok) throw new Error(`pebble /roots/${index}: HTTP ${response.status}`);
      return response.text();
    },
    setTxt: (host, value) => challtestsrv('/set-txt', { host: fqdn(host), value }),
    clearTxt: (host) => challtestsrv('/clear-txt', { host: fqdn(host) }),
    addCaa: (host, policies) => challtestsrv('/add-caa', { host: fqdn(host), policies }),
    setCname: (host, target) => challtestsrv('/set-cname', { host: fqdn(host), target: fqdn(target) }),
    async certStatus(serialHex) {
      const response = await trustingFetch(`${managementUrl}/cert-status-by-serial/${serialHex}`);
      if (!response.ok) throw new Error(`pebble cert-status-by-serial/${serialHex}: HTTP ${response.status} ${await response.text()}`);
      return (await response.json()) as Record<string, unknown>;
    },
    async stop() {
      await dispatcher.close();
      await stop();
    },
  };
}
