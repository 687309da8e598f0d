// The peer for the benchmark: npm acme-client 5.4 issuing one certificate with a fresh EC account over http-01,
// answered by a node:http server of its own, as our CLI does with --standalone. Writes the key and certificate.
// Usage: node peer.mjs DIRECTORY_URL HTTP_PORT OUT_DIR NAME...

import acme from 'acme-client';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [directoryUrl, httpPort, outDir, ...names] = process.argv.slice(2) as [string, string, string, ...string[]];
const answers = new Map<string, string>();
const server = createServer((request, response) => {
  const token = (request.url ?? '').replace('/.well-known/acme-challenge/', '');
  const answer = answers.get(token);
  response.writeHead(answer === undefined ? 404 : 200).end(answer);
});
await new Promise<void>((resolve) => server.listen(Number(httpPort), '127.0.0.1', resolve));

const client = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256') });
const [key, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, await acme.crypto.createPrivateEcdsaKey('P-256'));
const certificate = await client.auto({
  csr,
  termsOfServiceAgreed: true,
  challengePriority: ['http-01'],
  // Its self-check would resolve the names through the system resolver, which knows nothing of challtestsrv.
  skipChallengeVerification: true,
  challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
    answers.set(challenge.token, keyAuthorization);
  },
  challengeRemoveFn: async (_authz, challenge) => {
    answers.delete(challenge.token);
  },
});
writeFileSync(join(outDir, 'privkey.pem'), key, { mode: 0o600 });
writeFileSync(join(outDir, 'fullchain.pem'), certificate, { mode: 0o444 });
// Ends like our CLI does: neither process waits for idle keep-alive connections to the CA.
process.exit(0);
