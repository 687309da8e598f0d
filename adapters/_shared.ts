// The runtime adapters' common half, in web standards only: file modes, the webroot responder over a runtime's
// file functions, the answers of a built-in http-01 server, and acme-client(1)'s -t line protocol.

import type { ChallengeTask, ChallengeType } from '../core/resources.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { dirnamePath, joinPath } from './_path.ts';

/**
 * Private keys: read and write for the owner only.
 *
 * @example
 * ```ts
 * import { KEY_FILE_MODE, writeFileAtomic } from "@acmets/acme-client/deno";
 * await writeFileAtomic("privkey.pem", "-----BEGIN PRIVATE KEY-----\n…", KEY_FILE_MODE);
 * ```
 */
export const KEY_FILE_MODE = 0o600;

/**
 * Certificates: readable by all, writable by none (acme-client(1)'s 0444); atomic writes replace them all the same.
 *
 * @example
 * ```ts
 * import { CERT_FILE_MODE, writeFileAtomic } from "@acmets/acme-client/deno";
 * await writeFileAtomic("fullchain.pem", "-----BEGIN CERTIFICATE-----\n…", CERT_FILE_MODE);
 * ```
 */
export const CERT_FILE_MODE = 0o444;
/**
 * The web server, usually another user, must read the response.
 *
 * @example
 * ```ts
 * import { CHALLENGE_FILE_MODE } from "@acmets/acme-client/deno";
 * console.log(CHALLENGE_FILE_MODE.toString(8)); // "644"
 * ```
 */
export const CHALLENGE_FILE_MODE = 0o644;

/**
 * Folders made for keys: the owner's alone.
 *
 * @example
 * ```ts
 * import { KEY_DIR_MODE, makeDirectories } from "@acmets/acme-client/deno";
 * await makeDirectories("/etc/acme", KEY_DIR_MODE);
 * ```
 */
export const KEY_DIR_MODE = 0o700;

/**
 * Folders made for certificates: readable by all.
 *
 * @example
 * ```ts
 * import { PUBLIC_DIR_MODE, makeDirectories } from "@acmets/acme-client/deno";
 * await makeDirectories("/etc/ssl/acme/example.com", PUBLIC_DIR_MODE);
 * ```
 */
export const PUBLIC_DIR_MODE = 0o755;

/**
 * A fetch with a pool of connections of its own, which close() ends: a run that talks to a CA for many
 * certificates opens a few connections, reuses them, and leaves none behind to use up its file descriptors.
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey } from "@acmets/acme-client";
 * import { createDenoFetch } from "@acmets/acme-client/deno";
 * const fetch = createDenoFetch("my-renewer/1.0");
 * try {
 *   const client = await AcmeClient.create("https://acme-staging-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256"), fetch });
 *   console.log(client.directory.meta.termsOfService);
 * } finally {
 *   fetch.close();
 * }
 * ```
 */
export type ClosingFetch = typeof fetch & {
  /** Closes every connection, idle or not; a request after it opens new ones. */
  close(): void;
};

/**
 * RFC 8555 §8.3: http-01 answers at this path plus the token.
 *
 * @example
 * ```ts
 * import { HTTP01_PATH_PREFIX } from "@acmets/acme-client/deno";
 * const url = `http://example.com${HTTP01_PATH_PREFIX}evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA`;
 * ```
 */
export const HTTP01_PATH_PREFIX = '/.well-known/acme-challenge/';

/** The core refuses tokens that are not base64url (RFC 8555 §8.3); checked again here because a file is named after it. */
function tokenFileName(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new RangeError(`Refusing challenge token ${JSON.stringify(token)}: it is not base64url`);
  return token;
}

/** The file functions a webroot responder needs from its runtime. */
export interface ResponseFiles {
  writeFileAtomic(path: string, data: string, mode: number): Promise<void>;
  removeFileIfExists(path: string): Promise<boolean>;
}

/** http-01 through a web server that serves `dir` at /.well-known/acme-challenge/ (acme-client(1)'s -C). */
export function webrootResponderOver(dir: string, files: ResponseFiles): ChallengeResponder {
  return {
    types: ['http-01'],
    async present(task: ChallengeTask) {
      await files.writeFileAtomic(joinPath(dir, tokenFileName(task.token)), task.keyAuthorization, CHALLENGE_FILE_MODE);
    },
    async cleanup(task: ChallengeTask) {
      await files.removeFileIfExists(joinPath(dir, tokenFileName(task.token)));
    },
  };
}

/** The error for a standalone server that cannot listen, worded alike in every runtime and for every challenge type. */
export function listenError(address: { host?: string; port: number }, type: ChallengeType, portInUse: boolean, cause: Error): Error {
  return new Error(`Cannot listen on ${address.host ?? '*'}:${address.port} for ${type}: ${portInUse ? 'the port is in use' : cause.message}`, { cause });
}

/**
 * A built-in http-01 server: it listens once started, and close() stops it with its connections.
 *
 * @example
 * ```ts
 * import { startStandaloneResponder } from "@acmets/acme-client/deno";
 * const responder = await startStandaloneResponder({ host: "127.0.0.1", port: 0 });
 * console.log(responder.port);
 * await responder.close();
 * ```
 */
export interface StandaloneResponder extends ChallengeResponder {
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  /** Stops the server and its connections. */
  close(): Promise<void>;
}

/** The tokens a built-in http-01 server serves, and what it answers for each request. */
export interface Http01Answers {
  present(task: ChallengeTask): Promise<void>;
  cleanup(task: ChallengeTask): Promise<void>;
  /** The body for a GET or HEAD of a presented token's path; undefined means 404. */
  answer(method: string, path: string): string | undefined;
}

export function http01Answers(): Http01Answers {
  const answers = new Map<string, string>();
  return {
    async present(task) {
      answers.set(tokenFileName(task.token), task.keyAuthorization);
    },
    async cleanup(task) {
      answers.delete(task.token);
    },
    answer(method, path) {
      if (method !== 'GET' && method !== 'HEAD') return undefined;
      return path.startsWith(HTTP01_PATH_PREFIX) ? answers.get(path.slice(HTTP01_PATH_PREFIX.length)) : undefined;
    },
  };
}

/**
 * A responder that reads its input until closed: acme-client(1)'s -t.
 *
 * @example
 * ```ts
 * import { callerResponder } from "@acmets/acme-client/deno";
 * const responder = callerResponder("dns-01");
 * // … issueCertificate({ ..., responder }) …
 * responder.close();
 * ```
 */
export interface CallerResponder extends ChallengeResponder {
  /** Stops reading the input, so that the process can exit. */
  close(): void;
}

/** A runtime's side of the -t protocol: write a line, read the next one (undefined at the end), stop reading. */
export interface LineChannel {
  write(line: string): void;
  nextLine(): Promise<string | undefined>;
  close(): void;
}

/**
 * acme-client(1)'s -t: the caller sets up each challenge. For each name, one line "TYPE NAME KEYAUTH" goes out,
 * and the same line must come back before the next name is printed, so even authorizations worked in parallel
 * reach the caller one at a time. A different line, or the end of the input, fails the run.
 */
export function lineProtocolResponder(type: ChallengeType, channel: LineChannel): CallerResponder {
  let queue: Promise<unknown> = Promise.resolve();

  const exchange = async (task: ChallengeTask) => {
    const line = `${type} ${task.identifier.value} ${task.keyAuthorization}`;
    channel.write(`${line}\n`);
    const answer = await channel.nextLine();
    if (answer === undefined) throw new Error(`Cannot go on with ${task.identifier.value}: standard input ended before the line "${line}" came back`);
    if (answer !== line) {
      const got = answer.length > 120 ? `${answer.slice(0, 120)}…` : answer;
      throw new Error(`Cannot go on with ${task.identifier.value}: expected the line "${line}" back on standard input, got ${JSON.stringify(got)}`);
    }
  };

  return {
    types: [type],
    present(task) {
      const turn = queue.then(() => exchange(task));
      queue = turn.catch(() => undefined);
      return turn;
    },
    async cleanup() {
      // The caller removes what it set up; it knows when, from our exit.
    },
    close() {
      channel.close();
    },
  };
}

/**
 * A DNS provider's API as dnsResponder uses it.
 *
 * @example
 * ```ts
 * import type { DnsRecordApi } from "@acmets/acme-client/deno";
 * const api: DnsRecordApi = {
 *   present: async (name, value) => { await fetch(`https://dns.example/txt/${name}`, { method: "POST", body: value }); },
 *   cleanup: async (name, value) => { await fetch(`https://dns.example/txt/${name}/${value}`, { method: "DELETE" }); },
 * };
 * ```
 */
export interface DnsRecordApi {
  /**
   * Adds `value` to the TXT records at `name` (e.g. "_acme-challenge.example.com"), keeping others there: a
   * wildcard and its base name get two values at one name. Resolves once the CA's resolvers can see it.
   */
  present(name: string, value: string): Promise<void>;
  /** Removes that value again, whether issuance succeeded or not. */
  cleanup(name: string, value: string): Promise<void>;
}

/**
 * dns-01 through a DNS provider's API (RFC 8555 §8.4): the record name and the base64url SHA-256 digest of the key
 * authorization are computed; `api` only sets and removes TXT values.
 *
 * @example
 * ```ts
 * import { dnsResponder } from "@acmets/acme-client/deno";
 * const responder = dnsResponder({
 *   present: async (name, value) => { await fetch("https://dns.example/txt", { method: "POST", body: JSON.stringify({ name, value }) }); },
 *   cleanup: async (name, value) => { await fetch("https://dns.example/txt", { method: "DELETE", body: JSON.stringify({ name, value }) }); },
 * });
 * ```
 */
export function dnsResponder(api: DnsRecordApi): ChallengeResponder {
  return {
    types: ['dns-01'],
    present: (task) => api.present(task.dnsName, task.dnsValue),
    cleanup: (task) => api.cleanup(task.dnsName, task.dnsValue),
  };
}

/**
 * The folders whose entries mkdir -p changed when `first` was the first folder it made on the way to `path`: each new
 * folder's parent, down to path's. Syncing them makes the new folders, and so the files about to go in, durable.
 */
export function parentsOfNewDirectories(first: string, path: string): string[] {
  const dirs: string[] = [];
  for (let dir = dirnamePath(path); ; dir = dirnamePath(dir)) {
    dirs.unshift(dir);
    if (dir === dirnamePath(first) || dir === dirnamePath(dir)) return dirs;
  }
}
