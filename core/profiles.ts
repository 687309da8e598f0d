// Certificate profiles (draft-ietf-acme-profiles): the names a CA lists in its directory's `meta.profiles`, and the
// check that a requested one exists, since some CAs (Pebble 2.4) silently ignore a `profile` they do not know.

/**
 * A certificate profile a CA offers (draft-ietf-acme-profiles).
 *
 * @example
 * ```ts
 * import { AcmeClient, generateKey, listProfiles } from "@acmets/acme-client";
 * const client = await AcmeClient.create("https://acme-v02.api.letsencrypt.org/directory", { accountKey: await generateKey("ec256") });
 * for (const profile of listProfiles(client.directory)) console.log(profile.name, profile.description);
 * ```
 */
export interface Profile {
  /** The name newOrder's `profile` takes, e.g. "tlsserver". */
  name: string;
  /** Human-readable text, or a URL to it (Let's Encrypt serves links to its documentation). */
  description: string;
}

/**
 * The part of a directory that lists profiles; a Directory is one.
 *
 * @example
 * ```ts
 * import type { ProfilesDirectory } from "@acmets/acme-client";
 * const directory: ProfilesDirectory = { meta: { profiles: { classic: "https://letsencrypt.org/docs/profiles#classic" } } };
 * ```
 */
export interface ProfilesDirectory {
  /** The directory's meta, with profile names mapped to descriptions. */
  meta?: { profiles?: Record<string, unknown> };
}

/**
 * The CA's profiles in the order it lists them, for a picker or a message.
 *
 * @example
 * ```ts
 * import { listProfiles } from "@acmets/acme-client";
 * listProfiles({ meta: { profiles: { classic: "90 days", shortlived: "160 hours" } } });
 * // [{ name: "classic", description: "90 days" }, { name: "shortlived", description: "160 hours" }]
 * ```
 */
export function listProfiles(directory: ProfilesDirectory): Profile[] {
  const profiles = directory.meta?.profiles;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) return [];
  return Object.entries(profiles).map(([name, description]) => ({ name, description: typeof description === 'string' ? description : '' }));
}

/**
 * Returns `name` if the CA lists it; otherwise a RangeError that lists what the CA offers.
 *
 * @example
 * ```ts
 * import { checkProfile } from "@acmets/acme-client";
 * checkProfile({ meta: { profiles: { classic: "90 days" } } }, "classic"); // "classic"
 * checkProfile({ meta: { profiles: { classic: "90 days" } } }, "tlsserver"); // throws RangeError naming "classic (90 days)"
 * ```
 */
export function checkProfile(directory: ProfilesDirectory, name: string): string {
  const profiles = listProfiles(directory);
  if (profiles.length === 0) {
    throw new RangeError(`Cannot request profile ${JSON.stringify(name)}: the CA lists no profiles in its directory (meta.profiles)`);
  }
  if (profiles.some((profile) => profile.name === name)) return name;
  const offered = profiles.map((profile) => (profile.description ? `${profile.name} (${profile.description})` : profile.name)).join(', ');
  throw new RangeError(`Unknown profile ${JSON.stringify(name)}: the CA offers ${offered}`);
}
