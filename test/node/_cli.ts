// Helpers for the CLI tests: run acme-client as a child in Node (the build) or in Deno (cli/deno.ts with the
// narrowest permissions), serve a webroot for http-01, and snapshot a directory tree (modes and bytes) to prove
// that a refused run changed nothing.

import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { denoPermissions as productPermissions } from '../../cli/deno-permissions.ts';

export const CLI = fileURLToPath(new URL('../../dist/cli/acme-client.cjs', import.meta.url));
const DENO = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));
/** What Deno.execPath() names: the binary the npm package holds, behind node_modules/.bin's link. */
export const DENO_BINARY = realpathSync(DENO);
const DENO_CLI = fileURLToPath(new URL('../../cli/deno.ts', import.meta.url));
/** Project-local: Deno resolves packages from node_modules ("nodeModulesDir": "manual") and needs no network. */
const DENO_DIR = fileURLToPath(new URL('../../node_modules/.cache/deno', import.meta.url));

export type Runtime = 'node' | 'deno';
/** Each CLI test runs in both; the test names start with the runtime, e.g. "[deno] ...". */
export const RUNTIMES: readonly Runtime[] = ['node', 'deno'];

/** /etc/resolv.conf, whose name servers Deno's resolver asks for CAA records (on port 53). */
function resolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

/** The narrowest Deno permissions for an acme-client command line (cli/deno-permissions.ts, as README.md states them). */
export function denoPermissions(args: readonly string[]): string[] {
  return productPermissions(args, resolvConf(), DENO_BINARY);
}

/** The command that runs acme-client with `args` in `runtime`; Deno gets `permissions`, by default the narrowest. */
function cliCommand(runtime: Runtime, args: readonly string[], permissions = denoPermissions(args)): [string, string[]] {
  if (runtime === 'node') return [process.execPath, [CLI, ...args]];
  return [DENO, ['run', '--no-prompt', ...permissions, DENO_CLI, ...args]];
}

export interface CliResult {
  /** The exit status; -1 when a signal ended the child. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Node (the default) or Deno. */
  runtime?: Runtime;
  /** Pebble's TLS certificate, trusted as a user would: NODE_EXTRA_CA_CERTS in Node, DENO_CERT in Deno. */
  caFile?: string;
  /** Called for each stdout line; what it returns (if anything) is written back on stdin with a newline. */
  onLine?: (line: string) => Promise<string | undefined> | string | undefined;
  /** Deno's permission flags instead of the narrowest set for the command line. */
  permissions?: string[];
  /** Called with all of stderr so far and the child's pid each time stderr grows: a test can act while it runs. */
  onStderr?: (stderr: string, pid: number) => void;
  /** The child's working directory (this process's by default) and more environment for it. */
  cwd?: string;
  env?: Record<string, string>;
  /** `ulimit -n`: the most file descriptors the CLI may hold open at once, sockets included. */
  fileLimit?: number;
  /** Called with the child once it runs, e.g. to kill it; its stdout and stderr are still collected. */
  onSpawn?: (child: ChildProcessWithoutNullStreams) => void;
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const runtime = options.runtime ?? 'node';
  const [command, argv] = cliCommand(runtime, args, options.permissions);
  if (options.fileLimit === undefined) return runChild(runtime, [command, argv], options);
  return runChild(runtime, ['sh', ['-c', `ulimit -n ${options.fileLimit} && exec "$@"`, 'sh', command, ...argv]], options);
}

/** A run that stops itself at a checkpoint (ACME_CLIENT_TEST_PAUSE_AT, see cli/platform.ts) and waits there to be killed. */
export interface PausedRun {
  /** The child's PID, once it has said it is paused; rejects if it ended first. */
  paused: Promise<number>;
  /** SIGKILL, as a crash would stop it. */
  kill(): void;
  result: Promise<CliResult>;
}

export function runCliUntil(args: string[], point: string, options: RunOptions = {}): PausedRun {
  let child: ChildProcessWithoutNullStreams | undefined;
  let reached: (pid: number) => void = () => {};
  const paused = new Promise<number>((resolve) => (reached = resolve));
  const result = runCli(args, {
    ...options,
    env: { ...options.env, ACME_CLIENT_TEST_PAUSE_AT: point },
    onSpawn(spawned) {
      child = spawned;
      let stderr = '';
      spawned.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()).includes(`acme-client: paused at ${point}\n`) && reached(spawned.pid!));
      options.onSpawn?.(spawned);
    },
  });
  return {
    paused: Promise.race([paused, result.then((ended) => Promise.reject(new Error(`the run ended before ${point}: exit ${ended.code}: ${ended.stderr}`)))]),
    kill: () => child?.kill('SIGKILL'),
    result,
  };
}

/** `deno ARGS` as the tests run Deno: the project-local DENO_DIR, no colours, and DENO_CERT when `caFile` is given. */
export function runDeno(args: string[], options: Omit<RunOptions, 'runtime'> = {}): Promise<CliResult> {
  return runChild('deno', [DENO, args], options);
}

/** A command line as a user pastes it into sh, with the project's deno as `deno` on PATH. */
export function runShell(line: string, options: Omit<RunOptions, 'runtime'> = {}): Promise<CliResult> {
  const env = { PATH: `${dirname(DENO)}:${process.env.PATH}`, ...options.env };
  return runChild('deno', ['/bin/sh', ['-c', line]], { ...options, env });
}

/** A child that trusts no extra CA but `caFile` (given the way its runtime reads it), with its output collected. */
function runChild(runtime: Runtime, [command, argv]: [string, string[]], options: RunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DENO_DIR, DENO_NO_UPDATE_CHECK: '1', ...options.env };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env.DENO_CERT;
    if (options.caFile) env[runtime === 'node' ? 'NODE_EXTRA_CA_CERTS' : 'DENO_CERT'] = options.caFile;
    const child = spawn(command, argv, { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(stderr, child.pid!);
    });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', async (line) => {
      stdout += `${line}\n`;
      const answer = await options.onLine?.(line);
      if (answer !== undefined && child.stdin.writable) child.stdin.write(`${answer}\n`);
    });
    if (!options.onLine) child.stdin.end();
    child.stdin.on('error', () => undefined); // the child may exit before reading
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file and directory below `dir` with its mode and a digest of its bytes. */
export function snapshotTree(dir: string): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (path: string, relative: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const key = join(relative, name);
      const stat = statSync(full);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        entries[`${key}/`] = mode;
        walk(full, key);
      } else {
        entries[key] = `${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
      }
    }
  };
  walk(dir, '');
  return entries;
}

/** A static server for http-01 on 127.0.0.1:port, serving `webroot` at /.well-known/acme-challenge/ as a web server would. */
/** A webroot's web server (test/_webroot-server.ts), a process of its own. */
export interface WebrootServer {
  pid: number;
  /** Settles once the process is gone, and with it its port. */
  exited: Promise<void>;
}

const WEBROOT_SERVER = fileURLToPath(new URL('../_webroot-server.ts', import.meta.url));

/** Serves `webroot` on 127.0.0.1:`port` for Pebble's http-01 validation, from a process of its own; closeServer stops it. */
export function serveWebroot(webroot: string, port: number): Promise<WebrootServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', WEBROOT_SERVER, webroot, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', () => resolve({ pid: child.pid!, exited }));
    void exited.then(() => reject(new Error(`the webroot server for port ${port} ended before it listened: ${stderr.trim()}`)));
  });
}

/** Stops a webroot's server by its PID, and waits until it is gone, so that its port is free again. */
export async function closeServer(server: WebrootServer): Promise<void> {
  try {
    process.kill(server.pid, 'SIGTERM');
  } catch {
    // It has ended already.
  }
  await server.exited;
}

/** Serial (lowercase hex), issuer CN and subjectAltName names of a PEM certificate, as openssl reads them. */
export function opensslRead(pemFile: string): { serialHex: string; issuerCn: string; names: string[] } {
  const out = execFileSync('openssl', ['x509', '-in', pemFile, '-noout', '-serial', '-issuer', '-ext', 'subjectAltName', '-nameopt', 'multiline'], { encoding: 'utf8' });
  const san = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(out)?.[1] ?? '';
  return {
    serialHex: /serial=([0-9A-F]+)/.exec(out)![1]!.toLowerCase(),
    issuerCn: /commonName\s*=\s*(.*)/.exec(out)![1]!.trim(),
    names: san.split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, '')).sort(),
  };
}

/** `openssl verify` of cert.pem through chain.pem up to `rootPem`; returns openssl's output, throws if it fails. */
export function opensslVerify(certDir: string, rootPem: string): string {
  const rootFile = join(tmpdir(), `pebble-root-${process.pid}-${Date.now()}.pem`);
  writeFileSync(rootFile, rootPem);
  try {
    return execFileSync('openssl', ['verify', '-CAfile', rootFile, '-untrusted', join(certDir, 'chain.pem'), join(certDir, 'cert.pem')], { encoding: 'utf8' });
  } finally {
    rmSync(rootFile);
  }
}
