// The key process: the only process that holds account and domain keys, those of one set or, for --renew-all and
// --renew-list, of each set the parent adds as it comes to it. It reads them (or makes the ones -n/-N allow), writes a
// new one when asked (before the CA can learn of it), and signs and builds CSRs over its standard input and output, as
// far as the parent's policy allows (cli/sign-guard.ts). It opens no connection: Deno
// starts it without --allow-net, Node with reads and writes limited to its code and the key files.

import { dirnamePath } from '../adapters/_path.ts';
import { KEY_DIR_MODE, KEY_FILE_MODE } from '../adapters/_shared.ts';
import { base64UrlEncode } from '../core/encoding.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import type { KeyType } from '../core/key-types.ts';
import type { ExternalAccountBinding } from '../core/jws.ts';
import { generateKey, jwkThumbprint, type AcmeKey } from '../core/keys.ts';
import { serveSigners } from '../core/signer-protocol.ts';
import { localSigner, type KeySigner } from '../core/signer.ts';
import { lineChannel } from '../core/_line-rpc.ts';
import { fileErrorReason, readText, type KeyChildPlatform } from './platform.ts';
import { bindingAccounts, persistingFirst, signGuard, type SignPolicy } from './sign-guard.ts';

/** One key file: where it is, what messages call it, and whether it may be made when it does not exist. */
export interface KeyFileSpec {
  path: string;
  what: string;
  /** The flag that creates it (-n, -N), or undefined when this run must not. */
  createFlag?: string;
  mayCreate: boolean;
  /** A revocation signs with whichever key exists, so a missing one is no error there. */
  optional: boolean;
}

/** The key process's whole configuration, its one argument: paths and flags, no secret. */
export interface KeyProcessConfig {
  keys: Record<string, KeyFileSpec>;
  keyType: KeyType;
  policy: SignPolicy;
}

interface HeldKey {
  key: AcmeKey;
  /** Made by this run and not yet on disk. */
  unsaved: boolean;
}

async function loadKey(platform: KeyChildPlatform, spec: KeyFileSpec, keyType: KeyType): Promise<HeldKey | undefined> {
  const text = readText(platform, spec.path, `${spec.what} ${spec.path}`);
  if (text !== undefined) {
    try {
      return { key: await importKey(text), unsaved: false };
    } catch (error) {
      throw new Error(`Cannot use ${spec.what} ${spec.path}: ${(error as Error).message}`);
    }
  }
  if (spec.optional) return undefined;
  if (!spec.mayCreate) throw new Error(`Cannot read ${spec.what} ${spec.path}: it does not exist (${spec.createFlag} creates one)`);
  return { key: await generateKey(keyType), unsaved: true };
}

/** The keys of a run by name, each file loaded once however many sets name it, and the signers the protocol serves. */
class KeyRing {
  readonly signers: Record<string, KeySigner> = {};
  readonly #held = new Map<string, { spec: KeyFileSpec; held: HeldKey }>();
  readonly #loading = new Map<string, Promise<void>>();
  /** Each CSR this process built, base64url, with the domain key it is for: finalize tells whose key to write. */
  readonly #csrOwners = new Map<string, string>();
  #binding: ExternalAccountBinding | undefined;
  readonly #platform: KeyChildPlatform;
  readonly #config: KeyProcessConfig;

  constructor(platform: KeyChildPlatform, config: KeyProcessConfig) {
    this.#platform = platform;
    this.#config = config;
  }

  /** Loads `keys` (those not held yet) and takes each set's names into the policy; a key that cannot be used throws, named. */
  async add(keys: Record<string, KeyFileSpec>, names: Record<string, string[]>): Promise<void> {
    // Sets that start at once and share a key file wait for one load of it, so they share one key (-n, -N).
    await Promise.all(Object.entries(keys).map(([name, spec]) => this.#loading.get(name) ?? this.#loading.set(name, this.#load(name, spec, names)).get(name)));
    Object.assign(this.#config.policy.names, names);
  }

  async #load(name: string, spec: KeyFileSpec, names: Record<string, string[]>): Promise<void> {
    const held = await loadKey(this.#platform, spec, this.#config.keyType);
    if (!held) return;
    this.#held.set(name, { spec, held });
    this.signers[name] = Object.hasOwn(names, name) || Object.hasOwn(this.#config.policy.names, name)
      ? this.#domainSigner(name, localSigner(held.key))
      : persistingFirst(bindingAccounts(localSigner(held.key), () => this.#binding), (which, csr) => this.persist(which === 'account' ? name : this.#ownerOf(csr)));
  }

  bind(binding: ExternalAccountBinding): void {
    this.#binding = binding;
  }

  /** Issue 10's rule: a new key is on disk, fsynced, before the CA can learn of it; null when it already was. */
  async persist(name: string): Promise<string | null> {
    const entry = this.#held.get(name);
    if (!entry?.held.unsaved) return null;
    const { spec: { path, what }, held } = entry;
    let written: boolean;
    try {
      await this.#platform.makeDirectories(dirnamePath(path), KEY_DIR_MODE);
      written = await this.#platform.writeNewFile(path, exportPkcs8Pem(held.key), KEY_FILE_MODE);
    } catch (error) {
      throw new Error(`Cannot write ${what} ${path}: ${fileErrorReason(error)}`);
    }
    // A key another run wrote a moment ago may be one the CA knows: it is kept, and this run stops.
    if (!written) throw new Error(`Cannot write ${what} ${path}: another run created it meanwhile; run again to use it`);
    held.unsaved = false;
    return `wrote ${what} ${path}`;
  }

  #domainSigner(name: string, signer: KeySigner): KeySigner {
    return {
      ...signer,
      createCsr: async (request) => {
        const der = await signer.createCsr(request);
        this.#csrOwners.set(base64UrlEncode(der), name);
        return der;
      },
    };
  }

  #ownerOf(csr: string | undefined): string {
    const owner = csr === undefined ? undefined : this.#csrOwners.get(csr);
    if (owner === undefined) throw new Error('The key process refuses to sign a finalization whose CSR it did not build');
    return owner;
  }
}

export async function runKeyProcess(platform: KeyChildPlatform): Promise<number> {
  const config = JSON.parse(platform.args[0]!) as KeyProcessConfig;
  const ring = new KeyRing(platform, config);
  // The keys load before the first request is read, so a bad key file fails the run before anything else happens.
  let loadError: Error | undefined;
  await ring.add(config.keys, {}).catch((error: Error) => (loadError = error));
  const channel = lineChannel(platform.input, (bytes) => platform.write(bytes), 'the parent process');
  await serveSigners(channel, ring.signers, signGuard(config.policy), 'the parent process', {
    // The parent asks first; a key that cannot be used fails there, with the file named.
    check: () => {
      if (loadError) throw loadError;
      return null;
    },
    // The keys and names of one more set (--renew-all, --renew-list), from the parent alone, as the run comes to it.
    add: async ({ keys, names }) => {
      await ring.add(keys as Record<string, KeyFileSpec>, names as Record<string, string[]>);
      return null;
    },
    persist: ({ key }) => ring.persist(String(key)),
    // RFC 7638, of an account key, for the parent's key authorizations (RFC 8555 §8.1); null for a key it lacks.
    thumbprint: ({ key }) => (typeof key === 'string' && Object.hasOwn(ring.signers, key) ? jwkThumbprint(ring.signers[key]!.publicJwk) : null),
    // From the parent, over this channel rather than the command line that ps(1) shows; the parent never passes
    // this request on for the network process.
    eab: ({ kid, hmacKey, algorithm }) => {
      if (typeof kid !== 'string' || typeof hmacKey !== 'string') throw new Error('an external account binding needs a kid and an HMAC key');
      ring.bind({ kid, hmacKey, ...(typeof algorithm === 'string' && { algorithm: algorithm as ExternalAccountBinding['algorithm'] }) });
      return null;
    },
  });
  return 0;
}
