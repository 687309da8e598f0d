// The key process: the only process that holds the account key and the domain key. It reads them (or makes the ones
// -n/-N allow), writes a new one when asked (before the CA can learn of it), and signs and builds the CSR over its
// standard input and output, as far as the parent's policy allows (cli/sign-guard.ts). It opens no connection: Deno
// starts it without --allow-net, Node with reads and writes limited to its code and the key files.

import { dirnamePath } from '../adapters/_path.ts';
import { KEY_DIR_MODE, KEY_FILE_MODE } from '../adapters/_shared.ts';
import { exportPkcs8Pem, importKey } from '../core/key-pem.ts';
import type { KeyType } from '../core/key-types.ts';
import type { ExternalAccountBinding } from '../core/jws.ts';
import { generateKey, type AcmeKey } from '../core/keys.ts';
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

export async function runKeyProcess(platform: KeyChildPlatform): Promise<number> {
  const config = JSON.parse(platform.args[0]!) as KeyProcessConfig;
  // The keys load before the first request is read, so a bad key file fails the run before anything else happens.
  let held: Record<string, HeldKey>;
  let loadError: Error | undefined;
  try {
    held = {};
    for (const [name, spec] of Object.entries(config.keys)) {
      const key = await loadKey(platform, spec, config.keyType);
      if (key) held[name] = key;
    }
  } catch (error) {
    held = {};
    loadError = error as Error;
  }
  /** Issue 10's rule: a new key is on disk, fsynced, before the CA can learn of it; null when it already was. */
  const persist = async (name: string): Promise<string | null> => {
    const key = Object.hasOwn(held, name) ? held[name]! : undefined;
    if (!key?.unsaved) return null;
    const { path, what } = config.keys[name]!;
    let written: boolean;
    try {
      await platform.makeDirectories(dirnamePath(path), KEY_DIR_MODE);
      written = await platform.writeNewFile(path, exportPkcs8Pem(key.key), KEY_FILE_MODE);
    } catch (error) {
      throw new Error(`Cannot write ${what} ${path}: ${fileErrorReason(error)}`);
    }
    // A key another run wrote a moment ago may be one the CA knows: it is kept, and this run stops.
    if (!written) throw new Error(`Cannot write ${what} ${path}: another run created it meanwhile; run again to use it`);
    key.unsaved = false;
    return `wrote ${what} ${path}`;
  };
  // The network process asks for the write first, so the parent can log it; should it not, the key is written all
  // the same before the request that tells the CA of it.
  const signers: Record<string, KeySigner> = Object.fromEntries(Object.entries(held).map(([name, { key }]) => [name, localSigner(key)]));
  let binding: ExternalAccountBinding | undefined;
  if (signers.account) signers.account = persistingFirst(bindingAccounts(signers.account, () => binding), persist);
  const channel = lineChannel(platform.input, (bytes) => platform.write(bytes), 'the parent process');
  await serveSigners(channel, signers, signGuard(config.policy), 'the parent process', {
    // The parent asks first; a key that cannot be used fails there, with the file named.
    check: () => {
      if (loadError) throw loadError;
      return null;
    },
    persist: ({ key }) => persist(String(key)),
    // From the parent, over this channel rather than the command line that ps(1) shows; the parent never passes
    // this request on for the network process.
    eab: ({ kid, hmacKey, algorithm }) => {
      if (typeof kid !== 'string' || typeof hmacKey !== 'string') throw new Error('an external account binding needs a kid and an HMAC key');
      binding = { kid, hmacKey, ...(typeof algorithm === 'string' && { algorithm: algorithm as ExternalAccountBinding['algorithm'] }) };
      return null;
    },
  });
  return 0;
}
