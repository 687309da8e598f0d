// Listening for Node's built-in challenge servers (http-01, tls-alpn-01): a port that is taken fails here, before the
// run writes anything or asks the CA for anything.

import type { AddressInfo, Server } from 'node:net';
import type { ChallengeType } from '../core/resources.ts';
import { listenError } from './_shared.ts';

/**
 * Where a built-in server listens: [host:]port (no host: every interface), or a server that listens already, whose
 * socket it takes over (the CLI's network process serves on the port its root parent bound, cli/_node-handover.ts).
 */
export type ListenTarget = { host?: string; port: number } | { listening: Server };

/** Resolves with the port once `server` listens on `target`; rejects with listenError's one line. */
export async function listenOn(server: Server, target: ListenTarget, type: ChallengeType): Promise<number> {
  const address = 'listening' in target ? { port: (target.listening.address() as AddressInfo).port } : target;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if ('listening' in target) server.listen(target.listening, listening);
    else server.listen(target.port, target.host, listening);
  }).catch((error: NodeJS.ErrnoException) => {
    throw listenError(address, type, error.code === 'EADDRINUSE', error);
  });
  return (server.address() as AddressInfo).port;
}
