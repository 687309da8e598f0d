// The whole suite, as README and CI run it: build, type checks, then the tests in Node (unit, CLI and page
// end-to-end against Pebble, the core suite in headless Chromium) and in Deno. Prints the count per runtime.
// Usage: npm test [-- FILE...]   (files under test/node or test/deno narrow the run)

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

interface StepResult { passed: number; failed: number }

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const forward = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

const { FORCE_COLOR: _forceColor, ...inheritedEnv } = process.env;
// Deno reads any FORCE_COLOR, even "0", as a request for colour.
const NO_COLOR = { ...inheritedEnv, NO_COLOR: '1' };
const requested = process.argv.slice(2);
const pick = (dir: string) =>
  requested.length
    ? requested.filter((file) => file.startsWith(dir))
    : readdirSync(dir).filter((file) => file.endsWith('.test.ts')).sort().map((file) => join(dir, file));

async function step(title: string, command: string, args: string[]): Promise<void> {
  console.log(`\n== ${title}`);
  const { code } = await run(command, args);
  if (code !== 0) {
    console.error(`\n${title} failed (exit ${code})`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

async function nodeTests(files: string[]): Promise<Record<string, StepResult>> {
  console.log(`\n== node --test (${files.length} files)`);
  const { code, output } = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=3',
    '--test-timeout=600000', ...files], NO_COLOR);
  // Tests named "[chromium] …" (the core suite in a browser) and "[deno] …" (the CLI run in Deno) count there.
  const counts: Record<string, StepResult> = { node: { passed: 0, failed: 0 }, chromium: { passed: 0, failed: 0 }, deno: { passed: 0, failed: 0 } };
  const suites = new Set<string>();
  for (const line of output.split('\n')) {
    if (/^\s*✖ failing tests:/.test(line)) break; // the spec reporter's closing list repeats the failures
    // A suite opens with "▶ NAME" and closes with "✔ NAME (…ms)"; only its tests count.
    const suite = /^(\s*)▶ (.*)$/.exec(line);
    if (suite) suites.add(`${suite[1]}${suite[2]}`);
    const match = /^(\s*)([✔✖]) ((?:\[(chromium|deno)\] )?.*?)(?: \([\d.]+m?s\))?$/.exec(line);
    if (!match || !match[4] || suites.has(`${match[1]}${match[3]}`)) continue;
    const bucket = counts[match[4]]!;
    if (match[2] === '✔') bucket.passed++;
    else bucket.failed++;
  }
  // The summary counts are authoritative; the node bucket is what the others leave.
  const pass = Number(/ℹ pass (\d+)/.exec(output)?.[1] ?? 0);
  const fail = Number(/ℹ fail (\d+)/.exec(output)?.[1] ?? 0);
  counts.node = {
    passed: pass - counts.chromium!.passed - counts.deno!.passed,
    failed: Math.max(0, fail - counts.chromium!.failed - counts.deno!.failed),
  };
  if (code !== 0 && fail === 0) counts.node.failed = 1;
  return counts;
}

async function denoTests(files: string[]): Promise<StepResult> {
  console.log(`\n== deno test (${files.length} files)`);
  const { code, output } = await run('node_modules/.bin/deno', ['test', '--no-prompt', '--allow-read', '--allow-write', '--allow-env', '--allow-run',
    '--allow-net=127.0.0.1,localhost', ...files], NO_COLOR);
  const summary = /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(output);
  const result = { passed: Number(summary?.[1] ?? 0), failed: Number(summary?.[2] ?? 0) };
  if (code !== 0 && result.failed === 0) result.failed = 1;
  return result;
}

const started = Date.now();
if (requested.length === 0) {
  await step('build', process.execPath, ['--import', 'tsx', 'build.ts']);
  await step('type check (Node side)', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']);
  await step('type check (core and web, no Node types)', process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.core.json', '--noEmit']);
  // `deno run` does not type-check, and the Deno tests import neither the CLI's Deno entry nor the example; --doc
  // also checks the @example blocks of the library's documentation.
  const documented = ['adapters/deno.ts', 'adapters/_shared.ts', 'adapters/deno-tls-alpn.ts', 'adapters/_lock.ts',
    ...readdirSync('core').filter((file) => file.endsWith('.ts')).map((file) => `core/${file}`)];
  await step('type check (Deno: CLI entry, example, documentation examples)', 'node_modules/.bin/deno',
    ['check', '--quiet', '--doc', 'cli/deno.ts', 'cli/deno-child.ts', 'cli/deno-children.ts', 'examples/deno-issue.ts', ...documented]);
  await step('deno doc --lint (every public export documented)', 'node_modules/.bin/deno', ['doc', '--quiet', '--lint', 'core/mod.ts', 'adapters/deno.ts']);
}
const results: Record<string, StepResult> = {};
const nodeFiles = pick('test/node');
if (nodeFiles.length) Object.assign(results, await nodeTests(nodeFiles));
const denoFiles = pick('test/deno');
if (denoFiles.length) {
  const deno = await denoTests(denoFiles);
  results.deno = { passed: (results.deno?.passed ?? 0) + deno.passed, failed: (results.deno?.failed ?? 0) + deno.failed };
}

console.log('\n| runtime | passed | failed |\n|---|---|---|');
for (const [runtime, { passed, failed }] of Object.entries(results)) console.log(`| ${runtime} | ${passed} | ${failed} |`);
const passed = Object.values(results).reduce((sum, r) => sum + r.passed, 0);
const failed = Object.values(results).reduce((sum, r) => sum + r.failed, 0);
console.log(`\n(${((Date.now() - started) / 1000).toFixed(0)} s)`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
