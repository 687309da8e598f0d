// --standalone and --standalone-tls in Node's split run: the root parent binds the port (so a taken port is bad input
// and a port below 1024 needs no privilege later) and hands the listening socket to the network process over an IPC
// channel, a UNIX socketpair that carries the descriptor itself (SCM_RIGHTS). The parent then closes its copy, so the
// network process, unprivileged and holding no key, is the only one that accepts and reads what clients send. The
// network process serves because it runs anyway: a responder process of its own would add a Node start-up (and its
// memory) to every such run, and the key authorizations it serves are public (RFC 8555 §8.1), made from the public
// account key it already holds. Whoever holds the port can answer for any account, so a separate process would not
// keep a compromised server from doing so either.

import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { listenOn } from '../adapters/_node-listen.ts';
import { startStandaloneResponder, startTlsAlpnResponder, type StandaloneResponder } from '../adapters/node.ts';
import type { ListenAddress } from './args.ts';
import type { BoundListener, StandaloneType } from './platform.ts';

const LISTENER_MESSAGE = 'acme-client listener';
/**
 * The network process's word that it listens for the socket: a child may read its IPC channel before its code has
 * run (an ES module entry does), and a message that comes before anyone listens for it is dropped, with its socket.
 */
const READY_MESSAGE = 'acme-client ready';

/** The parent: listens on `address`, failing with listenError's one line (a taken port) before anything is written. */
export async function bindNodeListener(type: StandaloneType, address: ListenAddress): Promise<BoundListener> {
  const server = createServer();
  await listenOn(server, address, type);
  return {
    type,
    address,
    handle: server,
    close: () => void (server.listening && server.close()),
  };
}

/**
 * The parent, from the child's start (its word may come before the port is bound, and an unheard message is lost):
 * a handOver that sends the listening socket once the child is ready for it, then closes this process's copy and the
 * IPC channel, so that this process accepts no connection and reads nothing more from the child than its line protocol.
 */
export function listenerHandOver(child: ChildProcess): (listener: BoundListener) => void {
  const ready = new Promise<void>((resolve) => {
    const onMessage = (message: unknown) => {
      if (message !== READY_MESSAGE) return;
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
  });
  return (listener) => void ready.then(() => {
    const server = listener.handle as Server;
    // A run that ended meanwhile closed the socket: there is nothing left to hand over.
    if (!server.listening || !child.connected) return;
    child.send(LISTENER_MESSAGE, server, () => {
      listener.close();
      if (child.connected) child.disconnect();
    });
  });
}

/** The network process: the socket its parent sends once asked. Undefined when it has no IPC channel (no --standalone). */
export function receiveNodeListener(): Promise<Server> | undefined {
  if (!process.send) return undefined;
  const received = new Promise<Server>((resolve) => {
    const take = (message: unknown, handle: unknown) => {
      if (message !== LISTENER_MESSAGE || !(handle instanceof Object)) return;
      process.off('message', take);
      resolve(handle as Server);
    };
    process.on('message', take);
  });
  process.send(READY_MESSAGE);
  return received;
}

/** The network process's http-01 or tls-alpn-01 server on the socket its parent handed over. */
export async function serveHandedListener(received: Promise<Server> | undefined, type: StandaloneType): Promise<StandaloneResponder> {
  if (!received) throw new Error('The network process was given no socket to serve on');
  const target = { listening: await received };
  return type === 'http-01' ? startStandaloneResponder(target) : startTlsAlpnResponder(target);
}
