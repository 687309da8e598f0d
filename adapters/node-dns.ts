// CAA lookups for the pre-check in Node (core/caa.ts): the system's resolvers, or one DNS server given as host:port.

import { Resolver } from 'node:dns/promises';
import type { CaaRecord, CaaResolver } from '../core/caa.ts';
import { cnameChainEnd } from '../core/_dns.ts';

/** c-ares codes for "the name exists but has no such records" and "the name does not exist". */
const NO_RECORDS = new Set(['ENODATA', 'ENOTFOUND']);

function isNoRecords(error: unknown): boolean {
  return NO_RECORDS.has((error as NodeJS.ErrnoException)?.code ?? '');
}

/** `server` is "127.0.0.1:8053", "[::1]:53" or a bare address; without it, the system's resolvers answer. */
export function nodeCaaResolver(server?: string): CaaResolver {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (server !== undefined) {
    try {
      resolver.setServers([server]);
    } catch {
      throw new TypeError(`Invalid DNS server ${JSON.stringify(server)}: expected an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53`);
    }
  }

  const cnames = async (name: string): Promise<string[]> => {
    try {
      return await resolver.resolveCname(name);
    } catch (error) {
      if (isNoRecords(error)) return [];
      throw error;
    }
  };

  return {
    async caa(name) {
      let answers: Awaited<ReturnType<Resolver['resolveCaa']>>;
      try {
        answers = await resolver.resolveCaa(name);
      } catch (error) {
        if (isNoRecords(error)) return [];
        const code = (error as NodeJS.ErrnoException).code;
        throw new Error(`CAA query for ${name} failed: ${code ?? (error as Error).message}`, { cause: error });
      }
      if (answers.length === 0) return [];
      const at = await cnameChainEnd(name, cnames).catch(() => name);
      // Node gives each record as { critical: flags, <tag>: value }.
      return answers.map((answer): CaaRecord => {
        const entry = Object.entries(answer).find(([key]) => key !== 'critical');
        const record: CaaRecord = { flags: answer.critical, tag: entry?.[0] ?? '', value: String(entry?.[1] ?? '') };
        if (at !== name) record.owner = at;
        return record;
      });
    },
  };
}
