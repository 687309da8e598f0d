// Starts test/_fault-proxy.ts as a separate process in front of a test Pebble, opens lanes with fault plans on it,
// reads their stats, and stops it by PID; runs the CLI through a lane. Node-only helper of the tests and the bench.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Pebble } from './_pebble.ts';
import type { FaultPlan, LaneStats } from './_fault-plan.ts';
import { runCli, type CliResult, type Runtime } from './node/_cli.ts';

export * from './_fault-plan.ts';

const PROXY = fileURLToPath(new URL('./_fault-proxy.ts', import.meta.url));

export interface Lane {
  /** Pebble's directory, reached through this lane. */
  directoryUrl: string;
  stats(): Promise<LaneStats>;
}

export interface FaultProxy {
  lane(plan: FaultPlan): Promise<Lane>;
  stop(): Promise<void>;
}

/**
 * One request to the proxy's control port on a connection of its own: a kept-alive one could be closed by the server
 * just as it is reused, which a loaded machine made happen.
 */
function ask(url: string, body?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: body === undefined ? 'GET' : 'POST', agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`fault proxy: ${text.trim()}`))));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

export async function startFaultProxy(pebble: Pebble): Promise<FaultProxy> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', PROXY, pebble.directoryUrl, pebble.tlsCaFile, join(pebble.dir, 'tls-key.pem')],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const control = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve(`http://127.0.0.1:${(JSON.parse(line) as { control: number }).control}`));
    child.once('exit', (code) => reject(new Error(`the fault proxy exited with ${code} before it was ready`)));
  });
  const path = new URL(pebble.directoryUrl).pathname;
  return {
    async lane(plan) {
      const { port } = (await ask(`${control}/lanes`, JSON.stringify(plan))) as { port: number };
      return {
        directoryUrl: `https://127.0.0.1:${port}${path}`,
        stats: async () => (await ask(`${control}/lanes/${port}`)) as LaneStats,
      };
    },
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      process.kill(child.pid!, 'SIGTERM');
    }),
  };
}

export interface LaneRun {
  result: CliResult;
  stats: LaneStats;
  /** The run's certificate directory. */
  certs: string;
}

/** Where one run keeps its files, and what it asks for. */
export interface RunSetup {
  runtime?: Runtime;
  caFile: string;
  /** The webroot (-C) that answers http-01. */
  www: string;
  dir: string;
  names: string[];
}

/** One issuance of `names` with new EC keys in `dir`, over http-01 through the webroot. */
export async function issueAt(directoryUrl: string, setup: RunSetup): Promise<{ result: CliResult; certs: string }> {
  const certs = join(setup.dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const result = await runCli(['--directory', directoryUrl, '-nN', '--key-type', 'ec256', '-C', setup.www, '-c', certs,
    '-f', join(setup.dir, 'account.pem'), '-k', join(setup.dir, 'domain.pem'), ...setup.names], { runtime: setup.runtime ?? 'node', caFile: setup.caFile });
  return { result, certs };
}

/** The same through a lane with `plan`, with the lane's stats. */
export async function issueThroughLane(proxy: FaultProxy, plan: FaultPlan, setup: RunSetup): Promise<LaneRun> {
  const lane = await proxy.lane(plan);
  return { ...(await issueAt(lane.directoryUrl, setup)), stats: await lane.stats() };
}

/** Runs `count` jobs, at most `limit` at a time, and returns their results in order. */
export async function inParallel<T>(count: number, limit: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) {
      const index = next++;
      results[index] = await job(index);
    }
  }));
  return results;
}

/** The campaign of issue 10: `runs` seeded runs with `rate` of requests faulted, beside as many fault-free ones. */
export async function faultCampaign(proxy: FaultProxy, options: { runs: number; rate: number; parallel: number; run: (index: number) => RunSetup }) {
  const all = await inParallel(2 * options.runs, options.parallel, (i) =>
    issueThroughLane(proxy, i % 2 ? {} : { random: { rate: options.rate, seed: i / 2 + 1 } }, options.run(i)));
  const faulted = all.filter((_, i) => i % 2 === 0);
  const clean = all.filter((_, i) => i % 2 === 1);
  const requests = (runs: LaneRun[]) => runs.reduce((sum, run) => sum + run.stats.requests, 0);
  return {
    faulted,
    clean,
    succeeded: faulted.filter((run) => run.result.code === 0).length,
    faultedRequests: requests(faulted),
    cleanRequests: requests(clean),
    faults: faulted.reduce((sum, run) => sum + run.stats.faults.length, 0),
  };
}
