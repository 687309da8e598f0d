// What the runtimes' CAA resolvers and the RFC 2136 responder share: a DNS server's address as the options give it,
// and following a name's CNAME chain.

/** A DNS server to send messages to. */
export interface DnsServer {
  /** An IPv4 or IPv6 address, without brackets. */
  host: string;
  port: number;
}

/** "127.0.0.1:8053", "[::1]:53" or a bare address (port 53), as --dns-server and --dns-update take a server. */
export function parseDnsServer(text: string): DnsServer {
  const match = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$|^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$|^([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)$/.exec(text);
  const port = Number(match?.[2] ?? match?.[4] ?? 53);
  if (!match || port < 1 || port > 65535) {
    throw new TypeError(`Invalid DNS server ${JSON.stringify(text)}: expected an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53`);
  }
  return { host: (match[1] ?? match[3] ?? match[5])!, port };
}

/** How messages name a server: host:port, an IPv6 address in brackets. */
export function describeDnsServer(server: DnsServer): string {
  return `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
}

/** RFC 1034 §3.6.2 allows chains; real ones are short, and a loop must end. */
const MAX_CNAME_HOPS = 8;

/**
 * The end of `name`'s CNAME chain, which is where the records a recursive lookup returns sit (for CAA's `owner`);
 * `cnames` gives a name's CNAME targets, none when it has no CNAME.
 */
export async function cnameChainEnd(name: string, cnames: (name: string) => Promise<string[]>): Promise<string> {
  let current = name;
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const targets = await cnames(current);
    if (targets.length === 0) return current;
    current = targets[0]!;
  }
  return current;
}
