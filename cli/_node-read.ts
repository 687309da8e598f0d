// The one way Node's CLI entries (the command's and the children's) read a small file.

import { readFileSync } from 'node:fs';

/**
 * A file's text, or undefined when it does not exist; other failures throw with their `code`. Synchronous on purpose:
 * an asynchronous read would start libuv's thread pool for one small file.
 */
export function readTextFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
