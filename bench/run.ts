// `npm run bench`: every benchmark in turn, each in its own process so one's memory does not skew another's.
import { spawnSync } from 'node:child_process';

const BENCHES = [
  ['crypto engines (keygen and sign, this runtime)', 'bench/crypto.ts', '--quick'],
  ['issuance and the daily cron run, against npm acme-client', 'bench/issuance.ts'],
  ['a faulty CA: 20 runs with 10 % of requests faulted, and half of all nonces rejected', 'bench/faults.ts'],
];

let failed = false;
for (const [title, file, ...args] of BENCHES) {
  console.log(`\n## ${title}\n`);
  const { status } = spawnSync(process.execPath, ['--import', 'tsx', file!, ...args], { stdio: 'inherit' });
  if (status !== 0) {
    console.error(`${file} failed (exit ${status})`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
