// The key process's entry under Node (bundled to dist/cli/key-child.cjs; cli/node-children.ts starts it under the
// permission model): `key-child.cjs CONFIG`.

import { makeDirectories, writeFileAtomic, writeNewFile } from '../adapters/node.ts';
import { readTextFileIfExists } from './_node-read.ts';
import { exitWhenDone, nodeChildChannel } from './_node-child.ts';
import { runKeyProcess } from './key-process.ts';

exitWhenDone(runKeyProcess({ ...nodeChildChannel, readTextFile: readTextFileIfExists, writeFileAtomic, writeNewFile, makeDirectories }));
