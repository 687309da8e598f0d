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
}

export interface Bind {
  port: number;
  /** "127.0.0.1:PORT", as --dns-server and --dns-update take it. */
  address: string;
  dir: string;
  /** The TXT values at `name`, as `dig` reads them straight from this server. */
  txt(name: string): string[];
  stop(): Promise<void>;
}

/** A zone whose one name server is ns.ZONE at 127.0.0.1: the tests ask it on BIND's port. */
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

export async function startBind(zones: BindZone[], keys: string): Promise<Bind> {
  const dir = mkdtempSync(join(tmpdir(), 'bind-'));
  const port = await freePort();
  writeFileSync(join(dir, 'keys.conf'), keys);
  // Recursion is on so that a CNAME into another zone is followed, as resolvers do for Pebble's VA; BIND holds the
  // root zone itself, so that recursion never leaves this server.
  writeFileSync(join(dir, 'root.zone'), `$TTL 60\n@ IN SOA ns.root. hostmaster.root. 1 3600 600 86400 60\n@ IN NS ns.root.\nns.root. IN A 127.0.0.1\n`);
  const zoneBlocks = zones.map((zone) => {
    writeFileSync(join(dir, `${zone.name}.zone`), zoneFile(zone));
    const policy = zone.updatePolicy ? `update-policy { ${zone.updatePolicy.join(' ')} };` : '';
    return `zone "${zone.name}" { type primary; file "${join(dir, `${zone.name}.zone`)}"; ${policy} };`;
  });
  writeFileSync(join(dir, 'named.conf'), `
include "${join(dir, 'keys.conf')}";
options {
  directory "${dir}";
  pid-file "${join(dir, 'named.pid')}";
  session-keyfile "${join(dir, 'session.key')}";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion yes;
  allow-recursion { 127.0.0.1; };
  dnssec-validation no;
  notify no;
};
controls { };
zone "." { type primary; file "${join(dir, 'root.zone')}"; };
${zoneBlocks.join('\n')}
`);
  // -g: stay in the foreground, log to stderr, run as root (no -u); it is ready once it says "running".
  const child = spawn('named', ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => stopChild(child).finally(() => rmSync(dir, { recursive: true, force: true }));
  try {
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/\brunning\b/.test(output)) {
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
    port,
    address: `127.0.0.1:${port}`,
    dir,
    txt(name) {
      const out = execFileSync('dig', ['+short', '+norecurse', '+tries=1', '-p', String(port), '@127.0.0.1', name, 'TXT'], { encoding: 'utf8' });
      return out.split('\n').filter(Boolean).map((line) => line.replace(/^"|"$/g, '')).sort();
    },
    stop,
  };
}

/** A BIND key clause, as tsig-keygen writes it. */
export function tsigKeyClause(name: string, algorithm: string, secretBase64: string): string {
  return `key "${name}" {\n\talgorithm ${algorithm};\n\tsecret "${secretBase64}";\n};\n`;
}
