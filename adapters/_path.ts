// POSIX path joining for code that runs in more than one runtime (the CLI, the Deno adapter): node:path's
// join and dirname rules, in plain string code, since Deno's own path module (@std/path) is out of reach.

/** Joins the segments with "/" and normalises the result: repeated slashes, "." and ".." go, as in `path.posix.join`. */
export function joinPath(...segments: string[]): string {
  const joined = segments.filter((segment) => segment !== '').join('/');
  if (joined === '') return '.';
  const absolute = joined.startsWith('/');
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.length > 0 && parts.at(-1) !== '..') parts.pop();
    else if (!absolute) parts.push(part); // above the root is the root
  }
  const body = parts.join('/');
  const trailing = joined.endsWith('/') && body !== '' ? '/' : '';
  if (absolute) return `/${body}${trailing}`;
  return body === '' ? (trailing || joined.endsWith('/') ? './' : '.') : `${body}${trailing}`;
}

/** The folder part of a path, as `path.posix.dirname`: trailing slashes do not count, "." when there is none. */
export function dirnamePath(path: string): string {
  const trimmed = path.replace(/(?<=.)\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  if (slash === -1) return '.';
  return slash === 0 ? '/' : trimmed.slice(0, slash);
}

/** The last segment of a path, trailing slashes aside, as `path.posix.basename`. */
export function basenamePath(path: string): string {
  const trimmed = path.replace(/(?<=.)\/+$/, '');
  return trimmed === '/' ? '' : trimmed.slice(trimmed.lastIndexOf('/') + 1);
}
