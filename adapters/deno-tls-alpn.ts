// tls-alpn-01 (RFC 8737) for Deno: a server on Deno.listen that hands each connection to core's TLS 1.3 handshake
// (core/tls-alpn-server.ts), the same that Node's adapter uses.

import type { ChallengeType } from '../core/resources.ts';
import type { ByteConnection } from '../core/tls-alpn-server.ts';
import { listenError, type StandaloneResponder } from './_shared.ts';

/** A Deno connection as core reads and writes it. */
function byteConnection(conn: Deno.Conn): ByteConnection {
  return {
    async read() {
      const buffer = new Uint8Array(16 * 1024);
      const count = await conn.read(buffer);
      return count === null ? undefined : buffer.subarray(0, count);
    },
    async write(bytes) {
      for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed by close() of the responder
      }
    },
  };
}

/** Listens on [host:]port (no host: every interface, "::" taking IPv4 too on a dual-stack host), or fails with listenError's line. */
export function listenTcp(address: { host?: string; port: number }, type: ChallengeType): Deno.TcpListener {
  try {
    return Deno.listen({ hostname: address.host ?? '::', port: address.port });
  } catch (error) {
    throw listenError(address, type, error instanceof Deno.errors.AddrInUse, error as Error);
  }
}

/**
 * tls-alpn-01 (RFC 8737) answered by a server of our own on [host:]port (no host: every interface), speaking only
 * ALPN acme-tls/1 and presenting each challenge's certificate by the server name the CA asks for (the
 * reverse-mapping name for an IP address, RFC 8738 §6); a client that offers no acme-tls/1 gets an alert and no
 * certificate. The TLS 1.3 handshake is core's, over `Deno.listen`: Deno's own TLS (rustls) refuses a certificate
 * with the critical acmeIdentifier extension that RFC 8737 §3 requires. It listens at once, so a port already taken
 * is reported before anything is written; close() stops it and its connections.
 *
 * @example
 * ```ts
 * import { startTlsAlpnResponder } from "@acmets/acme-client/deno";
 * const responder = await startTlsAlpnResponder({ port: 443 });
 * try {
 *   // issueCertificate({ ..., responder })
 * } finally {
 *   await responder.close();
 * }
 * ```
 */
export async function startTlsAlpnResponder(address: { host?: string; port: number }): Promise<StandaloneResponder> {
  // Loaded here: the CLI's entry imports adapters/deno.ts, and so this module, on the cron path, which must load
  // nothing it does not use.
  const { answerTlsAlpnConnection, tlsAlpnCertificates } = await import('../core/tls-alpn-server.ts');
  const certificates = await tlsAlpnCertificates();
  const listener = listenTcp(address, 'tls-alpn-01');
  const open = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      void answerTlsAlpnConnection(byteConnection(conn), certificates.lookup).finally(() => open.delete(conn));
    }
  })().catch(() => undefined); // the listener was closed
  return {
    types: ['tls-alpn-01'],
    port: listener.addr.port,
    present: certificates.present,
    cleanup: certificates.cleanup,
    async close() {
      listener.close();
      for (const conn of open) byteConnection(conn).close();
      await accepting;
    },
  };
}
