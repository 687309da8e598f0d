// Runs the runtime-neutral core suite under node:test.
import { test } from 'node:test';
import { registeredTests } from '../_harness.ts';
import '../core/index.ts';

for (const { name, fn } of registeredTests()) test(`[node] ${name}`, fn);
