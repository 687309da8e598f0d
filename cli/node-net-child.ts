// The network process's entry under Node (bundled to dist/cli/net-child.cjs; cli/node-children.ts starts it under the
// permission model and as the unprivileged user): `net-child.cjs`.

import { createNodeFetch, writeFileAtomic } from '../adapters/node.ts';
import { nodeCaaResolver } from '../adapters/node-dns.ts';
import { readTextFileIfExists } from './_node-read.ts';
import { exitWhenDone, nodeChildChannel } from './_node-child.ts';
import { runNetProcess } from './net-process.ts';
import { receiveNodeListener, serveHandedListener } from './_node-handover.ts';

// Listened for before anything else, so that the socket the parent hands over is not missed.
const handedListener = receiveNodeListener();

exitWhenDone(runNetProcess({
  ...nodeChildChannel,
  readTextFile: readTextFileIfExists,
  writeFileAtomic,
  createFetch: createNodeFetch,
  caaResolver: nodeCaaResolver,
  ...(process.env.ACME_CLIENT_TEST_HOOK && { testHook: process.env.ACME_CLIENT_TEST_HOOK }),
  waitForSignal: () => new Promise((resolve) => process.once('SIGUSR2', () => resolve())),
  standaloneResponder: (type) => serveHandedListener(handedListener, type),
}));
