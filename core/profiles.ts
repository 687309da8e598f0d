// Certificate profiles (draft-ietf-acme-profiles): the names a CA lists in its directory's `meta.profiles`, and the
// check that a requested one exists, since some CAs (Pebble 2.4) silently ignore a `profile` they do not know.

export interface Profile {
  name: string;
  /** Human-readable text, or a URL to it (Let's Encrypt serves links to its documentation). */
  description: string;
}

export interface ProfilesDirectory {
  meta?: { profiles?: Record<string, unknown> };
}

/** The CA's profiles in the order it lists them, for a picker or a message. */
export function listProfiles(directory: ProfilesDirectory): Profile[] {
  const profiles = directory.meta?.profiles;
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles)) return [];
  return Object.entries(profiles).map(([name, description]) => ({ name, description: typeof description === 'string' ? description : '' }));
}

/** Returns `name` if the CA lists it; otherwise a RangeError that lists what the CA offers. */
export function checkProfile(directory: ProfilesDirectory, name: string): string {
  const profiles = listProfiles(directory);
  if (profiles.length === 0) {
    throw new RangeError(`Cannot request profile ${JSON.stringify(name)}: the CA lists no profiles in its directory (meta.profiles)`);
  }
  if (profiles.some((profile) => profile.name === name)) return name;
  const offered = profiles.map((profile) => (profile.description ? `${profile.name} (${profile.description})` : profile.name)).join(', ');
  throw new RangeError(`Unknown profile ${JSON.stringify(name)}: the CA offers ${offered}`);
}
