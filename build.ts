// Builds the library, the Node CLI and the web page into dist/ with esbuild, keeps the exports of
// package.json and deno.json in step, refuses Node leaks into web-standard bundles, and checks size budgets.
// Run: `npx tsx build.ts` (or `npm run build`); `npx tsx build.ts --web` builds the page alone.

import * as esbuild from 'esbuild';
import { chmodSync, readFileSync, writeFileSync, rmSync, mkdirSync, cpSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';

/** Public library entry points: package.json serves the built ESM, deno.json the TypeScript source. */
const LIBRARY_ENTRIES: { subpath: string; source: string; platform: 'neutral' | 'node' }[] = [
  { subpath: '.', source: 'core/mod.ts', platform: 'neutral' },
  { subpath: './node', source: 'adapters/node.ts', platform: 'node' },
];
const DENO_ONLY_ENTRIES: Record<string, string> = { './deno': './adapters/deno.ts' };
/** dist/lib/NAME.js for a subpath: "." is mod, "./node" is node. */
const outputName = (subpath: string) => (subpath === '.' ? 'mod' : subpath.slice(2));

const WEB_INITIAL_JS_BUDGET_GZIP = 40 * 1024;

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
// Names whose appearance in a web-standard bundle means Node-only code slipped in.
const NODE_GLOBALS = /\b(?:Buffer\.(?:from|alloc|concat|isBuffer)|process\.(?:env|argv|exit|platform|versions)|require\(["']node:|__dirname|__filename)\b/;

interface SizeRow { bundle: string; bytes: number; gzip: number; budget?: number }
const sizes: SizeRow[] = [];

function fail(message: string): never {
  console.error(`build: ${message}`);
  process.exit(1);
}

// Sources that must run unchanged in Node, Deno and browsers; doc comments count, since their examples are copied.
const RUNTIME_NEUTRAL_SOURCES = ['core', 'web', 'adapters/browser.ts', 'adapters/browser-caa.ts'];
const NODE_ONLY_WEB_SOURCES = new Set(['web/serve.ts']);
const RUNTIME_SPECIFIC = /\bDeno\.\w+|\bprocess\.\w+|\bBuffer\.\w+|from ["']node:|require\(/;

function checkSourcesRuntimeNeutral(): void {
  const files = RUNTIME_NEUTRAL_SOURCES.flatMap((path) =>
    path.endsWith('.ts') ? [path] : readdirSync(path).filter((name) => name.endsWith('.ts')).map((name) => join(path, name)));
  for (const file of files.filter((file) => !NODE_ONLY_WEB_SOURCES.has(file))) {
    readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
      const match = RUNTIME_SPECIFIC.exec(line);
      if (match) fail(`${file}:${index + 1} uses the runtime-specific "${match[0]}" in code that must run everywhere`);
    });
  }
}

function checkNoNodeLeaks(label: string, metafile: esbuild.Metafile): void {
  for (const [outputPath, output] of Object.entries(metafile.outputs)) {
    for (const imported of output.imports) {
      if (NODE_BUILTINS.has(imported.path)) fail(`${label}: ${outputPath} imports Node built-in "${imported.path}"`);
    }
    if (outputPath.endsWith('.js')) {
      const match = NODE_GLOBALS.exec(readFileSync(outputPath, 'utf8'));
      if (match) fail(`${label}: ${outputPath} uses the Node global "${match[0]}"`);
    }
  }
}

function recordSize(bundle: string, files: string[], budget?: number): void {
  const contents = files.map((file) => readFileSync(file));
  const bytes = contents.reduce((sum, buffer) => sum + buffer.length, 0);
  const gzip = contents.reduce((sum, buffer) => sum + gzipSync(buffer, { level: 9 }).length, 0);
  sizes.push({ bundle, bytes, gzip, budget });
}

/** The chunks a page loads before any dynamic import: the entry and its static imports, transitively. */
function initialChunks(metafile: esbuild.Metafile, entryOutput: string): string[] {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imported of metafile.outputs[path]?.imports ?? []) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entryOutput);
  return [...seen];
}

function syncExports(): void {
  const packageJson = JSON.parse(readFileSync('package.json', 'utf8'));
  const denoText = readFileSync('deno.json', 'utf8');
  const denoJson = JSON.parse(denoText);
  const packageExports: Record<string, { types?: string; import: string }> = {};
  const denoExports: Record<string, string> = {};
  for (const entry of LIBRARY_ENTRIES) {
    packageExports[entry.subpath] = { import: `./dist/lib/${outputName(entry.subpath)}.js` };
    denoExports[entry.subpath] = `./${entry.source}`;
  }
  Object.assign(denoExports, DENO_ONLY_ENTRIES);
  denoJson.version = packageJson.version;
  denoJson.license = packageJson.license; // JSR refuses a package without one
  const changed: string[] = [];
  if (JSON.stringify(packageJson.exports) !== JSON.stringify(packageExports)) {
    packageJson.exports = packageExports;
    writeFileSync('package.json', JSON.stringify(packageJson, null, 2) + '\n');
    changed.push('package.json');
  }
  denoJson.exports = denoExports;
  if (JSON.stringify(denoJson, null, 2) + '\n' !== denoText) {
    writeFileSync('deno.json', JSON.stringify(denoJson, null, 2) + '\n');
    changed.push('deno.json');
  }
  if (changed.length) console.log(`build: updated exports, version or license in ${changed.join(' and ')}`);
}

async function buildLibrary(): Promise<void> {
  for (const entry of LIBRARY_ENTRIES) {
    const result = await esbuild.build({
      entryPoints: { [outputName(entry.subpath)]: entry.source },
      outdir: 'dist/lib',
      bundle: true,
      format: 'esm',
      platform: entry.platform,
      target: 'es2022',
      packages: 'external',
      splitting: true,
      metafile: true,
      logLevel: 'warning',
    });
    if (entry.platform === 'neutral') checkNoNodeLeaks(`library ${entry.subpath}`, result.metafile);
    recordSize(`lib ${entry.subpath}`, Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js')));
  }
}

/**
 * What the CLI loads only once a certificate has to change, by dynamic import from the entry: one CommonJS file,
 * dist/cli/lazy.cjs, each module an export of it by its name here (what only some runs load is apart, below).
 */
const CLI_LAZY_MODULES: Record<string, string> = {
  'run-separated': 'cli/run-separated.ts',
  'renew-many': 'cli/renew-many.ts',
  'cert-set': 'cli/cert-set.ts',
  node: 'adapters/node.ts',
};
const LAZY_OUTPUT = 'lazy.cjs';

/**
 * The lazy modules that only some runs load, each one CommonJS file of its own beside lazy.cjs: the renewal-window
 * question, RFC 2136 updates, and a tls-alpn-01 server in this process, which a Node parent never runs (its network
 * process serves the port). They hold the X.509 and DNS message code, which lazy.cjs would otherwise make every
 * issuance's parent compile, while the key and network processes start beside it (lazy.cjs went from 195 KB to
 * 60 KB). A module that one of them shares with lazy.cjs is in both, which is safe for the reason the entry's are.
 */
const CLI_LAZY_APART: Record<string, string> = {
  'ari-query': 'cli/ari-query.ts',
  'node-dns-update': 'adapters/node-dns-update.ts',
  'node-tls-alpn': 'adapters/node-tls-alpn.ts',
};

/**
 * What starts the key and network processes, which the entry loads from one small file of its own
 * (dist/cli/children.cjs), before the rest: their start-up is on the path of every issuance (measured: the first
 * spawn 25 ms into this process's code, against 70 ms when it came after the ES module loader's first use).
 */
const CLI_CHILD_STARTERS = ['cli/children.ts', 'cli/node-children.ts'];
const CHILD_STARTERS_OUTPUT = 'children.cjs';

/**
 * The entries of the key and network processes (cli/privsep.ts), each one CommonJS file with its code, in
 * dist/cli/child, which a child may read whole (cli/node-children.ts): a child's start is on the path of every
 * issuance, and as one role-sized file it skips the ES module loader and the modules only the other role uses
 * (measured: 150 ms to start as one file for both roles against 175 ms as ES modules).
 */
const CLI_CHILD_ENTRIES: Record<string, string> = {
  'key-child': 'cli/node-key-child.ts',
  'net-child': 'cli/node-net-child.ts',
};
const CLI_CHILD_FOLDER = 'child';

/**
 * The crypto engines core loads only without WebCrypto (core/engine.ts), which Node never lacks: each is a file of
 * its own beside the children's entries, required only when used (a SEC1 key without its public point needs noble's
 * curve arithmetic, core/key-pem.ts). Inside the children's files they were 40% of the code V8 compiles at every start.
 */
const CLI_ENGINES_APART: Record<string, string> = {
  'engine-noble': 'core/engine-noble.ts',
  'engine-node-rsa': 'core/engine-node-rsa.ts',
};

/** A file apart from a bundle, relative to the bundle's folder, and the export of it that a module stands for. */
interface ApartFile { file: string; member?: string }
const REQUIRED_APART = 'required-apart';

/**
 * In a CommonJS bundle, turns the dynamic imports of `apart` (by a source's absolute path) and of Node's built-ins into
 * require(): import() would start Node's ES module loader, whose first use alone costs a process ~10 ms, and which
 * then reads, compiles and links each module on its own (measured: the parent's modules of an issuance took 58 ms of
 * CPU to load as ES modules, 20 ms from one CommonJS file). Any other dynamic import is esbuild's to bundle.
 */
function requireApart(apart: Map<string, ApartFile>): esbuild.Plugin {
  return {
    name: 'require-apart',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        // The module that stands for a file apart, whose require() stays as it is.
        if (args.namespace === REQUIRED_APART) return { path: args.path, external: true };
        if (args.kind !== 'dynamic-import') return undefined;
        if (NODE_BUILTINS.has(args.path)) return { path: args.path, namespace: REQUIRED_APART };
        if (!args.path.startsWith('.')) return undefined;
        const target = apart.get(resolve(args.resolveDir, args.path));
        if (!target) return undefined;
        return { path: `./${target.file}${target.member === undefined ? '' : `#${target.member}`}`, namespace: REQUIRED_APART };
      });
      build.onLoad({ filter: /.*/, namespace: REQUIRED_APART }, (args) => {
        const [file, member] = args.path.split('#');
        return { contents: `module.exports = require(${JSON.stringify(file)})${member === undefined ? '' : `[${JSON.stringify(member)}]`};`, loader: 'js' };
      });
    },
  };
}

/** A bundle of all `sources`' exports. */
function exportsOf(sources: string[], sourcefile: string): esbuild.StdinOptions {
  return { contents: sources.map((source) => `export * from './${source}';`).join('\n'), resolveDir: '.', sourcefile, loader: 'ts' };
}

/**
 * A bundle whose export NAME is the module that `modules` names so, each one run the first time it is asked for: the
 * lazy modules that a run does not use cost it their compilation alone.
 */
function modulesOf(modules: Record<string, string>, sourcefile: string): esbuild.StdinOptions {
  const getter = ([name, source]: [string, string]) =>
    `Object.defineProperty(exports, ${JSON.stringify(name)}, { enumerable: true, get: () => require('./${source}') });`;
  return { contents: Object.entries(modules).map(getter).join('\n'), resolveDir: '.', sourcefile, loader: 'js' };
}

async function buildCli(): Promise<void> {
  // The daily cron run must start fast, so the entry is one CommonJS file holding the whole cron path: esbuild's
  // shared chunks had split it into seven ES modules, and Node's ES module loader alone costs several milliseconds
  // (measured: +25 ms over `node -e 0` as seven ES modules, +19 ms as one, +9 ms as one CommonJS file).
  // The rest is loaded by require() from files beside it: the child starters first, then the lazy modules. The few
  // small modules that the entry and those files both use are then present twice, which is safe because they keep no
  // state and the entry tests no class but Error.
  const starters: [string, ApartFile][] = CLI_CHILD_STARTERS.map((source) => [resolve(source), { file: CHILD_STARTERS_OUTPUT }]);
  const lazyModules: [string, ApartFile][] = Object.entries(CLI_LAZY_MODULES).map(([name, source]) => [resolve(source), { file: LAZY_OUTPUT, member: name }]);
  const lazyApart: [string, ApartFile][] = Object.entries(CLI_LAZY_APART).map(([name, source]) => [resolve(source), { file: `${name}.cjs` }]);
  const engines = (folder: string): [string, ApartFile][] =>
    Object.entries(CLI_ENGINES_APART).map(([name, source]) => [resolve(source), { file: join(folder, `${name}.cjs`) }]);
  const oneFile = {
    bundle: true, format: 'cjs', platform: 'node', target: 'node20', minify: true, metafile: true, logLevel: 'warning',
  } as const;
  const entry = await esbuild.build({
    ...oneFile,
    entryPoints: { 'acme-client': 'cli/main.ts' },
    outdir: 'dist/cli',
    outExtension: { '.js': '.cjs' },
    banner: { js: '#!/usr/bin/env node' },
    // What the entry imports lazily must stay out of it: the cron path compiles the whole entry.
    plugins: [requireApart(new Map([...starters, ...lazyModules, ...lazyApart])), {
      name: 'nothing-else-lazy',
      setup(build) {
        build.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import'
          ? { errors: [{ text: `${args.path} is imported lazily but is not in CLI_LAZY_MODULES, CLI_LAZY_APART or CLI_CHILD_STARTERS` }] }
          : undefined));
      },
    }],
  });
  const childStarters = await esbuild.build({
    ...oneFile, stdin: exportsOf(CLI_CHILD_STARTERS, 'child-starters.ts'), outfile: join('dist/cli', CHILD_STARTERS_OUTPUT),
  });
  const lazy = await esbuild.build({
    ...oneFile,
    stdin: modulesOf(CLI_LAZY_MODULES, 'lazy.js'),
    outfile: join('dist/cli', LAZY_OUTPUT),
    plugins: [requireApart(new Map([...starters, ...lazyApart, ...engines(CLI_CHILD_FOLDER)]))],
  });
  const apart = await esbuild.build({
    ...oneFile,
    entryPoints: CLI_LAZY_APART,
    outdir: 'dist/cli',
    outExtension: { '.js': '.cjs' },
    plugins: [requireApart(new Map([...starters, ...engines(CLI_CHILD_FOLDER)]))],
  });
  const children = await esbuild.build({
    ...oneFile,
    entryPoints: { ...CLI_CHILD_ENTRIES, ...CLI_ENGINES_APART },
    outdir: join('dist/cli', CLI_CHILD_FOLDER),
    outExtension: { '.js': '.cjs' },
    plugins: [requireApart(new Map(engines('.')))],
  });
  const outputs = (metafile: esbuild.Metafile) => Object.keys(metafile.outputs).filter((file) => /\.c?js$/.test(file));
  recordSize('cli (cron path)', outputs(entry.metafile));
  recordSize('cli (all)', [entry, childStarters, lazy, apart, children].flatMap(({ metafile }) => outputs(metafile)));
}

async function buildWeb(): Promise<void> {
  const result = await esbuild.build({
    entryPoints: { app: 'web/app.ts' },
    outdir: 'dist/web',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    minify: true,
    metafile: true,
    logLevel: 'warning',
  });
  checkNoNodeLeaks('web', result.metafile);
  for (const asset of ['index.html', 'style.css']) cpSync(join('web', asset), join('dist/web', asset));
  recordSize('web (initial)', initialChunks(result.metafile, 'dist/web/app.js'), WEB_INITIAL_JS_BUDGET_GZIP);
  recordSize('web (all)', Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.js')));
}

function printSizes(): void {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log('| bundle | minified | gzip | budget (gzip) |');
  console.log('|---|---|---|---|');
  for (const row of sizes) console.log(`| ${row.bundle} | ${kib(row.bytes)} | ${kib(row.gzip)} | ${row.budget ? kib(row.budget) : '-'} |`);
  for (const row of sizes) {
    if (row.budget !== undefined && row.gzip > row.budget) fail(`${row.bundle} is ${kib(row.gzip)} gzip, over its budget of ${kib(row.budget)}`);
  }
}

// `--web` rebuilds dist/web alone (the page tests use it), leaving the CLI that other tests may be running in place.
if (process.argv.includes('--web')) {
  rmSync('dist/web', { recursive: true, force: true });
  await buildWeb();
} else {
  checkSourcesRuntimeNeutral();
  rmSync('dist', { recursive: true, force: true });
  mkdirSync('dist', { recursive: true });
  syncExports();
  await buildLibrary();
  await buildCli();
  await buildWeb();
  cpSync('cli/acme-client.1', 'dist/cli/acme-client.1');
  chmodSync('dist/cli/acme-client.cjs', 0o755);
}
printSizes();
