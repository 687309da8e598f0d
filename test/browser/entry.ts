// Runs the runtime-neutral core suite inside the page and hands the results to the Node-side driver.
import { registeredTests } from '../_harness.ts';
import '../core/index.ts';

export interface BrowserTestResult { name: string; ok: boolean; error?: string; ms: number }

async function runCoreTests(): Promise<BrowserTestResult[]> {
  const results: BrowserTestResult[] = [];
  for (const { name, fn } of registeredTests()) {
    const started = performance.now();
    try {
      await fn();
      results.push({ name, ok: true, ms: performance.now() - started });
    } catch (error) {
      const message = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
      results.push({ name, ok: false, error: message, ms: performance.now() - started });
    }
  }
  return results;
}

(globalThis as { runCoreTests?: typeof runCoreTests }).runCoreTests = runCoreTests;
