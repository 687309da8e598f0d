// acme-client(1)'s command line: the 2017 page's single-letter flags with getopt(3) rules (clusters such as -vvFn,
// -cDIR or -c DIR, options before operands, "--" ends them), plus long options for what that page lacks.

import { KEY_TYPES, type KeyType } from '../core/key-types.ts';
import { isBase64Url } from '../core/encoding.ts';
import { ipToBytes } from '../core/names.ts';

/** Challenge types a caller can answer under -t: it sets up the file or TXT record from the printed key authorization. */
const CALLER_CHALLENGE_TYPES = ['http-01', 'dns-01'] as const;
export type CallerChallengeType = (typeof CALLER_CHALLENGE_TYPES)[number];

export interface ListenAddress {
  /** Undefined: every interface. */
  host?: string;
  port: number;
}

export interface CliOptions {
  backup: boolean;
  expand: boolean;
  force: boolean;
  multiple: boolean;
  createAccountKey: boolean;
  createDomainKey: boolean;
  mustStaple: boolean;
  revoke: boolean;
  staging: boolean;
  /** How often -v was given: 1 progress, 2 also the HTTP trace. */
  verbosity: number;
  agreement?: string;
  challengeDir?: string;
  certDir?: string;
  accountKey?: string;
  domainKey?: string;
  challengeType?: CallerChallengeType;
  directory?: string;
  email?: string;
  keyType: KeyType;
  eabKid?: string;
  eabHmacKey?: string;
  preferredChain?: string;
  standalone?: ListenAddress;
  /** --standalone-tls: answer tls-alpn-01 (RFC 8737) from a TLS server of our own on this address. */
  standaloneTls?: ListenAddress;
  /** draft-ietf-acme-profiles: the profile to ask for; it must be one the CA lists. */
  profile?: string;
  /** The CAA pre-check (RFC 8659) before each order; --no-caa-check turns it off. */
  caaCheck: boolean;
  /** The DNS server for the CAA pre-check and the lookups of --dns-update, "ADDR" or "ADDR:PORT" ("[ADDR]:PORT" for IPv6); the system's by default. */
  dnsServer?: string;
  /** --dns-update: the primary server that takes RFC 2136 updates for dns-01, in --dns-server's form. */
  dnsUpdate?: string;
  /** --tsig-key: the BIND key file that signs those updates (RFC 8945); unsigned without. */
  tsigKey?: string;
  /** --renew-all: every certificate under the tree (the operand, default /etc/ssl/acme) laid out as -m does. */
  renewAll: boolean;
  /** --renew-list FILE: every domain set listed in FILE, one per line, in the -m layout under the tree. */
  renewList?: string;
  /** How many sets --renew-all or --renew-list work on at once (--jobs); DEFAULT_JOBS when not given. */
  jobs?: number;
  /** --retry-time: the seconds a run may lose to a failing CA (core/retry.ts's budget); its default when not given. */
  retryTime?: number;
  /** --user: the account the network process runs as when started as root (cli/privsep.ts picks one otherwise). */
  user?: string;
  help: boolean;
  version: boolean;
  names: string[];
}

const USAGE = 'usage: acme-client [-beFmnNOrsv] [-a agreement] [-C challengedir] [-c certdir] [-f accountkey] [-k domainkey] [-t challenge] domain [altnames...]';

export const HELP = `${USAGE}
  -a URL       terms of service you agree to (warns when the CA's differ)
  -b           back up cert, chain and fullchain before replacing or removing them
  -C DIR       where http-01 responses go (default /var/www/acme)
  -c DIR       certificate directory (default /etc/ssl/acme)
  -e           allow adding names to the certificate
  -F           renew even if it is not yet time
  -f FILE      account key (default /etc/acme/privkey.pem)
  -k FILE      domain key (default /etc/ssl/acme/private/privkey.pem)
  -m           append the domain to the default paths, creating directories
  -N           create the domain key if it does not exist
  -n           create the account key if it does not exist
  -O           ask for OCSP must-staple
  -r           revoke the certificate and remove its files
  -s           use Let's Encrypt's staging directory
  -t TYPE      answer challenges yourself: http-01 or dns-01 (see acme-client(1))
  -v           progress on stderr; -vv also traces HTTP
  --directory URL           ACME directory of any CA (default Let's Encrypt)
  --email ADDR              contact address for the account
  --key-type TYPE           key for -n/-N: ${KEY_TYPES.join(', ')} (default rsa4096)
  --eab-kid ID --eab-hmac-key KEY   external account binding
  --preferred-chain CN      pick the chain whose root has this issuer CN
  --standalone [ADDR:]PORT  answer http-01 with a built-in server
  --standalone-tls [ADDR:]PORT  answer tls-alpn-01 with a built-in TLS server
  --profile NAME            certificate profile the CA lists (Let's Encrypt: classic, tlsserver, shortlived)
  --no-caa-check            skip the CAA record check before ordering
  --dns-server ADDR[:PORT]  DNS server for the CAA check and --dns-update's lookups (default: the system's)
  --dns-update ADDR[:PORT]  answer dns-01 by RFC 2136 updates sent to this primary server
  --tsig-key FILE           sign the updates with this key, as BIND's tsig-keygen writes it
  --renew-all [DIR]         renew every certificate under DIR (default /etc/ssl/acme), laid out as by -m
  --renew-list FILE [DIR]   renew every set in FILE ("domain [altnames...]" per line) in that layout
  --jobs N                  sets worked on at once by --renew-all and --renew-list (default 4)
  --retry-time SECONDS      time a run may spend retrying a failing CA (default 60)
  --user NAME               run as root, the process that talks to the CA runs as NAME
                            (default _acme-client or acme-client where it exists, else nobody)
  --help, --version
Example, dns-01 through BIND for example.com and *.example.com:
  tsig-keygen -a hmac-sha256 acme > /etc/acme/tsig.key   (and include it in named.conf)
  zone "example.com" { ...; update-policy { grant acme name _acme-challenge.example.com. TXT; }; };
  acme-client --dns-update 192.0.2.53 --tsig-key /etc/acme/tsig.key example.com '*.example.com'
tls-alpn-01 when port 443 is free (stop the web server for the run), or when nginx's ssl_preread or haproxy
sends connections that offer ALPN acme-tls/1 to 127.0.0.1:8443 (see acme-client(1), EXAMPLES):
  acme-client -vNn --standalone-tls 443 example.com
  acme-client -vNn --standalone-tls 127.0.0.1:8443 example.com
Exit status: 0 certificate changed, 2 nothing to do, 1 failure.`;

/** Flags without an argument, and the option each one sets. */
const BOOLEAN_FLAGS: Record<string, keyof CliOptions> = {
  b: 'backup', e: 'expand', F: 'force', m: 'multiple', n: 'createAccountKey', N: 'createDomainKey', O: 'mustStaple', r: 'revoke', s: 'staging',
};
const VALUE_FLAGS: Record<string, 'agreement' | 'challengeDir' | 'certDir' | 'accountKey' | 'domainKey' | 'challengeType'> = {
  a: 'agreement', C: 'challengeDir', c: 'certDir', f: 'accountKey', k: 'domainKey', t: 'challengeType',
};
const LONG_VALUE_OPTIONS = [
  'directory', 'email', 'key-type', 'eab-kid', 'eab-hmac-key', 'preferred-chain', 'standalone', 'standalone-tls', 'profile', 'dns-server',
  'dns-update', 'tsig-key',
  'renew-list', 'jobs', 'retry-time', 'user',
] as const;
/** Long options without a value, and the option each one sets. */
const LONG_FLAGS: Record<string, (options: CliOptions) => void> = {
  help: (options) => (options.help = true),
  version: (options) => (options.version = true),
  'no-caa-check': (options) => (options.caaCheck = false),
  'renew-all': (options) => (options.renewAll = true),
};
export const DEFAULT_JOBS = 4;
const MAX_JOBS = 64;
/** A run that waits longer than an hour for its CA would overlap the next cron run. */
const MAX_RETRY_SECONDS = 3600;
type LongValueOption = (typeof LONG_VALUE_OPTIONS)[number];

/** Long options whose value is taken as it is, and the option each one sets. */
const VERBATIM_LONG_OPTIONS: Partial<Record<LongValueOption, 'eabKid' | 'preferredChain' | 'profile' | 'renewList' | 'tsigKey' | 'user'>> = {
  'eab-kid': 'eabKid', 'preferred-chain': 'preferredChain', profile: 'profile', 'renew-list': 'renewList', 'tsig-key': 'tsigKey', user: 'user',
};

function setLong(options: CliOptions, name: LongValueOption, value: string): void {
  if (value === '') throw new RangeError(`--${name} needs a non-empty value`);
  const verbatim = VERBATIM_LONG_OPTIONS[name];
  if (verbatim) {
    options[verbatim] = value;
    return;
  }
  switch (name) {
    case 'directory': {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        throw new RangeError(`--directory ${JSON.stringify(value)} is not a URL`);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RangeError(`--directory ${JSON.stringify(value)} is not an https URL`);
      options.directory = value;
      break;
    }
    case 'email':
      // RFC 8555 §7.3: contacts are mailto: URLs, and CAs refuse hfields, so one plain address is all we accept.
      if (!/^[^\s@,?<>]+@[^\s@,?<>]+$/.test(value)) throw new RangeError(`--email ${JSON.stringify(value)} is not one plain e-mail address`);
      options.email = value;
      break;
    case 'key-type':
      if (!(KEY_TYPES as readonly string[]).includes(value)) throw new RangeError(`--key-type ${JSON.stringify(value)} is not one of ${KEY_TYPES.join(', ')}`);
      options.keyType = value as KeyType;
      break;
    case 'eab-hmac-key':
      // RFC 8555 §7.3.4: the CA hands out the MAC key base64url-encoded.
      if (!isBase64Url(value)) throw new RangeError('--eab-hmac-key is not base64url, as the CA hands it out');
      options.eabHmacKey = value;
      break;
    case 'standalone':
      options.standalone = parseListenAddress(value, name);
      break;
    case 'standalone-tls':
      options.standaloneTls = parseListenAddress(value, name);
      break;
    case 'dns-server':
      options.dnsServer = parseDnsServer(name, value);
      break;
    case 'dns-update':
      options.dnsUpdate = parseDnsServer(name, value);
      break;
    case 'jobs':
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_JOBS) throw new RangeError(`--jobs ${JSON.stringify(value)} is not a number from 1 to ${MAX_JOBS}`);
      options.jobs = Number(value);
      break;
    case 'retry-time':
      if (!/^\d+$/.test(value) || Number(value) > MAX_RETRY_SECONDS) throw new RangeError(`--retry-time ${JSON.stringify(value)} is not a number of seconds from 0 to ${MAX_RETRY_SECONDS}`);
      options.retryTime = Number(value);
      break;
  }
}

/** ADDR, ADDR:PORT or [IPv6]:PORT, as Node's and Deno's resolvers take a server; returned as given once checked. */
function parseDnsServer(option: string, text: string): string {
  const match = /^(?:\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?|([0-9.]+)(?::(\d{1,5}))?|([0-9a-fA-F:.]*:[0-9a-fA-F:.]*))$/.exec(text);
  const address = match?.[1] ?? match?.[3] ?? match?.[5];
  const port = match?.[2] ?? match?.[4];
  let valid = address !== undefined && (port === undefined || (Number(port) >= 1 && Number(port) <= 65535));
  try {
    if (valid) ipToBytes(address!);
  } catch {
    valid = false;
  }
  if (!valid) throw new RangeError(`--${option} ${JSON.stringify(text)} is not an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53`);
  return text;
}

/** [ADDR:]PORT, where an IPv6 ADDR is written in brackets as in a URL: [::1]:80. */
export function parseListenAddress(text: string, flag: string): ListenAddress {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]*):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new RangeError(`--${flag} ${JSON.stringify(text)} is not [ADDR:]PORT with a port from 1 to 65535`);
  const host = match[1]?.replace(/^\[(.*)\]$/, '$1');
  return host ? { host, port } : { port };
}

/** A listen address as Deno's --allow-net names it: HOST:PORT, [IPv6]:PORT, and [::]:PORT for every interface. */
export function listenPermission(address: ListenAddress): string {
  const host = address.host ?? '::';
  return `${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

function setValue(options: CliOptions, flag: string, value: string): void {
  const name = VALUE_FLAGS[flag]!;
  if (value === '') throw new RangeError(`-${flag} needs a non-empty argument`);
  if (name === 'challengeType') {
    if (!(CALLER_CHALLENGE_TYPES as readonly string[]).includes(value)) {
      throw new RangeError(`-t ${JSON.stringify(value)} is not a challenge type: use ${CALLER_CHALLENGE_TYPES.join(' or ')}`);
    }
    options.challengeType = value as CallerChallengeType;
  } else {
    options[name] = value;
  }
}

/** Parses argv (without node and the script); caller mistakes throw TypeError (form) or RangeError (value). */
export function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = {
    backup: false, expand: false, force: false, multiple: false, createAccountKey: false, createDomainKey: false,
    mustStaple: false, revoke: false, staging: false, verbosity: 0, keyType: 'rsa4096', caaCheck: true, renewAll: false,
    help: false, version: false, names: [],
  };
  let index = 0;
  let dashDash = false;
  for (; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === '--') {
      dashDash = true;
      index++;
      break;
    }
    if (arg.startsWith('--')) {
      const [name, inline] = arg.includes('=') ? [arg.slice(2, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg.slice(2), undefined];
      if (name in LONG_FLAGS) {
        if (inline !== undefined) throw new TypeError(`--${name} takes no value`);
        LONG_FLAGS[name]!(options);
      } else if ((LONG_VALUE_OPTIONS as readonly string[]).includes(name)) {
        const value = inline ?? argv[++index];
        if (value === undefined) throw new TypeError(`--${name} needs a value`);
        setLong(options, name as LongValueOption, value);
      } else {
        throw new TypeError(`unknown option --${name}; see acme-client --help`);
      }
      continue;
    }
    // getopt(3): a lone "-" and the first word without a leading "-" end the options.
    if (!arg.startsWith('-') || arg === '-') break;
    for (let at = 1; at < arg.length; at++) {
      const flag = arg[at]!;
      if (flag === 'v') {
        options.verbosity++;
      } else if (flag in BOOLEAN_FLAGS) {
        (options as unknown as Record<string, boolean>)[BOOLEAN_FLAGS[flag]!] = true;
      } else if (flag in VALUE_FLAGS) {
        // The rest of the word is the argument (-cDIR), or else the next word (-c DIR).
        const value = at + 1 < arg.length ? arg.slice(at + 1) : argv[++index];
        if (value === undefined) throw new TypeError(`option -${flag} needs an argument`);
        setValue(options, flag, value);
        break;
      } else {
        throw new TypeError(`unknown option -${flag}; see acme-client --help`);
      }
    }
  }
  options.names = argv.slice(index);
  if (options.help || options.version) return options;
  const many = options.renewAll || options.renewList !== undefined;
  if (options.names.length === 0 && !many) throw new TypeError(`no domain given; ${USAGE}`);
  // getopt stops at the first operand, so a flag after a name would otherwise surface as a bad name.
  const late = dashDash ? undefined : options.names.find((name) => name.startsWith('-') && name !== '-');
  if (late) throw new TypeError(`option ${late} comes after the domain names: options go first`);
  checkCombinations(options);
  return options;
}

function checkCombinations(options: CliOptions): void {
  if ((options.eabKid === undefined) !== (options.eabHmacKey === undefined)) throw new TypeError('--eab-kid and --eab-hmac-key go together');
  if (options.staging && options.directory) throw new TypeError('-s and --directory both choose the CA: give one');
  // Each of these answers every challenge, so two of them leave the choice to chance.
  const answering = [[options.challengeType, '-t'], [options.standalone, '--standalone'], [options.standaloneTls, '--standalone-tls'], [options.dnsUpdate, '--dns-update']] as const;
  const given = answering.filter(([value]) => value !== undefined).map(([, flag]) => flag);
  if (given.length > 1) throw new TypeError(`${given[0]} and ${given[1]} both answer the challenges: give one`);
  const wildcard = options.standaloneTls && options.names.find((name) => name.trim().startsWith('*.'));
  if (wildcard) throw new RangeError(`--standalone-tls cannot answer for ${wildcard}: CAs offer no tls-alpn-01 for a wildcard (RFC 8737 §3); use -t dns-01 or --dns-update`);
  if (options.tsigKey !== undefined && options.dnsUpdate === undefined) throw new TypeError('--tsig-key signs the updates of --dns-update: give both');
  const many = options.renewAll ? '--renew-all' : options.renewList !== undefined ? '--renew-list' : undefined;
  if (!many) {
    if (options.jobs !== undefined) throw new TypeError('--jobs is for --renew-all and --renew-list');
    return;
  }
  if (options.renewAll && options.renewList !== undefined) throw new TypeError('--renew-all and --renew-list both choose the sets: give one');
  if (options.names.length > 1) throw new TypeError(`${many} takes one directory at most, the tree the certificates are in, not domain names`);
  // Each set has its own files in the tree, and -t's questions would interleave between sets.
  for (const [given, flag] of [[options.certDir, '-c'], [options.domainKey, '-k'], [options.revoke || undefined, '-r'], [options.challengeType, '-t']] as const) {
    if (given !== undefined) throw new TypeError(`${many} cannot be combined with ${flag}`);
  }
}
