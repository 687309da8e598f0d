// The Deno permissions that an acme-client command line needs, the rule README's table ("acme-client under Deno")
// states, and the `deno run` line that grants them. cli/deno.ts loads this only once a run has failed for want of
// a permission; the tests run every Deno case with exactly these permissions.

import { dirnamePath } from '../adapters/_path.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { listenPermission, parseArgs, type CliOptions } from './args.ts';
import { DEFAULT_ACCOUNT_KEY, DEFAULT_CERT_DIR, DEFAULT_CHALLENGE_DIR, directoryUrlOf, resolvePaths } from './defaults.ts';

/** The name servers of resolv.conf(5) text as --allow-net takes them, on port 53: Deno.resolveDns asks these. */
function systemResolvers(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^nameserver\s+(\S+)/gm)].map(([, address]) => (address!.includes(':') ? `[${address}]:53` : `${address}:53`));
}

/** --dns-server's ADDR, ADDR:PORT, IPv6 or [IPv6]:PORT as Deno's --allow-net takes it, port 53 by default. */
function withDnsPort(server: string): string {
  if (server.startsWith('[')) return server.includes(']:') ? server : `${server}:53`;
  if (server.split(':').length > 2) return `[${server}]:53`;
  return server.includes(':') ? server : `${server}:53`;
}

type Files = { read: string[]; write: string[] } | undefined;

/** One domain set: its certificate directory, and its keys (their folders when -n/-N creates them). */
function setFiles(options: CliOptions): Files {
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
function treeFiles(options: CliOptions): Files {
  const tree = options.names[0] ?? DEFAULT_CERT_DIR;
  const accountKeys = options.accountKey === undefined ? [dirnamePath(DEFAULT_ACCOUNT_KEY)] : options.createAccountKey ? [dirnamePath(options.accountKey)] : [];
  return {
    read: [tree, ...(options.renewList === undefined ? [] : [options.renewList]), ...(accountKeys.length ? accountKeys : [options.accountKey!])],
    write: [tree, ...accountKeys],
  };
}

/**
 * The narrowest Deno permissions for an acme-client command line: the CA's host:port, the --standalone or
 * --standalone-tls address, the --dns-update server, and the DNS server of the CAA pre-check and of --dns-update's
 * lookups (--dns-server, or the name servers in `resolvConf`, the text of /etc/resolv.conf); reads of the
 * --tsig-key file, the key files (their folders when -n/-N creates them), the certificate directory and the -C
 * directory; writes to the certificate directory, the -C directory and the folders that new keys or -m
 * create (for --renew-all and --renew-list: the tree). A command line the CLI refuses gets none, since it fails
 * before any access.
 */
export function denoPermissions(args: readonly string[], resolvConf = '', denoBinary = 'deno'): string[] {
  let options: CliOptions;
  try {
    options = parseArgs(args);
  } catch {
    return [];
  }
  const ca = new URL(directoryUrlOf(options));
  const net = [`${ca.hostname}:${ca.port || 443}`];
  for (const listen of [options.standalone, options.standaloneTls]) if (listen) net.push(listenPermission(listen));
  // --dns-update asks the resolver too, and the zone's servers on the update server's port (the tests': itself).
  if (options.caaCheck || options.dnsUpdate) net.push(...(options.dnsServer ? [withDnsPort(options.dnsServer)] : systemResolvers(resolvConf)));
  if (options.dnsUpdate) net.push(withDnsPort(options.dnsUpdate));
  const files = options.renewAll || options.renewList !== undefined ? treeFiles(options) : setFiles(options);
  if (!files) return [];
  if (options.tsigKey) files.read.push(options.tsigKey);
  // Without --dns-server, --dns-update reads its resolver from there.
  if (options.dnsUpdate && !options.dnsServer) files.read.push('/etc/resolv.conf');
  if (!options.challengeType && !options.standalone && !options.standaloneTls && !options.dnsUpdate) {
    files.read.push(options.challengeDir ?? DEFAULT_CHALLENGE_DIR);
    files.write.push(options.challengeDir ?? DEFAULT_CHALLENGE_DIR);
  }
  // Whom the network process runs as (/etc/passwd, when root) and the name servers it may ask for the CAA pre-check.
  files.read.push('/etc/passwd', ...(options.caaCheck && !options.dnsServer ? ['/etc/resolv.conf'] : []));
  const list = (items: string[]) => [...new Set(items)].join(',');
  // The key and network processes (cli/privsep.ts) are `deno run`s of this binary, and whether this process is root
  // decides whom the network process runs as.
  return [`--allow-net=${list(net)}`, `--allow-read=${list(files.read)}`, `--allow-write=${list(files.write)}`, `--allow-run=${denoBinary}`, '--allow-sys=uid'];
}

/** A word as POSIX sh reads it back unchanged: bare when it holds nothing the shell treats specially, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Deno's words for a permission it was not given, with its hint: "run again with the --allow-read flag". */
const DENIED = /^Requires \w+ access to (.*), run again with the (--allow-\w+) flag$/;

export interface DeniedRun {
  /** The failure as the CLI words it, with Deno's message in it (or, for --renew-all, one set's cause). */
  line: string;
  /** Deno's message for the permission it refused. */
  denied: string;
  args: readonly string[];
  /** The text of /etc/resolv.conf, or "" where it cannot be read. */
  resolvConf: string;
  /** The deno binary (Deno.execPath()), which runs the key and network processes. */
  denoBinary: string;
  /** cli/deno.ts, and the working directory that the line's relative paths are read from. */
  entry: string;
  cwd: string;
}

/**
 * A run that Deno refused a permission: the failure with Deno's hint (no use for a task, whose flags are fixed) put
 * as the flag that is missing, and under it, ready to copy, the `deno run` line with every permission this command
 * line needs. Undefined when the command line does not parse, which cannot fail for a permission.
 */
export function deniedRunText({ line, denied, args, resolvConf, denoBinary, entry, cwd }: DeniedRun): string | undefined {
  const permissions = denoPermissions(args, resolvConf, denoBinary);
  if (permissions.length === 0) return undefined;
  const match = DENIED.exec(denied);
  const missing = match ? `no ${match[2]} for ${match[1]}` : denied;
  const named = line.includes(denied) ? line.replace(denied, missing) : `${line} (${missing})`;
  const script = entry.startsWith(`${cwd}/`) ? entry.slice(cwd.length + 1) : entry;
  const command = ['deno', 'run', '--no-prompt', ...permissions, script, ...args].map(shellWord).join(' ');
  return `acme-client: ${named}; run it with the permissions this command line needs:\n${command}\n`;
}
