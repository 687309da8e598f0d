// RFC 2136 updates from Node (core/dns-update.ts): DNS messages over UDP, sent again over TCP when the answer is
// truncated or does not come (RFC 1035 §4.2, RFC 7766). Loaded only when --dns-update is given.

import { createSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect } from 'node:net';
import type { DnsServer } from '../core/_dns.ts';
import { dnsUpdateResponder as coreResponder, type DnsExchange, type DnsUpdateResponderOptions } from '../core/dns-update.ts';
import type { ChallengeResponder } from '../core/flow.ts';

/** A lost datagram is retried over TCP after this long; TCP then has the longer bound. */
const UDP_TIMEOUT = 3000;
const TCP_TIMEOUT = 10_000;
/** RFC 1035 §4.1.1: the TC bit, in the third byte of the header. */
const TRUNCATED = 0x02;

const reasonOf = (error: NodeJS.ErrnoException) => error.code ?? error.message;
const idOf = (message: Uint8Array) => (message[0]! << 8) | message[1]!;

/** One datagram out; the answer is the first datagram from the server with the query's ID (RFC 5452 §4), or undefined when none comes. */
function overUdp(server: DnsServer, message: Uint8Array): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
    const finish = (outcome: () => void) => {
      clearTimeout(timer);
      socket.close();
      outcome();
    };
    const timer = setTimeout(() => finish(() => resolve(undefined)), UDP_TIMEOUT);
    socket.on('error', (error) => finish(() => reject(new Error(reasonOf(error)))));
    socket.on('message', (answer) => {
      if (answer.length < 12 || idOf(answer) !== idOf(message)) return;
      finish(() => resolve(new Uint8Array(answer)));
    });
    // Connected, the socket takes datagrams from the server alone, and hears of a closed port at once (ECONNREFUSED).
    socket.connect(server.port, server.host, () => socket.send(message));
  });
}

/** RFC 1035 §4.2.2: each message on a TCP connection is preceded by its 16-bit length. */
function overTcp(server: DnsServer, message: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    socket.setTimeout(TCP_TIMEOUT, () => socket.destroy(new Error(`no answer within ${TCP_TIMEOUT / 1000} s`)));
    socket.on('error', (error) => reject(new Error(reasonOf(error))));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        resolve(new Uint8Array(received.subarray(2, 2 + received.readUInt16BE(0))));
        socket.destroy();
      }
    });
    socket.on('close', () => reject(new Error('the server closed the connection without an answer')));
    const length = Buffer.alloc(2);
    length.writeUInt16BE(message.length);
    socket.end(Buffer.concat([length, message]));
  });
}

/** Node's way to send a DNS message: UDP, then TCP for a truncated or missing answer. */
export const nodeDnsExchange: DnsExchange = async (server, message) => {
  const answer = await overUdp(server, message);
  if (answer && !(answer[2]! & TRUNCATED)) return answer;
  return overTcp(server, message);
};

/** The first of the system's resolvers, as Node read them from /etc/resolv.conf. */
function systemResolver(): string {
  const [first] = getServers();
  if (!first) throw new Error('Cannot find a DNS resolver in /etc/resolv.conf: give one with --dns-server');
  return first;
}

/** dns-01 by RFC 2136 updates from Node; the resolver is the system's unless given (see core/dns-update.ts). */
export function dnsUpdateResponder(options: DnsUpdateResponderOptions): ChallengeResponder {
  return coreResponder({ ...options, resolver: options.resolver ?? systemResolver(), exchange: nodeDnsExchange });
}

