// Starts a real BIND 9 (Debian's named) on a free loopback port for one test file, with its own configuration,
// zones and TSIG key in a temporary folder, and stops it by PID. Node-only test helper.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild } from './_pebble.ts';

export interface BindZone {
  name: string;
  /** Records after the SOA and NS, in zone-file syntax with names relative to the zone. */
  records?: string[];
  /** The update-policy rules (`grant KEY ...;`); none means the zone takes no update and answers REFUSED. */
  updatePolicy?: string[];
  /** A secondary that transfers the zone from this primary ("127.0.0.1 port 5300") instead of loading records. */
  primary?: string;
  /** Where the primary sends NOTIFY on a change ("127.0.0.2 port 5300"), so a secondary transfers it at once. */
  notify?: string;
}

export interface BindOptions {
  /**
   * The loopback address to listen on: 127.0.0.1 by default, or ::1 for a second server on the same port (named
   * listens only on an interface's own addresses, and 127.0.0.1 is the only IPv4 one of lo). The port is free on
   * 127.0.0.1 unless given.
   */
  host?: string;
  port?: number;
  /** The log line that says it is ready (named's "running" by default; a secondary's first transfer, say). */
  ready?: RegExp;
}

export interface Bind {
  port: number;
  host: string;
  /** "HOST:PORT", as --dns-server and --dns-update take it. */
  address: string;
  dir: string;
  /** The TXT values at `name`, as `dig` reads them straight from this server. */
  txt(name: string): string[];
  stop(): Promise<void>;
}

/** A zone whose name server is ns.ZONE at 127.0.0.1 (and any that `records` add): the tests ask them on BIND's port. */
function zoneFile(zone: BindZone): string {
  return [
    '$TTL 60',
    `@ IN SOA ns.${zone.name}. hostmaster.${zone.name}. 1 3600 600 86400 60`,
    `@ IN NS ns.${zone.name}.`,
    'ns IN A 127.0.0.1',
    ...(zone.records ?? []),
    '',
  ].join('\n');
}

export async function startBind(zones: BindZone[], keys: string, options: BindOptions = {}): Promise<Bind> {
  const dir = mkdtempSync(join(tmpdir(), 'bind-'));
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  writeFileSync(join(dir, 'keys.conf'), keys);
  // Recursion is on so that a CNAME into another zone is followed, as resolvers do for Pebble's VA; BIND holds the
  // root zone itself, so that recursion never leaves this server.
  writeFileSync(join(dir, 'root.zone'), `$TTL 60\n@ IN SOA ns.root. hostmaster.root. 1 3600 600 86400 60\n@ IN NS ns.root.\nns.root. IN A 127.0.0.1\n`);
  const zoneBlocks = zones.map((zone) => {
    const file = join(dir, `${zone.name}.zone`);
    if (zone.primary) return `zone "${zone.name}" { type secondary; file "${file}"; primaries { ${zone.primary}; }; allow-notify { any; }; };`;
    writeFileSync(file, zoneFile(zone));
    const policy = zone.updatePolicy ? `update-policy { ${zone.updatePolicy.join(' ')} };` : '';
    const notify = zone.notify ? `notify explicit; notify-delay 0; also-notify { ${zone.notify}; };` : '';
    return `zone "${zone.name}" { type primary; file "${file}"; ${policy} ${notify} };`;
  });
  writeFileSync(join(dir, 'named.conf'), `
include "${join(dir, 'keys.conf')}";
options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  ${host.includes(':') ? `listen-on { none; };
  listen-on-v6 port ${port} { ${host}; };` : `listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };`}
  recursion yes;
  allow-recursion { 127.0.0.0/8; ::1; };
  allow-transfer { 127.0.0.0/8; ::1; };
  dnssec-validation no;
  notify no;
};
controls { };
zone "." { type primary; file "${join(dir, 'root.zone')}"; };
${zoneBlocks.join('\n')}
`);
  // -g: stay in the foreground, log to stderr, run as root (no -u); ready once it says "running" (or `options.ready`).
  const child = spawn('named', ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if ((options.ready ?? /\brunning\b/).test(output)) {
          child.stderr!.resume();
          resolve();
        }
      });
      child.stdout!.resume();
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`named exited with ${code} before it was ready:\n${output}`)));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    dir,
    txt(name) {
      const out = execFileSync('dig', ['+short', '+norecurse', '+tries=1', '-p', String(port), `@${host}`, name, 'TXT'], { encoding: 'utf8' });
      return out.split('\n').filter(Boolean).map((line) => line.replace(/^"|"$/g, '')).sort();
    },
    stop,
  };
}

/** A BIND key clause, as tsig-keygen writes it. */
export function tsigKeyClause(name: string, algorithm: string, secretBase64: string): string {
  return `key "${name}" {\n\talgorithm ${algorithm};\n\tsecret "${secretBase64}";\n};\n`;
}
