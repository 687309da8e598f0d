// Keys as openssl writes them: each supported one loads with the public key openssl derives from it, each refused
// one is refused with its message, and openssl reads our PKCS#8 back to the same key.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyType } from '../../core/engine.ts';
import { exportPkcs8Pem, importKey } from '../../core/key-pem.ts';
import { generateKey } from '../../core/keys.ts';
import { publicKeyFromSpki } from '../../core/spki.ts';

const dir = mkdtempSync(join(tmpdir(), 'keys-openssl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function openssl(args: string[], input?: string): Buffer {
  const result = spawnSync('openssl', args, { input });
  assert.equal(result.status, 0, `openssl ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

let fileCount = 0;
/** Runs an openssl command with `-out FILE` and returns the file's text. */
function opensslKey([command, ...args]: string[], input?: string): string {
  const file = join(dir, `key-${++fileCount}.pem`);
  openssl([command!, '-out', file, ...args], input);
  return readFileSync(file, 'utf8');
}

/** `sameKey` is the file openssl's canonical form of our PKCS#8 must match; by default `text` itself. */
async function assertLoads(text: string, type: KeyType, label: string, sameKey = text): Promise<void> {
  assert.ok(text.includes(`-----BEGIN ${label}-----`), `openssl wrote no "${label}" block:\n${text.slice(0, 80)}`);
  const key = await importKey(text);
  assert.equal(key.type, type);
  // The public half as openssl derives it from the same file, read through SPKI.
  const spki = openssl(['pkey', '-pubout', '-outform', 'DER'], text);
  assert.deepEqual(key.publicJwk, publicKeyFromSpki(spki));
  // And openssl reads our PKCS#8 back to the very same key (compared in its own canonical DER).
  const ours = exportPkcs8Pem(key);
  assert.deepEqual(openssl(['pkey', '-outform', 'DER'], ours), openssl(['pkey', '-outform', 'DER'], sameKey));
}

test('openssl genpkey: RSA 2048, EC P-256 and P-384 in PKCS#8 load', async () => {
  await assertLoads(opensslKey(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']), 'rsa2048', 'PRIVATE KEY');
  await assertLoads(opensslKey(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']), 'ec256', 'PRIVATE KEY');
  await assertLoads(opensslKey(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']), 'ec384', 'PRIVATE KEY');
});

test('openssl genrsa -traditional: PKCS#1 loads', async () => {
  await assertLoads(opensslKey(['genrsa', '-traditional', '2048']), 'rsa2048', 'RSA PRIVATE KEY');
});

test('openssl ecparam -genkey: SEC1 with the "EC PARAMETERS" block, with -noout, and without the public key', async () => {
  await assertLoads(opensslKey(['ecparam', '-name', 'prime256v1', '-genkey']), 'ec256', 'EC PRIVATE KEY');
  const noout = opensslKey(['ecparam', '-name', 'secp384r1', '-genkey', '-noout']);
  await assertLoads(noout, 'ec384', 'EC PRIVATE KEY');
  // RFC 5915 makes the public key optional; then it is derived from the private scalar, and our PKCS#8 has it again.
  const noPublic = opensslKey(['ec', '-no_public'], noout);
  assert.ok(noPublic.length < noout.length, 'openssl kept the public key');
  await assertLoads(noPublic, 'ec384', 'EC PRIVATE KEY', noout);
});

test('openssl keys ACME CAs refuse are refused, naming what they are', async () => {
  const use = '(use RSA 2048 to 4096 bits, or EC P-256 or P-384)';
  const ec256 = opensslKey(['ecparam', '-name', 'prime256v1', '-genkey', '-noout']);
  const dsa = opensslKey(['dsaparam', '-genkey', '1024']);
  const cases: [string, string, string][] = [
    ['-param_enc explicit', opensslKey(['ecparam', '-name', 'prime256v1', '-genkey', '-param_enc', 'explicit']), 'Unsupported key: EC with explicit curve parameters (rewrite it with "openssl ec -param_enc named_curve")'],
    ['genpkey -aes256', opensslKey(['pkey', '-aes256', '-passout', 'pass:secret'], ec256), 'Cannot import key: "ENCRYPTED PRIVATE KEY" is encrypted'],
    ['ec -aes256 (traditional)', opensslKey(['ec', '-aes256', '-passout', 'pass:secret'], ec256), 'Cannot import key: "EC PRIVATE KEY" with "Proc-Type: 4,ENCRYPTED" is encrypted'],
    ['genrsa -traditional -aes256', opensslKey(['genrsa', '-traditional', '-aes256', '-passout', 'pass:secret', '2048']), 'Cannot import key: "RSA PRIVATE KEY" with "Proc-Type: 4,ENCRYPTED" is encrypted'],
    ['Ed25519', opensslKey(['genpkey', '-algorithm', 'ED25519']), `Unsupported key: Ed25519 ${use}`],
    ['Ed448', opensslKey(['genpkey', '-algorithm', 'ED448']), `Unsupported key: Ed448 ${use}`],
    ['P-521', opensslKey(['ecparam', '-name', 'secp521r1', '-genkey', '-noout']), `Unsupported key: EC P-521 ${use}`],
    ['P-521 PKCS#8', opensslKey(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521']), `Unsupported key: EC P-521 ${use}`],
    ['secp256k1', opensslKey(['ecparam', '-name', 'secp256k1', '-genkey', '-noout']), `Unsupported key: EC secp256k1 ${use}`],
    ['DSA PKCS#8', dsa, `Unsupported key: DSA ${use}`],
    ['DSA traditional', opensslKey(['pkey', '-traditional'], dsa), `Unsupported key: DSA ${use}`],
    ['RSA 1024', opensslKey(['genrsa', '1024']), `Unsupported key: RSA 1024 bits ${use}`],
    ['RSA 1024 traditional', opensslKey(['genrsa', '-traditional', '1024']), `Unsupported key: RSA 1024 bits ${use}`],
    ['public key', opensslKey(['pkey', '-pubout'], ec256), 'Cannot import key: found a public key ("PUBLIC KEY"), expected a private key'],
  ];
  for (const [name, text, message] of cases) {
    await assert.rejects(() => importKey(text), (error: Error) => {
      assert.ok(error.message.startsWith(message), `${name}: ${error.message}`);
      assert.ok(!error.message.includes('\n'), `${name}: the message is not one line`);
      return true;
    });
  }
});

test('openssl pkey -check accepts the PKCS#8 of keys we generate', async () => {
  for (const type of ['rsa2048', 'ec256', 'ec384'] as const) {
    const file = join(dir, `ours-${type}.pem`);
    writeFileSync(file, exportPkcs8Pem(await generateKey(type)), { mode: 0o600 });
    const result = spawnSync('openssl', ['pkey', '-in', file, '-check', '-noout'], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${type}: ${result.stderr}`);
    assert.match(result.stdout + result.stderr, /Key is valid/);
  }
});
