/**
 * dns-01 by RFC 2136 dynamic updates from Deno, signed with TSIG (RFC 8945). Messages go over TCP (RFC 7766):
 * Deno's UDP sockets still need --unstable-net.
 *
 * @module
 */

import type { DnsServer } from '../core/_dns.ts';
import { dnsUpdateResponder as coreResponder, type DnsExchange, type DnsUpdateResponderOptions } from '../core/dns-update.ts';
import type { ChallengeResponder } from '../core/flow.ts';

export type { DnsUpdateResponderOptions } from '../core/dns-update.ts';
export { parseTsigKey, type TsigAlgorithm, type TsigKey } from '../core/tsig-key.ts';

const TCP_TIMEOUT = 10_000;

async function readExactly(connection: Deno.Conn, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  for (let filled = 0; filled < length;) {
    const read = await connection.read(bytes.subarray(filled));
    if (read === null) throw new Error('the server closed the connection without an answer');
    filled += read;
  }
  return bytes;
}

/** RFC 1035 §4.2.2: each message on a TCP connection is preceded by its 16-bit length. */
const denoDnsExchange: DnsExchange = async (server: DnsServer, message: Uint8Array) => {
  const connection = await Deno.connect({ hostname: server.host, port: server.port });
  const timer = setTimeout(() => connection.close(), TCP_TIMEOUT);
  try {
    const framed = new Uint8Array(2 + message.length);
    framed.set([message.length >> 8, message.length & 0xff]);
    framed.set(message, 2);
    for (let written = 0; written < framed.length;) written += await connection.write(framed.subarray(written));
    const [high, low] = await readExactly(connection, 2);
    return await readExactly(connection, (high! << 8) | low!);
  } catch (error) {
    throw error instanceof Deno.errors.BadResource ? new Error(`no answer within ${TCP_TIMEOUT / 1000} s`) : error;
  } finally {
    clearTimeout(timer);
    try {
      connection.close();
    } catch {
      // closed by the timer already
    }
  }
};

/** The first "nameserver" line of /etc/resolv.conf (Deno needs --allow-read for it). */
function systemResolver(): string {
  let text: string;
  try {
    text = Deno.readTextFileSync('/etc/resolv.conf');
  } catch (error) {
    throw new Error(`Cannot read /etc/resolv.conf for a DNS resolver (${(error as Error).message}): give one`, { cause: error });
  }
  const address = /^nameserver\s+(\S+)/m.exec(text)?.[1];
  if (!address) throw new Error('Cannot find a DNS resolver in /etc/resolv.conf: give one');
  return address;
}

/**
 * dns-01 through RFC 2136 updates: for each name it follows a CNAME on `_acme-challenge.NAME`, finds the zone from
 * its SOA, adds the TXT record at `server`, and resolves once every authoritative server of the zone answers with
 * it; cleanup deletes exactly that record (RFC 2136 §2.5.4), so records others put at the name stay. Deno needs
 * --allow-net to the server and the resolver, and to each authoritative server on the server's port.
 *
 * @example Issue a wildcard certificate through a BIND server that allows updates with a TSIG key
 * ```ts
 * import { AcmeClient, issueCertificate } from "@acmets/acme-client";
 * import { CERT_FILE_MODE, dnsUpdateResponder, loadOrCreateKey, parseTsigKey, writeFileAtomic } from "@acmets/acme-client/deno";
 *
 * const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", {
 *   accountKey: await loadOrCreateKey("account.pem"),
 * });
 * const issued = await issueCertificate({
 *   client,
 *   identifiers: ["example.com", "*.example.com"],
 *   certificateKey: await loadOrCreateKey("privkey.pem"),
 *   account: { termsOfServiceAgreed: true },
 *   responder: dnsUpdateResponder({
 *     server: "192.0.2.53",
 *     key: parseTsigKey(await Deno.readTextFile("/etc/acme/tsig.key")),
 *   }),
 * });
 * await writeFileAtomic("fullchain.pem", issued.fullchainPem, CERT_FILE_MODE);
 * ```
 */
export function dnsUpdateResponder(options: DnsUpdateResponderOptions): ChallengeResponder {
  return coreResponder({ ...options, resolver: options.resolver ?? systemResolver(), exchange: denoDnsExchange });
}
