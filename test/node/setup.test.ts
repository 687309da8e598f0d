// README's first command on a fresh machine: scripts/setup installs the missing Debian packages with apt-get as
// root and through sudo otherwise, run here with stand-ins for id, sudo, apt-get and npm on PATH that record
// their calls (what is checked is the script's choice, not Debian); and .ci/run runs README's two commands as written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './_cli.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SETUP = join(ROOT, 'scripts', 'setup');

interface Machine {
  /** What `id -u` prints. */
  uid: number;
  sudo: boolean;
  /** Commands already installed, found on PATH. */
  installed?: string[];
}

/** scripts/setup with only stand-ins on PATH; returns its exit status, stderr and the calls they recorded, one per line. */
function runSetup(machine: Machine): { code: number; stderr: string; calls: string[] } {
  const bin = tempDir('acme-setup-');
  const log = join(bin.dir, 'calls.log');
  const standIn = (name: string, body: string) => {
    writeFileSync(join(bin.dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin.dir, name), 0o755);
  };
  try {
    const record = (name: string) => `echo "${name} $*" >> "${log}"`;
    standIn('id', `[ "$1" = -u ] && echo ${machine.uid}`);
    standIn('apt-get', record('apt-get'));
    standIn('npm', record('npm'));
    if (machine.sudo) standIn('sudo', `${record('sudo')}\nexec "$@"`);
    for (const name of machine.installed ?? []) standIn(name, 'exit 0');
    const result = spawnSync('/bin/bash', [SETUP], { env: { PATH: bin.dir }, encoding: 'utf8' });
    return { code: result.status ?? -1, stderr: result.stderr, calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
  } finally {
    bin.remove();
  }
}

const MISSING = 'pebble chromium openssl bind9 bind9-dnsutils';

test('setup: as root it runs apt-get itself (no sudo needed), then npm ci', () => {
  const { code, calls } = runSetup({ uid: 0, sudo: false });
  assert.equal(code, 0);
  assert.deepEqual(calls, ['apt-get update -qq', `apt-get install -y -qq ${MISSING}`, 'npm ci --no-audit --no-fund']);
});

test('setup: as a user it runs apt-get through sudo, and npm ci as the user', () => {
  const { code, calls } = runSetup({ uid: 1000, sudo: true });
  assert.equal(code, 0);
  assert.deepEqual(calls, [
    'sudo apt-get update -qq', 'apt-get update -qq',
    `sudo apt-get install -y -qq ${MISSING}`, `apt-get install -y -qq ${MISSING}`,
    'npm ci --no-audit --no-fund',
  ]);
});

test('setup: a user without sudo gets one line naming the packages and the command to run as root, and nothing runs', () => {
  const { code, stderr, calls } = runSetup({ uid: 1000, sudo: false });
  assert.equal(code, 1);
  assert.equal(stderr, `scripts/setup: the Debian packages ${MISSING} are missing, and without root or sudo they cannot be installed: as root, run apt-get install -y ${MISSING}\n`);
  assert.deepEqual(calls, []);
});

test('setup: with the packages there it needs neither root nor apt-get, only npm ci; one missing is the only one installed', () => {
  const all = ['pebble', 'pebble-challtestsrv', 'chromium', 'openssl', 'named', 'dig'];
  assert.deepEqual(runSetup({ uid: 1000, sudo: false, installed: all }).calls, ['npm ci --no-audit --no-fund']);
  assert.deepEqual(runSetup({ uid: 0, sudo: false, installed: all.filter((name) => name !== 'pebble-challtestsrv') }).calls,
    ['apt-get update -qq', 'apt-get install -y -qq pebble', 'npm ci --no-audit --no-fund']);
});

test('setup: .ci/run runs README\'s first command and its test command, each as its own line, as written', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const [setupLine, testLine] = /^```sh\n(.*)\n(.*)\n```$/m.exec(readme)!.slice(1);
  assert.equal(setupLine, 'scripts/setup && npm run demo');
  assert.equal(testLine, 'npm test');
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').split('\n');
  assert.ok(ci.includes(setupLine!), `.ci/run lacks the line ${setupLine}`);
  assert.ok(ci.includes(testLine!), `.ci/run lacks the line ${testLine}`);
  assert.ok(ci.indexOf(setupLine!) < ci.indexOf(testLine!));
});
