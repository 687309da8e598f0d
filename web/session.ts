// The page's protocol half, loaded on first use: keys, the ACME client, issuance with the person as the dns-01
// responder (present() waits for the Verify button), and revocation. No DOM here; app.ts hands in a view.

import { generateKey, keyFromJwk, type AcmeKey } from '../core/keys.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import type { KeyType } from '../core/engine.ts';
import { AcmeClient, fetchDirectory, type RevocationReason } from '../core/client.ts';
import type { ChallengeTask, Directory, DirectoryMeta } from '../core/resources.ts';
import { Transport } from '../core/http.ts';
import { issueCertificate, type ChallengeResponder, type FlowEvent } from '../core/flow.ts';
import { parseCsr } from '../core/csr.ts';
import { parseCertificateChain } from '../core/x509.ts';
import { pemDecode } from '../core/encoding.ts';
import { AcmeError, type Problem } from '../core/errors.ts';
import { normalizeIdentifiers, type Identifier } from '../core/names.ts';
import type { AccountStore } from '../adapters/browser.ts';
import { dohCaaResolver } from '../adapters/browser-caa.ts';
import { checkCaa } from '../core/caa.ts';
import { problemText } from './messages.ts';

export type RecordTask = ChallengeTask;
export type AuthorizationState = 'pending' | 'processing' | 'valid' | 'invalid';

export interface AccountChoice {
  source: 'stored' | 'generate' | 'import';
  keyType: KeyType;
  /** PEM or JWK text, for "import". */
  text: string;
  /** Keep the key in this browser's IndexedDB for the next visit. */
  keep: boolean;
}

export interface OrderRequest {
  directoryUrl: string;
  email: string;
  termsAgreed: boolean;
  /** Names one per line or comma-separated; empty with a CSR means the CSR's names. */
  domainsText: string;
  /** A profile from the directory's meta.profiles, or '' for the CA's default. */
  profile: string;
  /** The DoH resolver for the CAA pre-check; undefined when the person turned DNS checks off. */
  dohUrl: string | undefined;
  account: AccountChoice;
  accountStore: AccountStore | undefined;
  certificate: { source: 'generate' | 'csr'; keyType: KeyType; csrText: string };
}

/** What the page shows while the order runs. */
export interface OrderView {
  progress(text: string): void;
  /** A TXT record to create; called once per pending authorization, before the person presses Verify. */
  record(task: RecordTask): void;
  /** Resolves when the person presses Verify. */
  verified(): Promise<void>;
  authorization(name: string, state: AuthorizationState, detail?: string): void;
  /** Something worth knowing that stops nothing, such as a CAA lookup that failed. */
  note(text: string): void;
}

export interface Issued {
  names: string[];
  notAfter: Date;
  /** Subject CNs from the leaf up, as the CA served the chain. */
  chain: string[];
  serialHex: string;
  accountUrl: string;
  fullchainPem: string;
  certificatePem: string;
  chainPem: string;
  /** Only when the certificate key was generated here. */
  privateKeyPem?: string;
  accountKeyPem: string;
}

/** The account key of the last order in this tab, per CA: revocation can use it even if it was not kept. */
const accountKeys = new Map<string, AcmeKey>();

/**
 * The directory is read once, without retries: a person is there to press again, and a browser reports a CA that
 * refuses pages (no CORS) exactly as one that is down, so retrying would only delay the explanation. Everything after
 * it goes through the client's transport, which retries, so a blip in the middle of an order does not lose it.
 */
function readDirectoryOnce(directoryUrl: string): Promise<Directory> {
  return fetchDirectory(directoryUrl, new Transport({ retry: { maxTries: 1 } }));
}

export async function readDirectory(directoryUrl: string): Promise<DirectoryMeta> {
  return (await readDirectoryOnce(directoryUrl)).meta;
}

/** A kept or imported key, read at once so a bad one fails before any request; undefined means "generate one". */
async function existingAccountKey(choice: AccountChoice, directoryUrl: string, store: AccountStore | undefined): Promise<AcmeKey | undefined> {
  if (choice.source === 'stored') {
    const stored = await store?.get(directoryUrl);
    if (!stored) throw new Error(`No account key is kept in this browser for ${directoryUrl}; generate or import one`);
    return keyFromJwk(stored.privateJwk);
  }
  return choice.source === 'import' ? importKey(choice.text) : undefined;
}

function namesFrom(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

function csrDer(text: string): Uint8Array {
  if (!text.trim()) throw new TypeError('No CSR given: paste one, or let the page generate the certificate key');
  return pemDecode(text, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']).der;
}

const displayName = (identifier: Identifier, wildcard: boolean) => `${wildcard ? '*.' : ''}${identifier.value}`;

/** The failed names of an authorization error: one problem with its identifier, or a compound with subproblems (§6.7.1). */
function failedNames(error: AcmeError): { name: string; problem: Problem }[] {
  const subproblems = error.problem.subproblems?.filter((sub) => sub.identifier) ?? [];
  if (subproblems.length) return subproblems.map((sub) => ({ name: sub.identifier!.value, problem: sub }));
  return error.identifier ? [{ name: error.identifier.value, problem: error.problem }] : [];
}

export async function issue(request: OrderRequest, view: OrderView): Promise<Issued> {
  const { directoryUrl, account } = request;
  let names = namesFrom(request.domainsText);
  let csr: Uint8Array | undefined;
  if (request.certificate.source === 'csr') {
    csr = csrDer(request.certificate.csrText);
    if (names.length === 0) names = (await parseCsr(csr)).identifiers.map((identifier) => identifier.value);
  } else if (names.length === 0) {
    throw new RangeError('No names given: enter the domains for the certificate');
  }
  // The flow checks the names too, but only after the CA's directory; a typo should fail before any request.
  const identifiers = normalizeIdentifiers(names);
  const ip = identifiers.find((identifier) => identifier.type === 'ip');
  if (ip) {
    throw new RangeError(`Cannot validate ${ip.value} over DNS: an IP address has no name to hold a TXT record, so dns-01 cannot prove it `
      + '(RFC 8738 allows http-01 and tls-alpn-01 only); use the command-line client with http-01 for it. '
      + 'Let\'s Encrypt issues for IP addresses only under its shortlived profile (about six days)');
  }

  const existingKey = await existingAccountKey(account, directoryUrl, request.accountStore);
  view.progress('Reading the CA\'s directory…');
  const directory = await readDirectoryOnce(directoryUrl);
  const terms = directory.meta.termsOfService;
  if (terms && !request.termsAgreed) throw new TypeError(`The CA asks you to agree to its terms of service first: read ${terms} and tick the box`);
  if (request.dohUrl) {
    view.progress('Checking the names\' CAA records…');
    // RFC 8659: a CAA record that names other CAs makes this one refuse at validation; better to say so now.
    const caa = await checkCaa({ identifiers, caaIdentities: directory.meta.caaIdentities ?? [], resolver: dohCaaResolver(request.dohUrl), challengeTypes: ['dns-01'] });
    // A CA without caaIdentities cannot be checked at all; only a check that ran has notes worth reading.
    if (caa.checked) for (const note of caa.notes) view.note(note);
  }
  // Key generation (seconds for RSA without WebCrypto) waits until the cheap checks have passed.
  if (!existingKey) view.progress('Generating the account key…');
  const accountKey = existingKey ?? (await generateKey(account.keyType));
  const client = new AcmeClient(directory, { accountKey });
  accountKeys.set(directoryUrl, accountKey);

  let certificateKey: AcmeKey | undefined;
  if (!csr) {
    view.progress('Generating the certificate key…');
    certificateKey = await generateKey(request.certificate.keyType);
  }

  let verified: Promise<void> | undefined;
  const responder: ChallengeResponder = {
    types: ['dns-01'],
    async present(task) {
      view.record(task);
      view.authorization(displayName(task.identifier, task.wildcard), 'pending');
      // One Verify press releases every record; all of them are shown before the person presses it.
      await (verified ??= view.verified());
    },
    // The person removes the records at their DNS provider whenever they like; the page cannot.
    async cleanup() {},
  };

  const onProgress = async (event: FlowEvent) => {
    if (event.kind === 'account') {
      view.progress(event.created ? 'Created your account. Creating the order…' : 'Found your existing account. Creating the order…');
      if (account.keep && account.source !== 'stored' && request.accountStore) {
        await request.accountStore.put({ directoryUrl, privateJwk: accountKey.privateJwk, accountUrl: event.url, storedAt: new Date().toISOString() });
      }
    } else if (event.kind === 'order') {
      view.progress('Order created. Create the TXT records below.');
    } else if (event.kind === 'authorization') {
      view.authorization(displayName(event.identifier, event.wildcard), event.status === 'valid' ? 'valid' : 'invalid');
    } else if (event.kind === 'challenge') {
      view.authorization(displayName(event.identifier, event.wildcard), event.status);
    } else if (event.kind === 'finalize') {
      view.progress('Every name is validated. Asking for the certificate…');
    }
  };
  view.progress('Creating or finding your account…');
  let stored: Promise<void> = Promise.resolve();
  try {
    const issued = await issueCertificate({
      client,
      identifiers: names,
      ...(csr ? { csr } : { certificateKey: certificateKey! }),
      responder,
      account: { ...(request.email && { contact: [`mailto:${request.email}`] }), termsOfServiceAgreed: request.termsAgreed },
      ...(request.profile && { profile: request.profile }),
      onProgress: (event) => void (stored = stored.then(() => onProgress(event))),
    });
    await stored;
    const { certificate, chain } = issued;
    return {
      names: [...certificate.dnsNames, ...certificate.ipAddresses],
      notAfter: certificate.notAfter,
      chain: [certificate, ...chain].map((info) => info.subjectCn ?? info.dnsNames[0] ?? '(no name)'),
      serialHex: certificate.serialHex,
      accountUrl: issued.accountUrl,
      fullchainPem: issued.fullchainPem,
      certificatePem: issued.certificatePem,
      chainPem: issued.chainPem,
      ...(certificateKey && { privateKeyPem: exportPkcs8Pem(certificateKey) }),
      accountKeyPem: exportPkcs8Pem(accountKey),
    };
  } catch (error) {
    await stored.catch(() => {});
    if (error instanceof AcmeError) {
      for (const { name, problem } of failedNames(error)) view.authorization(name, 'invalid', problemText(problem));
    }
    throw error;
  }
}

export interface RevokeRequest {
  directoryUrl: string;
  certificateText: string;
  reason: number;
  signer: 'account' | 'certificate';
  account: AccountChoice;
  accountStore: AccountStore | undefined;
  certificateKeyText: string;
}

/** RFC 8555 §7.6: signed by the account that ordered it (kid) or by the certificate's own key (jwk). */
export async function revoke(request: RevokeRequest): Promise<{ serialHex: string }> {
  if (!request.certificateText.trim()) throw new TypeError('No certificate given: paste the certificate to revoke');
  const [certificate] = parseCertificateChain(request.certificateText);
  const reason = request.reason as RevocationReason;
  if (request.signer === 'certificate') {
    const certificateKey = await importKey(request.certificateKeyText);
    const client = await AcmeClient.create(request.directoryUrl, { accountKey: certificateKey });
    await client.revokeCertificate(certificate!.der, { reason, certificateKey });
    return { serialHex: certificate!.serialHex };
  }
  const accountKey = (await existingAccountKey(request.account, request.directoryUrl, request.accountStore)) ?? accountKeys.get(request.directoryUrl);
  if (!accountKey) throw new TypeError('No account key to sign with: choose the kept or an imported account key in Setup, or sign with the certificate\'s key');
  const client = await AcmeClient.create(request.directoryUrl, { accountKey });
  if (!(await client.findAccount())) throw new Error(`This account key has no account at ${new URL(request.directoryUrl).host}`);
  await client.revokeCertificate(certificate!.der, { reason });
  return { serialHex: certificate!.serialHex };
}
