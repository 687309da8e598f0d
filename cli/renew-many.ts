// Many certificates in one run: every certificate in a tree laid out as -m lays it out (--renew-all), or every
// domain set a file lists (--renew-list), each handled as its own run would be, a few at a time (--jobs). One line
// per set on stdout, in the order found; exit 0 if any changed, 2 if none was due, 1 if any failed.

import type { ChallengeResponder } from '../core/flow.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { joinPath } from '../adapters/_path.ts';
import { DEFAULT_JOBS, type CliOptions } from './args.ts';
import { failureLine, openedOnFirstUse, processSet, readCurrentCertificate, renewalSessionOnFirstUse, type RunShared } from './command.ts';
import { DEFAULT_CERT_DIR, resolvePaths } from './defaults.ts';
import { EXIT_CHANGED, EXIT_FAILURE, EXIT_UNCHANGED } from './plan.ts';
import { fileErrorReason, readText, type CliPlatform, type CliRunPlatform } from './platform.ts';
import { serialOf } from './renewal-info.ts';

/** One domain set: the names as written, or why they could not be read. */
export interface DomainSet {
  /** What its line on stdout starts with: the first name, as -m names its folders. */
  label: string;
  names: string[];
  error?: string;
}

/** --renew-list's file: "domain [altnames...]" per line, names separated by blanks; "#" starts a comment. */
export function parseRenewList(text: string, file: string): DomainSet[] {
  const sets: DomainSet[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((line, index) => {
    const names = line.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (names.length === 0) return;
    const set: DomainSet = { label: names[0]!, names };
    const earlier = seen.get(names[0]!.toLowerCase());
    // Both would write the same -m folders.
    if (earlier !== undefined) set.error = `${file} line ${index + 1} lists ${names[0]} again (first on line ${earlier})`;
    else seen.set(names[0]!.toLowerCase(), index + 1);
    sets.push(set);
  });
  return sets;
}

/** --renew-all: each folder of the tree that holds a cert.pem, its names read from it, the folder's name first. */
async function setsInTree(platform: CliPlatform & CliRunPlatform, tree: string): Promise<DomainSet[]> {
  let entries: string[];
  try {
    entries = (await platform.listDirectory(tree)).sort();
  } catch (error) {
    throw new Error(`Cannot read ${tree}: ${fileErrorReason(error)}`, { cause: error });
  }
  const sets: DomainSet[] = [];
  for (const entry of entries) {
    // -m keeps domain keys in private/; a folder without cert.pem holds no certificate (-r removed it).
    if (entry === 'private' || entry.startsWith('.') || !(await platform.isDirectory(joinPath(tree, entry)))) continue;
    const file = joinPath(tree, entry, 'cert.pem');
    let names: string[];
    try {
      const cert = readCurrentCertificate(platform, file);
      if (!cert) continue;
      names = [...cert.dnsNames, ...cert.ipAddresses];
    } catch (error) {
      sets.push({ label: entry, names: [], error: (error as Error).message });
      continue;
    }
    const first = names.findIndex((name) => name.toLowerCase() === entry.toLowerCase());
    if (first === -1) {
      sets.push({ label: entry, names, error: `The certificate ${file} does not name ${entry}, the folder it is in (it names ${names.join(', ')})` });
      continue;
    }
    sets.push({ label: entry, names: [names[first]!, ...names.filter((_, index) => index !== first)] });
  }
  return sets;
}

/**
 * Several sets share one http-01 responder, since a --standalone server can listen only once; it opens when the
 * first set needs it, so a run where nothing is due binds no port.
 */
function sharedResponder(platform: CliPlatform, options: CliOptions, tree: string): ChallengeResponder & { close(): Promise<void> } {
  const responder = openedOnFirstUse(async () => {
    const [{ openResponder }, runPlatform] = await Promise.all([import('./set-files.ts'), platform.load()]);
    return openResponder({ ...platform, ...runPlatform }, options, resolvePaths(options, '', tree));
  });
  return {
    types: ['http-01'],
    present: async (task) => (await responder.get()).present(task),
    cleanup: async (task) => (await responder.get()).cleanup(task),
    close: responder.close,
  };
}

interface SetResult {
  code: number;
  /** Its line on stdout; a set that failed names the reason. */
  line: string;
  error?: unknown;
}

async function renewSet(platform: CliPlatform, options: CliOptions, set: DomainSet, tree: string, shared: RunShared): Promise<SetResult> {
  // Its -v lines and warnings name the set, since several run at once.
  const prefixed: CliPlatform = { ...platform, writeStderr: (text) => platform.writeStderr(text.replace(/^acme-client: /gm, `acme-client: ${set.label}: `)) };
  try {
    if (set.error) throw new Error(set.error);
    const identifiers = normalizeIdentifiers(set.names);
    const setOptions: CliOptions = { ...options, multiple: true, names: set.names };
    const paths = resolvePaths(setOptions, identifiers[0]!.value, tree);
    const { code, plan } = await processSet(prefixed, setOptions, identifiers, paths, shared);
    if (plan.action === 'unchanged') return { code, line: `${set.label}: unchanged (due ${plan.renewAt.toISOString()})` };
    const issued = readCurrentCertificate(platform, paths.cert)!;
    return { code, line: `${set.label}: ${plan.action === 'issue' ? 'issued' : 'renewed'} (serial ${serialOf(issued)}, expires ${issued.notAfter.toISOString()})` };
  } catch (error) {
    return { code: EXIT_FAILURE, line: `${set.label}: FAILED: ${failureLine(error)}`, error };
  }
}

export async function renewMany(platform: CliPlatform, options: CliOptions): Promise<number> {
  const tree = options.names[0] ?? DEFAULT_CERT_DIR;
  let sets: DomainSet[];
  if (options.renewList !== undefined) {
    const text = readText(platform, options.renewList);
    if (text === undefined) throw new Error(`Cannot read ${options.renewList}: it does not exist`);
    sets = parseRenewList(text, options.renewList);
    if (sets.length === 0) throw new Error(`Cannot renew: ${options.renewList} lists no domain set`);
  } else {
    sets = await setsInTree({ ...platform, ...(await platform.load()) }, tree);
    if (sets.length === 0) throw new Error(`Cannot renew: no certificate under ${tree} (looked for ${joinPath(tree, 'DOMAIN', 'cert.pem')})`);
  }

  // One responder, one network process for the renewal windows, and one pair of key and network processes for the
  // sets that change: their connections, the directory, and one account per account key.
  const responder = sharedResponder(platform, options, tree);
  const renewals = renewalSessionOnFirstUse(platform, options);
  const split = openedOnFirstUse(async () => {
    const [{ startManyChildren }, { openRunSession }, { runLog }, runPlatform] = await Promise.all([
      import('./children.ts'), import('./run-separated.ts'), import('./set-files.ts'), platform.load(),
    ]);
    const children = await startManyChildren(platform, options, tree);
    return openRunSession({ ...platform, ...runPlatform }, options, resolvePaths(options, '', tree), children, runLog(options, platform));
  });
  const results: (SetResult | undefined)[] = sets.map(() => undefined);
  let printed = 0;
  let next = 0;
  const worker = async () => {
    while (next < sets.length) {
      const index = next++;
      results[index] = await renewSet(platform, options, sets[index]!, tree, { ask: renewals.ask, responder, split: split.get });
      // In the order found, each line as soon as those before it are out.
      for (; printed < results.length && results[printed]; printed++) platform.writeStdout(`${results[printed]!.line}\n`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.jobs ?? DEFAULT_JOBS, sets.length) }, worker));
  } finally {
    await Promise.all([split.close(), responder.close(), renewals.close()]);
  }
  const failed = sets.map((set, index) => ({ label: set.label, ...results[index]! })).filter((set) => set.code === EXIT_FAILURE);
  if (failed.length > 0) {
    // The first failure is the cause, so that the runtime can say more of it (Deno: a permission not given).
    throw new Error(`${failed.length} of ${sets.length} sets failed: ${failed.map((set) => set.label).join(', ')}`, { cause: failed[0]!.error });
  }
  return results.some((result) => result!.code === EXIT_CHANGED) ? EXIT_CHANGED : EXIT_UNCHANGED;
}
