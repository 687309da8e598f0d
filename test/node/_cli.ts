// Helpers for the CLI tests: run acme-client as a child in Node (the build) or in Deno (cli/deno.ts with the
// narrowest permissions), serve a webroot for http-01, and snapshot a directory tree (modes and bytes) to prove
// that a refused run changed nothing.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';
import { dirnamePath } from '../../adapters/_path.ts';
import { parseArgs } from '../../cli/args.ts';
import { DEFAULT_ACCOUNT_KEY, DEFAULT_CERT_DIR, DEFAULT_CHALLENGE_DIR, directoryUrlOf, resolvePaths } from '../../cli/defaults.ts';
import { normalizeIdentifiers } from '../../core/names.ts';

export const CLI = fileURLToPath(new URL('../../dist/cli/acme-client.cjs', import.meta.url));
const DENO = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));
const DENO_CLI = fileURLToPath(new URL('../../cli/deno.ts', import.meta.url));
/** Project-local: Deno resolves packages from node_modules ("nodeModulesDir": "manual") and needs no network. */
const DENO_DIR = fileURLToPath(new URL('../../node_modules/.cache/deno', import.meta.url));

export type Runtime = 'node' | 'deno';
/** Each CLI test runs in both; the test names start with the runtime, e.g. "[deno] ...". */
export const RUNTIMES: readonly Runtime[] = ['node', 'deno'];

/** The system's DNS servers, as Deno's resolver reads them: it asks them for CAA records on port 53. */
function systemResolvers(): string[] {
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/^nameserver\s+(\S+)/gm)].map(([, address]) => (address!.includes(':') ? `[${address}]:53` : `${address}:53`));
}

/** --dns-server's ADDR, ADDR:PORT, IPv6 or [IPv6]:PORT as Deno's --allow-net takes it, port 53 by default. */
function withDnsPort(server: string): string {
  if (server.startsWith('[')) return server.includes(']:') ? server : `${server}:53`;
  if (server.split(':').length > 2) return `[${server}]:53`;
  return server.includes(':') ? server : `${server}:53`;
}

/**
 * The narrowest Deno permissions for an acme-client command line, as README.md states them: the CA's
 * host:port, the --standalone address, and the DNS server of the CAA pre-check (--dns-server, or the system's);
 * reads of the key files (their folders when -n/-N creates them), the certificate directory and the -C directory;
 * writes to the certificate directory, the -C directory and the folders that new keys or -m create (for --renew-all
 * and --renew-list: the tree). A command line the CLI refuses gets none, since it must fail before any access.
 */
export function denoPermissions(args: readonly string[]): string[] {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(args);
  } catch {
    return [];
  }
  const ca = new URL(directoryUrlOf(options));
  const net = [`${ca.hostname}:${ca.port || 443}`];
  const host = options.standalone?.host ?? '::';
  if (options.standalone) net.push(`${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${options.standalone.port}`);
  if (options.caaCheck) net.push(...(options.dnsServer ? [withDnsPort(options.dnsServer)] : systemResolvers()));
  const files = options.renewAll || options.renewList !== undefined ? treeFiles(options) : setFiles(options);
  if (!files) return [];
  if (!options.challengeType && !options.standalone) {
    files.read.push(options.challengeDir ?? DEFAULT_CHALLENGE_DIR);
    files.write.push(options.challengeDir ?? DEFAULT_CHALLENGE_DIR);
  }
  const list = (items: string[]) => [...new Set(items)].join(',');
  return [`--allow-net=${list(net)}`, `--allow-read=${list(files.read)}`, `--allow-write=${list(files.write)}`];
}

type Files = { read: string[]; write: string[] } | undefined;

/** One domain set: its certificate directory, and its keys (their folders when -n/-N creates them). */
function setFiles(options: ReturnType<typeof parseArgs>): Files {
  let domain: string;
  try {
    domain = normalizeIdentifiers(options.names)[0]!.value;
  } catch {
    return undefined;
  }
  const paths = resolvePaths(options, domain);
  const accountKey = options.createAccountKey ? dirnamePath(paths.accountKey) : paths.accountKey;
  const domainKey = options.createDomainKey ? dirnamePath(paths.domainKey) : paths.domainKey;
  return {
    read: [paths.certDir, accountKey, domainKey],
    write: [paths.certDir, ...(options.createAccountKey ? [accountKey] : []), ...(options.createDomainKey ? [domainKey] : []), ...paths.perDomainDirs],
  };
}

/**
 * --renew-all and --renew-list: the tree holds every set's files and domain keys (-m's layout); the account key is
 * -f's, or each set's own under /etc/acme/DOMAIN, whose folders may be made; and --renew-list's file is read.
 */
function treeFiles(options: ReturnType<typeof parseArgs>): Files {
  const tree = options.names[0] ?? DEFAULT_CERT_DIR;
  const accountKeys = options.accountKey === undefined ? [dirnamePath(DEFAULT_ACCOUNT_KEY)] : options.createAccountKey ? [dirnamePath(options.accountKey)] : [];
  return {
    read: [tree, ...(options.renewList === undefined ? [] : [options.renewList]), ...(accountKeys.length ? accountKeys : [options.accountKey!])],
    write: [tree, ...accountKeys],
  };
}

/** The command that runs acme-client with `args` in `runtime`; Deno gets `permissions`, by default the narrowest. */
function cliCommand(runtime: Runtime, args: readonly string[], permissions = denoPermissions(args)): [string, string[]] {
  if (runtime === 'node') return [process.execPath, [CLI, ...args]];
  return [DENO, ['run', '--no-prompt', ...permissions, DENO_CLI, ...args]];
}

export interface CliResult {
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
  /** The child's working directory (this process's by default) and more environment for it. */
  cwd?: string;
  env?: Record<string, string>;
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const runtime = options.runtime ?? 'node';
  return runChild(runtime, cliCommand(runtime, args, options.permissions), options);
}

/** `deno ARGS` as the tests run Deno: the project-local DENO_DIR, no colours, and DENO_CERT when `caFile` is given. */
export function runDeno(args: string[], options: Omit<RunOptions, 'runtime'> = {}): Promise<CliResult> {
  return runChild('deno', [DENO, args], options);
}

/** A child that trusts no extra CA but `caFile` (given the way its runtime reads it), with its output collected. */
function runChild(runtime: Runtime, [command, argv]: [string, string[]], options: RunOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DENO_DIR, DENO_NO_UPDATE_CHECK: '1', ...options.env };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env.DENO_CERT;
    if (options.caFile) env[runtime === 'node' ? 'NODE_EXTRA_CA_CERTS' : 'DENO_CERT'] = options.caFile;
    const child = spawn(command, argv, { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
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
export function serveWebroot(webroot: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(request.url ?? '')?.[1];
    try {
      const body = token ? readFileSync(join(webroot, token)) : undefined;
      if (!body) throw new Error('no token');
      response.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
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
