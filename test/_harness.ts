// One test API for every runtime: core test files register cases here, and a small entry per runtime
// (test/node, test/deno, test/browser) hands them to that runtime's own runner. Runtime-neutral on purpose.

export type TestFunction = () => void | Promise<void>;
export interface TestCase { name: string; fn: TestFunction }

const registry: TestCase[] = [];

export function test(name: string, fn: TestFunction): void {
  registry.push({ name, fn });
}

export function registeredTests(): readonly TestCase[] {
  return registry;
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message = 'expected a truthy value'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length}) [${Array.from(value.subarray(0, 16)).join(',')}${value.length > 16 ? ',…' : ''}]`;
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Date ? v.toISOString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.length === y.length && x.every((byte, i) => byte === y[i]);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(`${message ? message + ': ' : ''}expected ${describe(expected)}, got ${describe(actual)}`);
  }
}

export function assertNotEquals<T>(actual: T, unexpected: T, message?: string): void {
  if (deepEqual(actual, unexpected)) throw new AssertionError(`${message ? message + ': ' : ''}expected a value other than ${describe(unexpected)}`);
}

type ErrorClass = abstract new (...args: never[]) => Error;

function checkError(error: unknown, errorClass: ErrorClass | undefined, messageIncludes: string | RegExp | undefined): Error {
  if (!(error instanceof Error)) throw new AssertionError(`expected an Error to be thrown, got ${describe(error)}`);
  const thrown: Error = error;
  if (errorClass && !(error instanceof errorClass)) {
    throw new AssertionError(`expected ${errorClass.name}, got ${thrown.name}: ${thrown.message}`);
  }
  if (messageIncludes !== undefined) {
    const matches = typeof messageIncludes === 'string' ? error.message.includes(messageIncludes) : messageIncludes.test(error.message);
    if (!matches) throw new AssertionError(`expected the message to contain ${String(messageIncludes)}, got ${JSON.stringify(error.message)}`);
  }
  return error;
}

export function assertThrows(fn: () => unknown, errorClass?: ErrorClass, messageIncludes?: string | RegExp): Error {
  try {
    fn();
  } catch (error) {
    return checkError(error, errorClass, messageIncludes);
  }
  throw new AssertionError('expected the function to throw');
}

export async function assertRejects(fn: () => Promise<unknown>, errorClass?: ErrorClass, messageIncludes?: string | RegExp): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return checkError(error, errorClass, messageIncludes);
  }
  throw new AssertionError('expected the promise to reject');
}
