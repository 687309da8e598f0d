// tls-alpn-01 (RFC 8737) answered by a TLS server of our own, over node:net and node:tls (OpenSSL). Node only:
// Deno's TLS refuses the challenge certificate (see startTlsAlpnResponder in adapters/deno.ts).

import { createServer, type Socket } from 'node:net';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { ChallengeTask } from '../core/client.ts';
import { concatBytes, pemEncode } from '../core/encoding.ts';
import { exportPkcs8Pem } from '../core/key-pem.ts';
import { generateKey } from '../core/keys.ts';
import { ACME_TLS_ALPN_PROTOCOL, createTlsAlpnCertificate, tlsAlpnServerName } from '../core/tls-alpn.ts';
import { ALERT_NO_APPLICATION_PROTOCOL, ALERT_UNRECOGNIZED_NAME, MAX_CLIENT_HELLO_BYTES, readClientHello, tlsAlert } from './_client-hello.ts';
import { listenOn } from './_node-listen.ts';
import type { StandaloneResponder } from './_shared.ts';

/**
 * Reads the connection's ClientHello, then either refuses it with an alert, so that no certificate is sent, or
 * hands the connection, ClientHello included, to TLS with the certificate for its server name.
 */
function answerConnection(socket: Socket, certificates: ReadonlyMap<string, SecureContext>, open: Set<Socket>): void {
  let received: Uint8Array = new Uint8Array(0);
  const onData = (chunk: Uint8Array) => {
    received = concatBytes(received, chunk);
    let hello: ReturnType<typeof readClientHello>;
    try {
      hello = readClientHello(received);
    } catch {
      socket.destroy(); // not TLS: there is nothing to say to it
      return;
    }
    if (!hello) {
      if (received.length > MAX_CLIENT_HELLO_BYTES) socket.destroy();
      return;
    }
    socket.off('data', onData);
    socket.pause();
    // RFC 8737 §3: only a client that offers acme-tls/1 may see a challenge certificate; RFC 6066 §3 names the
    // alert for a server name with no certificate here.
    const secureContext = certificates.get(hello.serverName ?? '');
    const refusal = !hello.alpnProtocols.includes(ACME_TLS_ALPN_PROTOCOL) ? ALERT_NO_APPLICATION_PROTOCOL : secureContext ? undefined : ALERT_UNRECOGNIZED_NAME;
    if (refusal !== undefined) {
      socket.end(tlsAlert(refusal));
      return;
    }
    socket.unshift(received);
    const tls = new TLSSocket(socket, { isServer: true, secureContext: secureContext!, ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL] });
    open.add(tls);
    tls.on('close', () => open.delete(tls));
    tls.on('error', () => tls.destroy());
    // RFC 8737 §3: the validation ends with the handshake; no application data follows.
    tls.on('secure', () => tls.end());
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}

/**
 * tls-alpn-01 answered by a TLS server of our own on [host:]port (no host: every interface), speaking only ALPN
 * acme-tls/1. For each presented challenge it holds a self-signed certificate, chosen by the server name the CA sends
 * (the reverse-mapping name for an IP address, RFC 8738 §6); every certificate is signed by one P-256 key made for
 * this server alone. It listens at once, so a port already taken is reported before anything is written; close()
 * stops it and its connections.
 */
export async function startTlsAlpnResponder(address: { host?: string; port: number }): Promise<StandaloneResponder> {
  const key = await generateKey('ec256');
  const keyPem = exportPkcs8Pem(key);
  const certificates = new Map<string, SecureContext>();
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    answerConnection(socket, certificates, open);
  });
  const port = await listenOn(server, address, 'tls-alpn-01');
  return {
    types: ['tls-alpn-01'],
    port,
    async present(task: ChallengeTask) {
      const certificate = pemEncode('CERTIFICATE', await createTlsAlpnCertificate(task, key));
      certificates.set(tlsAlpnServerName(task.identifier), createSecureContext({ key: keyPem, cert: certificate }));
    },
    async cleanup(task: ChallengeTask) {
      certificates.delete(tlsAlpnServerName(task.identifier));
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      });
    },
  };
}
