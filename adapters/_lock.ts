// One run at a time per certificate set: a lock file that names its holder, over a runtime's file functions, and the
// names of the temporary files a run leaves behind when it is killed. Web standards only; adapters/node.ts and
// adapters/deno.ts hand in their files and their way of telling whether a process still runs.

/** Every file acme-client makes beside the ones it keeps starts with this, so a later run can find what a killed one left. */
export const LEFTOVER_PREFIX = '.acme-client';
const TEMPORARY_PREFIX = `${LEFTOVER_PREFIX}-tmp-`;
/** temporaryName's parts: the writer's PID, and the name of the file it writes. */
const TEMPORARY_NAME = /^\.acme-client-tmp-(\d+)-[0-9a-f]{8}-(.*)$/s;
/**
 * A holder keeps its lock file's time fresh every LOCK_REFRESH_MS. Where its PID cannot be looked up (Deno without
 * --allow-run), a lock not refreshed for LOCK_STALE_MS is taken for left behind; where the PID runs, only a lock not
 * refreshed for LOCK_MAX_AGE_MS is (the PID was reused).
 */
export const LOCK_REFRESH_MS = 1000;
export const LOCK_STALE_MS = 5000;
export const LOCK_MAX_AGE_MS = 60 * 60 * 1000;
/** How long a second run waits for the first to finish before it gives up. */
export const LOCK_WAIT_MS = 30_000;
const RETRY_DELAY_MS = 50;
const MAX_RETRY_DELAY_MS = 1000;

/**
 * The temporary file beside `base` for a write by process `pid`: a fixed prefix, the writer's PID, a random part.
 *
 * @example
 * ```ts
 * temporaryName("cert.pem", 4242); // ".acme-client-tmp-4242-5f0c9a1e-cert.pem"
 * ```
 */
export function temporaryName(base: string, pid: number): string {
  return `${TEMPORARY_PREFIX}${pid}-${randomHex(4)}-${base}`;
}

function randomHex(length: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Whether a temporary file is an attempt to take a lock (or a takeover's lock). The holder of that lock may remove
 * it whatever its writer: a writer killed mid-attempt leaves it, and a live one finds it gone and tries again. In
 * Deno without --allow-run, which cannot tell a dead writer from a live one, nothing else would remove it until
 * LOCK_STALE_MS has passed.
 */
export function isLockAttempt(name: string, lockFile: string): boolean {
  return TEMPORARY_NAME.exec(name)?.[2]?.startsWith(lockFile) ?? false;
}

/** The PID in a temporary file's name, or undefined when the name is not one of ours. */
export function temporaryWriter(name: string): number | undefined {
  const match = TEMPORARY_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Who holds a lock: the process, a token that tells this holding from any other, and since when.
 *
 * @example
 * ```ts
 * import type { LockHolder } from "@acmets/acme-client/deno";
 * const describe = (holder: LockHolder) => `process ${holder.pid} since ${holder.since.toISOString()}`;
 * ```
 */
export interface LockHolder {
  /** The holding process's ID. */
  pid: number;
  /** Random, unique to this holding. */
  token: string;
  /** When the lock was taken. */
  since: Date;
}

/**
 * A lock this process holds.
 *
 * @example
 * ```ts
 * import { acquireFileLock } from "@acmets/acme-client/deno";
 * const lock = await acquireFileLock("/etc/ssl/acme/.acme-client.lock");
 * try {
 *   // replace the certificate files
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export interface HeldLock {
  /** This process's holding. */
  readonly holder: LockHolder;
  /** The holders whose lock this one replaced because they were gone. */
  readonly tookOverFrom: readonly LockHolder[];
  /** Whether the lock is still this holding (a run that stalled past LOCK_MAX_AGE_MS may have lost it). */
  isHeld(): Promise<boolean>;
  /** Gives the lock up; a lock that is no longer this holding is left alone. */
  release(): Promise<void>;
}

/**
 * The lock is held by a run that is still alive; `holder` names it.
 *
 * @example
 * ```ts
 * import { acquireFileLock, LockBusyError } from "@acmets/acme-client/deno";
 * try {
 *   await (await acquireFileLock("/etc/ssl/acme/.acme-client.lock", { waitMs: 0 })).release();
 * } catch (error) {
 *   if (error instanceof LockBusyError) console.log(`busy: process ${error.holder.pid}`);
 * }
 * ```
 */
export class LockBusyError extends Error {
  /** The live holder. */
  readonly holder: LockHolder;

  /** `waitedMs`: how long the caller waited, for the message. */
  constructor(path: string, holder: LockHolder, waitedMs: number) {
    super(`Cannot lock ${path}: acme-client process ${holder.pid} has held it since ${holder.since.toISOString()} (waited ${Math.round(waitedMs / 1000)} s)`);
    this.name = 'LockBusyError';
    this.holder = holder;
  }
}

/** What the lock needs from a runtime. */
export interface LockFiles {
  /** This process's ID. */
  readonly pid: number;
  /**
   * Creates `path` holding `text`, whole and synced to disk, unless something is there already (then false, as when
   * the holder of the lock removed this attempt's temporary file: see isLockAttempt).
   */
  createExclusive(path: string, text: string): Promise<boolean>;
  readTextFileIfExists(path: string): Promise<string | undefined>;
  removeFileIfExists(path: string): Promise<boolean>;
  /** A file's last modification, undefined when it is gone. */
  modifiedTime(path: string): Promise<Date | undefined>;
  /** Sets a file's modification time to now; a file that is gone is no error. */
  touch(path: string): Promise<void>;
  /** Lets the process end while `timer` still runs. */
  unrefTimer(timer: ReturnType<typeof setInterval>): void;
  /** false when the process is known to be gone, true when it runs, undefined when this runtime cannot tell. */
  isProcessAlive(pid: number): boolean | undefined;
}

/**
 * Acquire options.
 *
 * @example
 * ```ts
 * import { acquireFileLock, type LockOptions } from "@acmets/acme-client/deno";
 * const options: LockOptions = { waitMs: 5000 };
 * await (await acquireFileLock("/etc/ssl/acme/.acme-client.lock", options)).release();
 * ```
 */
export interface LockOptions {
  /** How long to wait for a live holder before failing with LockBusyError; LOCK_WAIT_MS (30 s) by default. */
  waitMs?: number;
  /** Called once if the lock is held by a live process and the wait begins. */
  onWait?: (holder: LockHolder) => void;
}

/** The holder a lock file names; undefined for anything else (then the lock is taken for left behind). */
export function parseHolder(text: string): LockHolder | undefined {
  try {
    const raw = JSON.parse(text) as { pid?: unknown; token?: unknown; since?: unknown };
    const since = typeof raw.since === 'string' ? new Date(raw.since) : undefined;
    if (!Number.isSafeInteger(raw.pid) || typeof raw.token !== 'string' || !since || Number.isNaN(since.getTime())) return undefined;
    return { pid: raw.pid as number, token: raw.token, since };
  } catch {
    return undefined;
  }
}

/** Whether a file of process `pid` (a lock, a temporary file) last touched at `touched` was left by a run that is gone. */
export function isLeftBehind(files: Pick<LockFiles, 'isProcessAlive' | 'pid'>, pid: number, touched: Date): boolean {
  if (pid === files.pid) return false;
  const alive = files.isProcessAlive(pid);
  const age = Date.now() - touched.getTime();
  return alive === false || age > (alive ? LOCK_MAX_AGE_MS : LOCK_STALE_MS);
}

/**
 * Takes the lock at `path`: created only if absent, so one process wins. A holder that is gone (see isLeftBehind) is
 * taken over; a live one is waited for up to `waitMs`, then LockBusyError names it. While held, the lock's time is
 * kept fresh, so that a runtime that cannot look up PIDs can still tell a live holder from a dead one.
 */
export async function acquireLock(path: string, files: LockFiles, options: LockOptions = {}): Promise<HeldLock> {
  const waitMs = options.waitMs ?? LOCK_WAIT_MS;
  const started = Date.now();
  const holder: LockHolder = { pid: files.pid, token: randomHex(8), since: new Date() };
  const text = `${JSON.stringify({ pid: holder.pid, token: holder.token, since: holder.since.toISOString() })}\n`;
  const tookOverFrom: LockHolder[] = [];
  let waiting = false;
  for (let delay = RETRY_DELAY_MS; ; delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)) {
    if (await files.createExclusive(path, text)) break;
    const found = await files.readTextFileIfExists(path);
    const touched = await files.modifiedTime(path);
    if (found === undefined || touched === undefined) continue; // released a moment ago
    const current = parseHolder(found);
    if (!current || isLeftBehind(files, current.pid, touched)) {
      if (await takeOver(path, found, current, files) && current) tookOverFrom.push(current);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= waitMs) throw new LockBusyError(path, current, waited);
    if (!waiting) options.onWait?.(current);
    waiting = true;
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, waitMs - waited)));
  }
  const refresh = setInterval(() => void files.touch(path).catch(() => undefined), LOCK_REFRESH_MS);
  files.unrefTimer(refresh);
  const isHeld = async () => parseHolder((await files.readTextFileIfExists(path)) ?? '')?.token === holder.token;
  return {
    holder,
    tookOverFrom,
    isHeld,
    async release() {
      clearInterval(refresh);
      if (await isHeld()) await files.removeFileIfExists(path);
    },
  };
}

/**
 * Removes a lock whose holder is gone. Several runs may find it at once, and one of them may already have taken the
 * lock anew, so removing "the lock" could remove a live one: each takeover first takes a lock of its own, named
 * after the holding it replaces, and removes the lock only if that holding is still there.
 */
async function takeOver(path: string, found: string, holder: LockHolder | undefined, files: LockFiles): Promise<boolean> {
  const takeover = await acquireLock(`${path}-takeover-${holder ? `${holder.pid}-${holder.token}` : 'unreadable'}`, files);
  try {
    return (await files.readTextFileIfExists(path)) === found && (await files.removeFileIfExists(path));
  } finally {
    await takeover.release();
  }
}
