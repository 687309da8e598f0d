// tls-alpn-01 (RFC 8737) answered by a server of our own on node:net: the TLS 1.3 handshake that presents each
// challenge certificate is core's (core/tls-alpn-server.ts), the same in Node and in Deno; this file carries bytes.

import { createServer, type Socket } from 'node:net';
import { answerTlsAlpnConnection, tlsAlpnCertificates, type ByteConnection } from '../core/tls-alpn-server.ts';
import { listenOn, type ListenTarget } from './_node-listen.ts';
import type { StandaloneResponder } from './_shared.ts';

/** A socket as core reads and writes it: chunks in order, then undefined once the client has closed. */
function byteConnection(socket: Socket): ByteConnection {
  const chunks: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Uint8Array) => {
    chunks.push(chunk);
    wake?.();
  });
  const end = () => {
    ended = true;
    wake?.();
  };
  for (const event of ['end', 'close', 'error']) socket.on(event, end);
  return {
    async read() {
      while (chunks.length === 0 && !ended) await new Promise<void>((resolve) => (wake = resolve));
      return chunks.shift();
    },
    write: (bytes) => new Promise((resolve, reject) => socket.write(bytes, (error) => (error ? reject(error) : resolve()))),
    close: () => socket.end(),
  };
}

/**
 * tls-alpn-01 answered by a TLS server of our own on [host:]port (no host: every interface) or on the socket of a
 * server that listens already, speaking only ALPN acme-tls/1. For each presented challenge it holds a self-signed
 * certificate, chosen by the server name the CA sends (the reverse-mapping name for an IP address, RFC 8738 §6); a
 * client that offers no acme-tls/1 gets an alert and no certificate. It listens at once, so a port already taken is
 * reported before anything is written; close() stops it and its connections.
 */
export async function startTlsAlpnResponder(address: ListenTarget): Promise<StandaloneResponder> {
  const certificates = await tlsAlpnCertificates();
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    void answerTlsAlpnConnection(byteConnection(socket), certificates.lookup);
  });
  const port = await listenOn(server, address, 'tls-alpn-01');
  return {
    types: ['tls-alpn-01'],
    port,
    present: certificates.present,
    cleanup: certificates.cleanup,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      });
    },
  };
}
