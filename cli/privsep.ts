// Privilege separation, as acme-client(1) does it: this process (the parent) starts the key process, which holds the
// keys and talks to nobody but this process, and the network process, which talks to the CA, holds no key and runs
// unprivileged. The parent passes signing requests between them without reading them, answers challenges through its
// responder, and installs what the network process hands back; it never parses what the CA sent.

import type { ChallengeTask, ChallengeType } from '../core/resources.ts';
import type { PublicJwk } from '../core/engine.ts';
import type { ChallengeResponder } from '../core/flow.ts';
import { dns01TxtValue, type ExternalAccountBinding } from '../core/jws.ts';
import { jwkThumbprint } from '../core/keys.ts';
import { normalizeIdentifiers } from '../core/names.ts';
import { RpcClient, lineChannel, serveRpc } from '../core/_line-rpc.ts';
import type { RunChildren } from './children.ts';
import type { NetIssued, NetJob, NetRevoked } from './net-process.ts';
import type { ChildHandle, CliPlatform, CliRunPlatform } from './platform.ts';

type Platform = CliPlatform & CliRunPlatform;

/** RFC 8555 §8.1, as core/client.ts checks it: a token names files and URLs, so the parent checks it again. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,255}$/;

/** What the parent decides for one separated run. */
export interface SeparatedRun {
  job: NetJob;
  /** Files named in the network process's messages; it cannot read them. */
  files: { cert: string; accountKey: string; domainKey: string };
  /** The key and network processes, started already (cli/children.ts); they end when the run does. */
  children: RunChildren;
  /** The external account binding, handed to the key process alone: it adds it to the newAccount request it signs. */
  eab?: ExternalAccountBinding;
  /** Answers the challenges of an issuance, unless the network process serves them on the standalone port. */
  responder?: ChallengeResponder;
  /** Serves the standalone port in this process, for a network process that may not bind it (Deno, below 1024). */
  serveHere?: () => Promise<ChallengeResponder>;
  /** Runs once the keys are read and before the network process is served anything; false ends the run, nothing done. */
  beforeNetwork?: () => Promise<boolean>;
}

function channelOf(child: ChildHandle, peer: string) {
  return lineChannel(child.output, (bytes) => child.write(bytes), peer);
}

/** Rejects when the child ends, naming it, its pid, how it ended and the last thing it said. */
function whenEnded(child: ChildHandle, name: string): Promise<never> {
  return child.exited.then((how) => {
    const last = child.lastErrorLine();
    throw new Error(`The ${name} (pid ${child.pid}) ${how} before the run was done${last ? `: ${last}` : ''}`);
  });
}

/** One line, printable: what a child asks the parent to print cannot forge other lines or move the cursor. */
function printable(value: unknown): string {
  return String(value).replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/**
 * The challenge as the parent will act on it, rebuilt from the few fields it needs, each checked: the token (which
 * names a file), a type the responder answers, and one of this run's names. The key authorization comes from the
 * account key's thumbprint (RFC 8555 §8.1), so the network process cannot have anything else served or published.
 */
async function checkedTask(value: unknown, run: SeparatedRun, responder: ChallengeResponder | undefined, thumbprint: string): Promise<ChallengeTask> {
  const task = (value ?? {}) as Partial<ChallengeTask>;
  if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) throw new Error('the challenge token is not base64url of 22 to 255 characters');
  if (!responder?.types.includes(task.type as ChallengeType)) throw new Error(`the challenge type ${printable(task.type)} is not one this run answers`);
  const names = normalizeIdentifiers(run.job.names);
  const identifier = names.find((name) => name.type === task.identifier?.type && name.value.replace(/^\*\./, '') === task.identifier?.value);
  if (!identifier) throw new Error(`the challenge is for ${printable(task.identifier?.value)}, which this run does not name`);
  const bare = identifier.value.replace(/^\*\./, '');
  const keyAuthorization = `${task.token}.${thumbprint}`;
  return {
    identifier: { type: identifier.type, value: bare },
    wildcard: identifier.value.startsWith('*.'),
    type: task.type as ChallengeType,
    token: task.token,
    keyAuthorization,
    httpPath: `/.well-known/acme-challenge/${task.token}`,
    dnsName: `_acme-challenge.${bare}`,
    dnsValue: await dns01TxtValue(keyAuthorization),
    authorizationUrl: printable(task.authorizationUrl),
    challengeUrl: printable(task.challengeUrl),
  };
}

/**
 * Runs `run` split over a key process and a network process and returns what the network process hands back.
 * Whatever happens, both children have ended when it returns or throws.
 */
export async function runSeparated(platform: Platform, run: SeparatedRun, log: (line: string) => void): Promise<NetIssued | NetRevoked | undefined> {
  const { key: keyChild, net: netChild } = run.children;
  let finished = false;
  const unlessFinished = (ended: Promise<never>) => ended.catch((error) => (finished ? new Promise<never>(() => {}) : Promise.reject(error)));
  try {
    const keyEnded = unlessFinished(whenEnded(keyChild, 'key process'));
    const keys = new RpcClient(channelOf(keyChild, 'the key process'), 'the key process');
    // A call that fails because the key process ended fails with how it ended, which names it.
    const forward = (op: string) => (params: Record<string, unknown>) =>
      Promise.race([keys.call(op, params).catch((error) => (keys.closed ? keyEnded : Promise.reject(error))), keyEnded]);
    // The network process gets its job at once and reads the CA's directory while the keys are read and the set's
    // lock is taken. Nothing it asks of the key process, and no challenge, is served before then, so a bad key file
    // still fails the run before any request is signed.
    const ready = (async () => {
      await forward('check')({});
      if (run.eab) await forward('eab')({ ...run.eab });
      const publicKeys = (await forward('keys')({})) as Record<string, { publicJwk: PublicJwk } | undefined>;
      const thumbprint = publicKeys.account ? await jwkThumbprint(publicKeys.account.publicJwk) : '';
      return run.beforeNetwork && !(await run.beforeNetwork()) ? undefined : { publicKeys, thumbprint };
    })();
    const opened = ready.then((state) => state ?? Promise.reject(new Error('the run ended before the network process began')));
    const whenReady = <T>(serve: (state: NonNullable<Awaited<typeof ready>>, params: Record<string, unknown>) => T) =>
      async (params: Record<string, unknown>) => serve(await opened, params);
    const netEnded = unlessFinished(whenEnded(netChild, 'network process'));
    let responder = run.responder;
    let settle!: { resolve(value: unknown): void; reject(error: Error): void };
    const outcome = new Promise((resolve, reject) => (settle = { resolve, reject }));
    // Both settle before anyone awaits them when the run ends early; the race below reports what ended it.
    opened.catch(() => {});
    outcome.catch(() => {});
    const served = serveRpc(channelOf(netChild, 'the network process'), {
      job: () => ({ job: run.job, files: run.files }),
      check: whenReady((_, params) => forward('check')(params)),
      keys: whenReady(({ publicKeys }) => publicKeys),
      sign: whenReady((_, params) => forward('sign')(params)),
      csr: whenReady((_, params) => forward('csr')(params)),
      persist: whenReady(async (_, params) => {
        const line = await forward('persist')(params);
        if (typeof line === 'string') log(printable(line));
        // The crash tests stop the run here (cli/platform.ts withTestHooks), as they do a single process.
        platform.checkpoint(`${params.key === 'domain' ? 'domain' : 'account'}-key-written`);
        return line;
      }),
      checkpoint: ({ name }) => platform.checkpoint(`${['account', 'order', 'certificate'].includes(name as string) ? name : 'unknown'}-done`),
      serve: whenReady(async () => {
        if (responder || !run.serveHere) throw new Error('this run has no port for the parent to serve');
        responder = await run.serveHere();
      }),
      present: whenReady(async ({ thumbprint }, { task }) => responder!.present(await checkedTask(task, run, responder, thumbprint))),
      cleanup: whenReady(async ({ thumbprint }, { task }) => responder!.cleanup(await checkedTask(task, run, responder, thumbprint))),
      log: ({ line }) => log(printable(line)),
      warn: ({ line }) => platform.writeStderr(`acme-client: ${printable(line)}\n`),
      done: ({ result }) => settle.resolve(result),
      failed: ({ message }) => settle.reject(new Error(printable(message))),
    }, 'the network process').then(
      // Its channel closes as it ends: the failure says how it ended.
      () => whenEnded(netChild, 'network process'),
      (error: Error) => Promise.reject(new Error(`The network process (pid ${netChild.pid}) broke the protocol: ${error.message}`)),
    );
    if (!(await Promise.race([ready, keyEnded, netEnded, unlessFinished(served)]))) return undefined;
    const result = await Promise.race([outcome, keyEnded, netEnded, unlessFinished(served)]);
    finished = true;
    return result as NetIssued | NetRevoked;
  } finally {
    finished = true;
    await run.children.stop();
  }
}
