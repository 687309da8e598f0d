// A certificate from a Deno script: account and certificate keys kept on disk, dns-01 answered through a DNS
// provider's HTTP API, the chain written beside the key as fullchain.pem. The CA, the DNS API and the names come
// from the environment and the command line:
//
//   ACME_DIRECTORY=https://acme-v02.api.letsencrypt.org/directory DNS_API=https://dns.example.net/v1 \
//   deno run --allow-net --allow-env=ACME_DIRECTORY,DNS_API --allow-read=. --allow-write=. \
//     examples/deno-issue.ts example.com www.example.com

import { AcmeClient, issueCertificate } from '@acmets/acme-client';
import { CERT_FILE_MODE, dnsResponder, loadOrCreateKey, writeFileAtomic } from '@acmets/acme-client/deno';

const directory = Deno.env.get('ACME_DIRECTORY') ?? 'https://acme-staging-v02.api.letsencrypt.org/directory';
const dnsApi = Deno.env.get('DNS_API');
if (!dnsApi || Deno.args.length === 0) throw new Error('usage: DNS_API=URL deno run … deno-issue.ts DOMAIN...');

// The DNS provider's API; this one takes {"host": NAME, "value": TXT} to add a TXT record and {"host": NAME} to clear it.
async function dns(action: 'set-txt' | 'clear-txt', body: { host: string; value?: string }): Promise<void> {
  const response = await fetch(`${dnsApi}/${action}`, { method: 'POST', body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`DNS API ${action}: HTTP ${response.status} ${await response.text()}`);
}

const client = await AcmeClient.create(directory, { accountKey: await loadOrCreateKey('account.pem') });
const issued = await issueCertificate({
  client,
  identifiers: Deno.args,
  certificateKey: await loadOrCreateKey('privkey.pem'),
  account: { termsOfServiceAgreed: true },
  responder: dnsResponder({
    present: (name, value) => dns('set-txt', { host: `${name}.`, value }),
    cleanup: (name) => dns('clear-txt', { host: `${name}.` }),
  }),
});
await writeFileAtomic('fullchain.pem', issued.fullchainPem, CERT_FILE_MODE);
console.log(`fullchain.pem and privkey.pem for ${Deno.args.join(', ')}, valid until ${issued.certificate.notAfter.toISOString()}`);
