// Listening for Node's built-in challenge servers (http-01, tls-alpn-01): a port that is taken fails here, before the
// run writes anything or asks the CA for anything.

import type { AddressInfo, Server } from 'node:net';
import type { ChallengeType } from '../core/resources.ts';
import { listenError } from './_shared.ts';

/** Resolves with the port once `server` listens on [host:]port; rejects with listenError's one line. */
export async function listenOn(server: Server, address: { host?: string; port: number }, type: ChallengeType): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: NodeJS.ErrnoException) => {
    throw listenError(address, type, error.code === 'EADDRINUSE', error);
  });
  return (server.address() as AddressInfo).port;
}
