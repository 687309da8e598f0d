// Helpers for the CLI tests: run the built acme-client as a child, serve a webroot for http-01, and snapshot a
// directory tree (modes and bytes) to prove that a refused run changed nothing.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createHash } from 'node:crypto';

export const CLI = fileURLToPath(new URL('../../dist/cli/acme-client.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Pebble's TLS certificate, trusted through NODE_EXTRA_CA_CERTS as a user would. */
  caFile?: string;
  /** Called for each stdout line; what it returns (if anything) is written back on stdin with a newline. */
  onLine?: (line: string) => Promise<string | undefined> | string | undefined;
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (options.caFile) env.NODE_EXTRA_CA_CERTS = options.caFile;
    else delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
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
