// acme-client(1)'s default files and CA, and -m's rule for per-domain paths (which --renew-all's tree follows).

import { joinPath } from '../adapters/_path.ts';
import type { CliOptions } from './args.ts';

export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING_DIRECTORY = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export const DEFAULT_CHALLENGE_DIR = '/var/www/acme';
export const DEFAULT_CERT_DIR = '/etc/ssl/acme';
export const DEFAULT_ACCOUNT_KEY = '/etc/acme/privkey.pem';
/** Beside cert.pem: the CA's last renewal information for it (cli/renewal-info.ts). */
export const RENEWAL_INFO_FILE = 'renewal-info.json';

export interface CliPaths {
  challengeDir: string;
  certDir: string;
  accountKey: string;
  domainKey: string;
  cert: string;
  chain: string;
  fullchain: string;
  renewalInfo: string;
  /** Directories that -m put the domain into; only these may be created when missing (besides new keys' folders). */
  perDomainDirs: string[];
}

type PathOptions = Pick<CliOptions, 'multiple' | 'challengeDir' | 'certDir' | 'accountKey' | 'domainKey'>;

/**
 * -m appends the domain to each default that was not overridden, but never to the challenge directory. The domain
 * key defaults to private/privkey.pem in `tree`, which stands for /etc/ssl/acme (--renew-all DIR).
 */
export function resolvePaths(options: PathOptions, domain: string, tree = DEFAULT_CERT_DIR): CliPaths {
  const perDomainDirs: string[] = [];
  const perDomain = (file: string | undefined, fallback: string, isDirectory: boolean): string => {
    if (file !== undefined) return file;
    if (!options.multiple) return fallback;
    const dir = joinPath(isDirectory ? fallback : joinPath(fallback, '..'), domain);
    perDomainDirs.push(dir);
    return isDirectory ? dir : joinPath(dir, 'privkey.pem');
  };
  const certDir = perDomain(options.certDir, tree, true);
  return {
    challengeDir: options.challengeDir ?? DEFAULT_CHALLENGE_DIR,
    certDir,
    domainKey: perDomain(options.domainKey, joinPath(tree, 'private', 'privkey.pem'), false),
    accountKey: perDomain(options.accountKey, DEFAULT_ACCOUNT_KEY, false),
    cert: joinPath(certDir, 'cert.pem'),
    chain: joinPath(certDir, 'chain.pem'),
    fullchain: joinPath(certDir, 'fullchain.pem'),
    renewalInfo: joinPath(certDir, RENEWAL_INFO_FILE),
    perDomainDirs,
  };
}

export function directoryUrlOf(options: Pick<CliOptions, 'directory' | 'staging'>): string {
  return options.directory ?? (options.staging ? LETS_ENCRYPT_STAGING_DIRECTORY : LETS_ENCRYPT_DIRECTORY);
}
