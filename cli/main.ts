// The acme-client entry. It decides from the files alone whether anything is due, so the daily cron run that
// finds nothing to do (exit 2) loads only argument parsing, the renewal rule and a small DER reader; the
// protocol, keys and CSR code come in by dynamic import only when a certificate has to change.

import { readFileSync } from 'node:fs';
import { readCertificateSummary, type CertificateSummary } from '../core/_der-lite.ts';
import { pemDecodeAll } from '../core/encoding.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { HELP, parseArgs } from './args.ts';
import { resolvePaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_FAILURE, EXIT_UNCHANGED, planRun } from './plan.ts';
import { VERSION } from './version.ts';

/**
 * The certificate in cert.pem, or undefined when there is none yet. Read synchronously: an asynchronous read
 * would start libuv's thread pool, which costs the cron path time and memory for one small file.
 */
function readCurrentCertificate(file: string): CertificateSummary | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const block = pemDecodeAll(text).find((candidate) => candidate.label === 'CERTIFICATE');
    if (!block) throw new SyntaxError('Cannot parse PEM: no "CERTIFICATE" block');
    return readCertificateSummary(block.der);
  } catch (error) {
    throw new Error(`Cannot read ${file}: ${(error as Error).message}`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseArgs(argv);
  if (options.help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT_CHANGED;
  }
  if (options.version) {
    process.stdout.write(`acme-client ${VERSION}\n`);
    return EXIT_CHANGED;
  }
  const identifiers = normalizeIdentifiers(options.names);
  const paths = resolvePaths(options, identifiers[0]!.value);
  const existing = readCurrentCertificate(paths.cert);
  const plan = planRun(options, identifiers, existing, paths.cert, new Date());
  if (plan.action === 'unchanged') {
    if (options.verbosity) {
      process.stderr.write(`acme-client: ${paths.cert} is valid until ${plan.notAfter.toISOString()}; renewal is due from ${plan.renewAt.toISOString()}\n`);
    }
    return EXIT_UNCHANGED;
  }
  const { run } = await import('./run.ts');
  return run({ options, identifiers, paths, plan });
}

/**
 * Ends the process once stdout and stderr are flushed: fetch keeps idle keep-alive connections to the CA open for
 * seconds after the last response, and a finished run must not wait for them (cron and scripts wait for the exit).
 */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  // One line, as cron mails and log scrapers expect; the message already names the file, name or problem.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`acme-client: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  exit(EXIT_FAILURE);
});
