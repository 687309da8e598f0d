// dns-01 answered by RFC 2136 dynamic updates: for each name, follow the CNAME on _acme-challenge.NAME, find the
// zone from its SOA, add the TXT record at the primary server, wait until every authoritative server of the zone
// answers with it, and afterwards delete exactly that record. The runtime hands in how a message reaches a server.

import { cnameChainEnd, describeDnsServer, parseDnsServer, type DnsServer } from './_dns.ts';
import type { ChallengeTask } from './resources.ts';
import {
  buildQuery, buildUpdate, messageId, readAnswer, sameName, signMessage, txtValues, verifyAnswer, type DnsAnswer, type TxtChange,
} from './dns-message.ts';
import type { ChallengeResponder } from './flow.ts';
import type { TsigKey } from './tsig-key.ts';

/**
 * Sends one DNS message to a server and resolves to the answer's bytes; rejects with a message that names the
 * server when it cannot reach it or gets no answer in time.
 */
export type DnsExchange = (server: DnsServer, message: Uint8Array) => Promise<Uint8Array>;

/** Where an RFC 2136 responder sends its updates and asks its questions, and how it signs. */
export interface DnsUpdateResponderOptions {
  /**
   * The primary server that takes the updates: "ADDR", "ADDR:PORT" or "[IPv6]:PORT", port 53 by default. The
   * zone's authoritative servers are asked on the same port, since a zone's servers listen alike.
   */
  server: string;
  /** The TSIG key that the server's update-policy names (RFC 8945); without one the updates go unsigned. */
  key?: TsigKey;
  /** The recursive resolver, in the same form, that follows CNAMEs and finds zones and their servers; the system's by default. */
  resolver?: string;
  /** Seconds the TXT records live in caches (default 60): short, since they are deleted again within minutes. */
  ttl?: number;
  /** How long to wait for every authoritative server to answer with a record (default 120 000 ms). */
  propagationTimeout?: number;
  /** A line for each step. */
  onProgress?: (line: string) => void;
}

/** One NS record of a zone: the server's name, and the addresses it is asked at. */
interface NameServer {
  host: string;
  addresses: DnsServer[];
}

/** What present() added, so that cleanup() deletes that record and nothing else. */
interface AddedRecord {
  zone: string;
  name: string;
  value: string;
}

const DEFAULT_TTL = 60;
const DEFAULT_PROPAGATION_TIMEOUT = 120_000;
/** The first pause between rounds of asking the authoritative servers; it doubles up to the cap. */
const FIRST_PAUSE = 250;
const PAUSE_CAP = 4000;

/** RFC 2136 §2.2 and RFC 8945 §5.2: what each refusal usually means, for the one line the user reads. */
const WHY: Record<string, string> = {
  REFUSED: 'the server\'s update policy does not allow this change',
  NOTAUTH: 'the server is not authoritative for the zone',
  NOTZONE: 'the name is outside the zone',
  BADSIG: 'the server holds another secret for it',
  BADKEY: 'the server does not know it',
  BADTIME: 'this clock and the server\'s differ by more than the fudge',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The name one label up, where the search for a zone goes next: "a.b.example" → "b.example"; a single label has none. */
function parentName(name: string): string | undefined {
  const dot = name.indexOf('.');
  return dot === -1 ? undefined : name.slice(dot + 1);
}

/** Whether `name` lies in the tree that starts at `zone` (the zone's apex or below it). */
function isAtOrBelow(name: string, zone: string): boolean {
  return sameName(name, zone) || name.toLowerCase().replace(/\.$/, '').endsWith(`.${zone.toLowerCase().replace(/\.$/, '')}`);
}

/**
 * dns-01 (RFC 8555 §8.4) through RFC 2136 dynamic updates, signed with TSIG when a key is given. Records at one
 * name from several challenges (example.com and *.example.com) are added and deleted each by its own value, so
 * records that others put there stay.
 */
export function dnsUpdateResponder(options: DnsUpdateResponderOptions & { resolver: string; exchange: DnsExchange }): ChallengeResponder {
  const primary = parseDnsServer(options.server);
  const resolver = parseDnsServer(options.resolver);
  const log = options.onProgress ?? (() => {});
  const added = new Map<string, AddedRecord>();

  async function ask(server: DnsServer, name: string, type: Parameters<typeof buildQuery>[1], recursive: boolean): Promise<DnsAnswer> {
    const query = buildQuery(name, type, recursive);
    try {
      const answer = readAnswer(await options.exchange(server, query));
      if (answer.id !== messageId(query)) throw new Error(`the answer has ID ${answer.id}, not the query's ${messageId(query)}`);
      return answer;
    } catch (error) {
      throw new Error(`${type} query for ${name} at ${describeDnsServer(server)} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  const lookup = async (name: string, type: Parameters<typeof buildQuery>[1]) => {
    const answer = await ask(resolver, name, type, true);
    if (answer.rcode !== 'NOERROR' && answer.rcode !== 'NXDOMAIN') throw new Error(`${type} query for ${name} at ${describeDnsServer(resolver)} failed: ${answer.rcode}`);
    return answer;
  };

  const cnames = async (name: string) =>
    (await lookup(name, 'CNAME')).answers.filter((record) => record.type === 'CNAME' && sameName(record.name, name)).map((record) => String(record.data));

  /** The zone that holds `name`: the owner of the SOA record at its apex (RFC 1035 §4.3.4), or in a negative answer (RFC 2308 §3). */
  async function findZone(name: string): Promise<string> {
    for (let candidate: string | undefined = name; candidate; candidate = parentName(candidate)) {
      const answer = await lookup(candidate, 'SOA');
      if (answer.answers.some((record) => record.type === 'SOA' && sameName(record.name, candidate!))) return candidate;
      const negative = answer.authorities.find((record) => record.type === 'SOA' && isAtOrBelow(name, record.name));
      if (negative) return negative.name.replace(/\.$/, '');
    }
    throw new Error(`Cannot find the zone of ${name}: ${describeDnsServer(resolver)} gives no SOA record for it or any parent`);
  }

  /** The zone's name servers (its NS records), each with its addresses, asked on the primary's port. */
  async function authoritativeServers(zone: string): Promise<NameServer[]> {
    const hosts = (await lookup(zone, 'NS')).answers.filter((record) => record.type === 'NS' && sameName(record.name, zone)).map((record) => String(record.data));
    if (hosts.length === 0) throw new Error(`Cannot check zone ${zone}: ${describeDnsServer(resolver)} gives no NS records for it`);
    return Promise.all(hosts.map(async (host) => {
      const answers = await Promise.all((['A', 'AAAA'] as const).map(async (type) => (await lookup(host, type)).answers.filter((record) => record.type === type)));
      const addresses = answers.flat().map((record): DnsServer => ({ host: String(record.data), port: primary.port }));
      if (addresses.length === 0) throw new Error(`Cannot check zone ${zone}: its name server ${host} has no address at ${describeDnsServer(resolver)}`);
      return { host, addresses };
    }));
  }

  /**
   * Why `server` does not serve the record yet, or undefined once it does. A server counts as serving it when every
   * address that answers has it and one does: an address this host cannot reach (IPv6 on an IPv4-only host, say)
   * does not hold the wait up while another address of the same server answers.
   */
  async function notServing(server: NameServer, record: AddedRecord): Promise<string | undefined> {
    const outcomes = await Promise.all(server.addresses.map(async (address) => {
      try {
        const answer = await ask(address, record.name, 'TXT', false);
        return { address, has: txtValues(answer.answers, record.name).includes(record.value), reason: `answers ${answer.rcode} without it` };
      } catch (error) {
        return { address, has: undefined, reason: (error as Error).message };
      }
    }));
    if (outcomes.some((outcome) => outcome.has) && !outcomes.some((outcome) => outcome.has === false)) return undefined;
    return outcomes.filter((outcome) => !outcome.has).map((outcome) => `${server.host} (${outcome.address.host}): ${outcome.reason}`).join('; ');
  }

  /** Sends one update and fails with the server, the zone and the response code (TSIG's error too) when it is refused. */
  async function update(zone: string, change: TxtChange): Promise<void> {
    const what = `Cannot ${change.action} TXT record ${change.name} in zone ${zone} at ${describeDnsServer(primary)}`;
    const message = buildUpdate(zone, change);
    const request = options.key ? await signMessage(message, options.key, Date.now()) : undefined;
    let bytes: Uint8Array;
    let answer: DnsAnswer;
    try {
      bytes = await options.exchange(primary, request?.message ?? message);
      answer = readAnswer(bytes);
    } catch (error) {
      throw new Error(`${what}: ${(error as Error).message}`, { cause: error });
    }
    if (answer.id !== messageId(message)) throw new Error(`${what}: the answer has ID ${answer.id}, not the update's ${messageId(message)}`);
    let tsigProblem: string | undefined;
    if (request) {
      try {
        const tsigError = await verifyAnswer(bytes, options.key!, request, Date.now());
        if (tsigError) tsigProblem = `TSIG ${tsigError} for key "${options.key!.name}": ${WHY[tsigError] ?? 'see RFC 8945'}`;
      } catch (error) {
        tsigProblem = (error as Error).message;
      }
    }
    if (answer.rcode !== 'NOERROR') {
      throw new Error(`${what}: ${answer.rcode} (${tsigProblem ?? WHY[answer.rcode] ?? 'see RFC 2136 §2.2'})`);
    }
    if (tsigProblem) throw new Error(`${what}: ${tsigProblem}`);
  }

  async function waitForRecord(record: AddedRecord): Promise<void> {
    const timeout = options.propagationTimeout ?? DEFAULT_PROPAGATION_TIMEOUT;
    const deadline = Date.now() + timeout;
    let pending = await authoritativeServers(record.zone);
    const total = pending.length;
    for (let pause = FIRST_PAUSE; ; pause = Math.min(pause * 2, PAUSE_CAP)) {
      const reasons = await Promise.all(pending.map((server) => notServing(server, record)));
      const missing = pending.filter((_, index) => reasons[index] !== undefined);
      if (missing.length === 0) {
        log(`${record.name}: every authoritative server of zone ${record.zone} (${total}) answers with the new TXT record`);
        return;
      }
      if (Date.now() + pause > deadline) {
        throw new Error(`TXT record ${record.name} in zone ${record.zone} is not served within ${timeout / 1000} s by ${reasons.filter(Boolean).join('; ')}`);
      }
      pending = missing;
      await sleep(pause);
    }
  }

  return {
    types: ['dns-01'],
    async present(task: ChallengeTask) {
      const name = await cnameChainEnd(task.dnsName, cnames);
      if (name !== task.dnsName) log(`${task.dnsName} is a CNAME for ${name}`);
      const zone = await findZone(name);
      const record: AddedRecord = { zone, name, value: task.dnsValue };
      await update(zone, { action: 'add', name, value: task.dnsValue, ttl: options.ttl ?? DEFAULT_TTL });
      // Remembered before the wait, so that a record that never shows up everywhere is still deleted.
      added.set(task.challengeUrl, record);
      log(`added TXT record ${name} in zone ${zone} at ${describeDnsServer(primary)}`);
      await waitForRecord(record);
    },
    async cleanup(task: ChallengeTask) {
      const record = added.get(task.challengeUrl);
      if (!record) return;
      await update(record.zone, { action: 'delete', name: record.name, value: record.value, ttl: 0 });
      added.delete(task.challengeUrl);
      log(`deleted TXT record ${record.name} in zone ${record.zone}`);
    },
  };
}
