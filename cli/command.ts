// acme-client in any runtime, over the platform its entry hands in. It decides from the files alone whether
// anything is due, so the daily cron run that finds nothing to do (exit 2) loads only argument parsing, the
// renewal rule and a small DER reader; the protocol, keys, CSR code and the platform's servers and fetch come in
// by dynamic import only when a certificate has to change.

import { readCertificateSummary, type CertificateSummary } from '../core/_der-lite.ts';
import { pemDecodeAll } from '../core/encoding.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { HELP, parseArgs } from './args.ts';
import { resolvePaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_FAILURE, EXIT_UNCHANGED, planRun } from './plan.ts';
import { fileErrorReason, type CliPlatform } from './platform.ts';
import { VERSION } from './version.ts';

/** The certificate in cert.pem, or undefined when there is none yet. */
function readCurrentCertificate(platform: CliPlatform, file: string): CertificateSummary | undefined {
  let text: string | undefined;
  try {
    text = platform.readTextFile(file);
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${fileErrorReason(error)}`);
  }
  if (text === undefined) return undefined;
  try {
    const block = pemDecodeAll(text).find((candidate) => candidate.label === 'CERTIFICATE');
    if (!block) throw new SyntaxError('Cannot parse PEM: no "CERTIFICATE" block');
    return readCertificateSummary(block.der);
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

async function main(platform: CliPlatform): Promise<number> {
  const options = parseArgs(platform.args);
  if (options.help) {
    platform.writeStdout(`${HELP}\n`);
    return EXIT_CHANGED;
  }
  if (options.version) {
    platform.writeStdout(`acme-client ${VERSION}\n`);
    return EXIT_CHANGED;
  }
  const identifiers = normalizeIdentifiers(options.names);
  const paths = resolvePaths(options, identifiers[0]!.value);
  const existing = readCurrentCertificate(platform, paths.cert);
  const plan = planRun(options, identifiers, existing, paths.cert, new Date());
  if (plan.action === 'unchanged') {
    if (options.verbosity) {
      platform.writeStderr(`acme-client: ${paths.cert} is valid until ${plan.notAfter.toISOString()}; renewal is due from ${plan.renewAt.toISOString()}\n`);
    }
    return EXIT_UNCHANGED;
  }
  const [{ run }, runPlatform] = await Promise.all([import('./run.ts'), platform.load()]);
  return run({ options, identifiers, paths, plan }, { ...platform, ...runPlatform });
}

/** Runs acme-client with the platform's arguments and ends the process with its exit status. */
export function runCommand(platform: CliPlatform): void {
  main(platform).then((code) => platform.exit(code), (error: unknown) => {
    // One line, as cron mails and log scrapers expect; the message already names the file, name or problem.
    const message = error instanceof Error ? error.message : String(error);
    platform.writeStderr(`acme-client: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    platform.exit(EXIT_FAILURE);
  });
}
