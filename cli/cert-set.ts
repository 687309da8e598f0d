// The files of one certificate set change together: new contents (certificates, -b backups, renewal-info.json) are
// staged beside the old ones, a journal naming every rename and removal is written atomically, and only then are
// the files renamed into place. A run killed at any moment leaves whole files, and the next run finds the old set,
// the new one, or a journal, which it carries out to the end (roll forward). It also removes what killed runs left.

import { basenamePath, joinPath } from '../adapters/_path.ts';
import { LEFTOVER_PREFIX, isLeftBehind, isLockAttempt, parseHolder, temporaryName, temporaryWriter, type HeldLock } from '../adapters/_lock.ts';
import type { CliPaths } from './defaults.ts';
import { fileErrorReason, type CliPlatform, type CliRunPlatform } from './platform.ts';

type Platform = CliPlatform & CliRunPlatform;

/** Beside the certificates: the lock of the set, and the journal of a change in progress. */
export const LOCK_FILE = `${LEFTOVER_PREFIX}.lock`;
export const JOURNAL_FILE = `${LEFTOVER_PREFIX}-journal.json`;

/** One file of a change: new text for `name` (a file in the certificate folder), or its removal (text undefined). */
export interface SetChange {
  name: string;
  text?: string;
  mode?: number;
}

/** The journal: renames from staged names to final ones, then removals, all in the certificate folder. */
interface Journal {
  pid: number;
  renames: [string, string][];
  removals: string[];
}

/** The lock of a set is a file in its certificate folder, so a run on another set never waits for it. */
export function lockPathOf(paths: Pick<CliPaths, 'certDir'>): string {
  return joinPath(paths.certDir, LOCK_FILE);
}

async function attempt(what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (error) {
    throw new Error(`Cannot ${what}: ${fileErrorReason(error)}`, { cause: error });
  }
}

/** Renames `from` to `to` in `dir`; false when `from` is gone, which in a replayed journal means done already. */
async function renameIfPresent(platform: Platform, dir: string, from: string, to: string): Promise<boolean> {
  try {
    await platform.renameFile(joinPath(dir, from), joinPath(dir, to));
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw new Error(`Cannot rename ${joinPath(dir, from)} to ${to}: ${fileErrorReason(error)}`, { cause: error });
  }
}

/** Carries out a journal: every rename whose staged file is still there, the removals, then the journal goes. */
async function applyJournal(platform: Platform, dir: string, journal: Journal): Promise<void> {
  for (const [index, [from, to]] of journal.renames.entries()) {
    await renameIfPresent(platform, dir, from, to);
    platform.checkpoint(`renamed-${index + 1}`);
  }
  for (const name of journal.removals) await attempt(`remove ${joinPath(dir, name)}`, () => platform.removeFileIfExists(joinPath(dir, name)));
  // The renames must be on disk before the journal that would redo them is gone.
  await attempt(`sync ${dir}`, () => platform.syncDirectory(dir));
  platform.checkpoint('set-replaced');
  await attempt(`remove ${joinPath(dir, JOURNAL_FILE)}`, () => platform.removeFileIfExists(joinPath(dir, JOURNAL_FILE)));
  await attempt(`sync ${dir}`, () => platform.syncDirectory(dir));
}

/**
 * Changes the files of a set as one: stages every new text, writes the journal, renames, removes. `lock` must be
 * this set's; a run that lost it (it stalled past the lock's age limit) writes no journal.
 */
export async function changeSet(platform: Platform, paths: Pick<CliPaths, 'certDir'>, changes: SetChange[], lock: HeldLock): Promise<void> {
  const dir = paths.certDir;
  const journal: Journal = { pid: platform.pid, renames: [], removals: [] };
  for (const change of changes) {
    if (change.text === undefined) {
      journal.removals.push(change.name);
      continue;
    }
    const staged = temporaryName(change.name, platform.pid);
    const path = joinPath(dir, change.name);
    await attempt(`write ${path}`, () => platform.writeFileAtomic(joinPath(dir, staged), change.text!, change.mode!));
    journal.renames.push([staged, change.name]);
  }
  platform.checkpoint('set-staged');
  if (!(await lock.isHeld())) throw new Error(`Cannot replace the files in ${dir}: the lock ${lockPathOf(paths)} was taken over while this run stalled`);
  await attempt(`write ${joinPath(dir, JOURNAL_FILE)}`, () => platform.writeFileAtomic(joinPath(dir, JOURNAL_FILE), `${JSON.stringify(journal)}\n`, 0o644));
  platform.checkpoint('journal-written');
  await applyJournal(platform, dir, journal);
}

function parseJournal(text: string): Journal | undefined {
  try {
    const raw = JSON.parse(text) as Journal;
    const name = (value: unknown) => typeof value === 'string' && value !== '' && basenamePath(value) === value && value !== '..';
    if (!Number.isSafeInteger(raw.pid) || !Array.isArray(raw.renames) || !Array.isArray(raw.removals)) return undefined;
    if (!raw.renames.every((pair) => Array.isArray(pair) && pair.length === 2 && pair.every(name)) || !raw.removals.every(name)) return undefined;
    return raw;
  } catch {
    return undefined;
  }
}

/**
 * What a killed run left, put right under the set's lock: its journal carried out (the change it began is
 * completed), then its temporary files and lock takeovers removed from `dirs` where their process is gone. `lock`
 * is the set's (none when its folder does not exist yet).
 * Returns what it did, one line each; a completed change comes first, since it changed the certificates.
 */
export async function recoverSet(
  platform: Platform, paths: Pick<CliPaths, 'certDir'>, dirs: readonly string[], lock: HeldLock | undefined,
): Promise<{ completed?: string; removed: string[] }> {
  // A holder whose lock this run took over is gone (or lost its lock, and writes nothing more): its files are left over.
  const gone = new Set(lock?.tookOverFrom.map((holder) => holder.pid));
  const dir = paths.certDir;
  const result: { completed?: string; removed: string[] } = { removed: [] };
  const journalPath = joinPath(dir, JOURNAL_FILE);
  const text = platform.readTextFile(journalPath);
  if (text !== undefined) {
    const journal = parseJournal(text);
    if (!journal) throw new Error(`Cannot recover ${dir}: ${journalPath} is not a journal acme-client wrote; look at it, then remove it`);
    await applyJournal(platform, dir, journal);
    const names = [...journal.renames.map(([, to]) => to), ...journal.removals];
    result.completed = `completed the change of ${names.join(', ')} in ${dir} that process ${journal.pid} began`;
  }
  for (const folder of new Set(dirs)) {
    let names: string[];
    try {
      names = await platform.listDirectory(folder);
    } catch {
      continue; // a folder this run may not read (Deno's permissions) or that is gone holds nothing of ours to clean
    }
    for (const name of names) {
      const path = joinPath(folder, name);
      const writer = temporaryWriter(name);
      let left: boolean;
      if (writer !== undefined) {
        left = gone.has(writer) || (lock !== undefined && writer !== platform.pid && isLockAttempt(name, LOCK_FILE))
          || isLeftBehind(platform, writer, (await platform.modifiedTime(path)) ?? new Date(0));
      } else if (name.startsWith(`${LOCK_FILE}-takeover-`)) {
        const holder = parseHolder(platform.readTextFile(path) ?? '');
        left = !holder || isLeftBehind(platform, holder.pid, holder.since);
      } else {
        continue;
      }
      if (left && (await platform.removeFileIfExists(path))) result.removed.push(path);
    }
  }
  return result;
}
