// `npm run demo`: issue a real certificate with the built acme-client from a local Pebble (Let's Encrypt's test
// CA) that this script starts on free loopback ports, show where the files went, run it again as cron would
// (exit 2: nothing due), and stop Pebble. Files land in a new temporary folder, or in the folder given:
//   npx tsx examples/pebble-demo.ts [OUT_DIR]

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPebble } from '../test/_pebble.ts';

const cli = fileURLToPath(new URL('../dist/cli/acme-client.cjs', import.meta.url));
if (!existsSync(cli)) {
  console.error(`pebble-demo: ${cli} is missing; run "npm run build" first`);
  process.exit(1);
}
const out = process.argv[2] ? resolve(process.argv[2]) : mkdtempSync(join(tmpdir(), 'acme-client-demo-'));
const certDir = join(out, 'certs');
mkdirSync(certDir, { recursive: true });

function acmeClient(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  console.log(`\n$ acme-client ${args.join(' ')}`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: 'inherit' });
    child.on('error', fail);
    child.on('exit', (code) => done(code ?? 1));
  });
}

const pebble = await startPebble();
try {
  // Pebble's TLS certificate is a throwaway one: trusted for this child only, as NODE_EXTRA_CA_CERTS does.
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: pebble.tlsCaFile };
  const args = [
    '--directory', pebble.directoryUrl,
    '-c', certDir, '-f', join(out, 'account.pem'), '-k', join(out, 'privkey.pem'),
    // Pebble's validation connects to this port; challtestsrv resolves every name to 127.0.0.1.
    '--standalone', `127.0.0.1:${pebble.httpPort}`,
    'example.test', 'www.example.test', 'mail.example.test',
  ];
  console.log(`Pebble is serving ${pebble.directoryUrl}`);
  const issued = await acmeClient(['-v', '-nN', '--key-type', 'ec256', ...args], env);
  console.log(`exit status ${issued} (0: a certificate was issued)`);
  if (issued !== 0) process.exitCode = 1;
  else {
    console.log(`\nThe files (modes as acme-client(1) writes them):`);
    for (const file of [join(out, 'account.pem'), join(out, 'privkey.pem'), ...readdirSync(certDir).map((name) => join(certDir, name))]) {
      console.log(`  ${(statSync(file).mode & 0o777).toString(8)}  ${file}`);
    }
    const again = await acmeClient(['-v', ...args], env);
    console.log(`exit status ${again} (2: not due yet, decided without contacting the CA)`);
  }
} finally {
  await pebble.stop();
  console.log('\nPebble stopped.');
}
