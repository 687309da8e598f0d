// Runs the runtime-neutral core suite under `deno test`.
import { registeredTests } from '../_harness.ts';
import '../core/index.ts';

for (const { name, fn } of registeredTests()) Deno.test(`[deno] ${name}`, fn);
