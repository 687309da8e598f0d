// The one way Deno's CLI entries (the command's and the children's) read a small file.

/** A file's text, or undefined when it does not exist; other failures throw with their `code`, as in Node. */
export function readTextFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
