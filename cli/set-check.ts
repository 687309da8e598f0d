// The daily run's look at a certificate set before it decides anything: whether a killed run left something behind
// (a journal, a lock, temporary files), and whether cert.pem, chain.pem and fullchain.pem belong together and to the
// domain key. Text comparisons and a DER walk only, so the run that finds nothing to do stays fast.

import { certificateHasKey } from '../core/_der-lite.ts';
import { pemDecodeAll } from '../core/encoding.ts';
import { dirnamePath } from '../adapters/_path.ts';
import { LEFTOVER_PREFIX, temporaryWriter } from '../adapters/_lock.ts';
import type { CliOptions } from './args.ts';
import type { CliPaths } from './defaults.ts';
import { readText, type CliPlatform } from './platform.ts';

/** The folders where a run of this set writes, so where a killed one may have left temporary files. */
export function foldersOfSet(options: Pick<CliOptions, 'challengeType' | 'standalone'>, paths: CliPaths): string[] {
  const webroot = !options.challengeType && !options.standalone;
  return [...new Set([paths.certDir, dirnamePath(paths.domainKey), dirnamePath(paths.accountKey), ...(webroot ? [paths.challengeDir] : [])])];
}

/** Whether a killed run may have left something in these folders: anything of ours in the certificate folder, temporary files elsewhere. */
export function hasLeftovers(platform: CliPlatform, paths: CliPaths, folders: readonly string[]): boolean {
  return folders.some((folder) => platform.listNamesSync(folder).some((name) =>
    folder === paths.certDir ? name.startsWith(LEFTOVER_PREFIX) : temporaryWriter(name) !== undefined));
}

const sameDer = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * Why the set on disk is not whole, or undefined when it is: fullchain.pem must be cert.pem's certificate followed by
 * chain.pem's, and cert.pem must be for the domain key. A set without chain.pem or fullchain.pem (acme-client(1)
 * users may keep cert.pem alone) is checked against the key only. `certificate` is cert.pem's text and first DER.
 */
export function setMismatch(platform: CliPlatform, paths: CliPaths, certificate: { text: string; der: Uint8Array }): string | undefined {
  const chain = readText(platform, paths.chain);
  const fullchain = readText(platform, paths.fullchain);
  // acme-client writes fullchain.pem as cert.pem's text then chain.pem's, so equal text settles it; files another
  // tool wrote may differ in line breaks only, which the certificates' DER shows.
  if (chain !== undefined && fullchain !== undefined && fullchain !== certificate.text + chain) {
    const blocks = (text: string) => pemDecodeAll(text).filter((block) => block.label === 'CERTIFICATE').map((block) => block.der);
    const expected = [...blocks(certificate.text), ...blocks(chain)];
    const found = blocks(fullchain);
    if (found.length !== expected.length || !found.every((der, i) => sameDer(der, expected[i]!))) {
      return `${paths.fullchain} is not ${paths.cert} followed by ${paths.chain}`;
    }
  }
  let key: { label: string; der: Uint8Array } | undefined;
  try {
    key = pemDecodeAll(readText(platform, paths.domainKey) ?? '').find((block) => block.label.endsWith('PRIVATE KEY'));
  } catch {
    return undefined; // an unreadable or damaged key is reported, naming it, by the run that needs it
  }
  if (key && certificateHasKey(certificate.der, key.label, key.der) === false) return `${paths.cert} is not for the domain key ${paths.domainKey}`;
  return undefined;
}
