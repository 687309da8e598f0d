// The Pebble fixture itself: it starts, serves a directory over TLS we trust, and stops by PID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPebble } from '../_pebble.ts';

test('pebble starts on free ports, serves its directory, and stops', async () => {
  const pebble = await startPebble();
  try {
    const directory = (await (await pebble.fetch(pebble.directoryUrl)).json()) as Record<string, string>;
    assert.match(directory.newNonce!, /^https:\/\/127\.0\.0\.1:\d+\//);
    assert.match(await pebble.rootPem(), /-----BEGIN CERTIFICATE-----/);
    await pebble.setTxt('_acme-challenge.example.com', 'value');
    await pebble.clearTxt('_acme-challenge.example.com');
  } finally {
    await pebble.stop();
  }
  await assert.rejects(pebble.fetch(pebble.directoryUrl));
});
