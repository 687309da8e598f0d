// Certificate profiles: the directory's list, and the refusal of a name the CA does not offer.
import { assertEquals, assertThrows, test } from '../_harness.ts';
import { checkProfile, listProfiles } from '../../core/profiles.ts';

const LETS_ENCRYPT = {
  meta: {
    profiles: {
      classic: 'https://letsencrypt.org/docs/profiles#classic',
      tlsserver: 'https://letsencrypt.org/docs/profiles#tlsserver',
      shortlived: 'https://letsencrypt.org/docs/profiles#shortlived',
    },
  },
};

test('profiles: listed in the CA\'s order with their descriptions', () => {
  assertEquals(listProfiles(LETS_ENCRYPT).map((profile) => profile.name), ['classic', 'tlsserver', 'shortlived']);
  assertEquals(listProfiles({ meta: { profiles: { a: 'first', b: 7 } } }), [{ name: 'a', description: 'first' }, { name: 'b', description: '' }]);
  assertEquals(listProfiles({}), []);
  assertEquals(listProfiles({ meta: { profiles: ['classic'] as unknown as Record<string, string> } }), []);
});

test('profiles: a listed name passes', () => {
  assertEquals(checkProfile(LETS_ENCRYPT, 'shortlived'), 'shortlived');
});

test('profiles: an unknown name lists every profile with its description', () => {
  assertThrows(() => checkProfile(LETS_ENCRYPT, 'short-lived'), RangeError,
    'Unknown profile "short-lived": the CA offers classic (https://letsencrypt.org/docs/profiles#classic), '
    + 'tlsserver (https://letsencrypt.org/docs/profiles#tlsserver), shortlived (https://letsencrypt.org/docs/profiles#shortlived)');
  assertThrows(() => checkProfile({ meta: { profiles: { default: '' } } }, 'Default'), RangeError, 'Unknown profile "Default": the CA offers default');
});

test('profiles: a CA without profiles says so', () => {
  const message = 'Cannot request profile "tlsserver": the CA lists no profiles in its directory (meta.profiles)';
  assertThrows(() => checkProfile({ meta: {} }, 'tlsserver'), RangeError, message);
  assertThrows(() => checkProfile({ meta: { profiles: {} } }, 'tlsserver'), RangeError, message);
});
