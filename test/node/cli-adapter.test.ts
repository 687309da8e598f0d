// adapters/node.ts on its own: atomic writes and modes, the fetch over node:http, and the three challenge responders.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, get, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  callerResponder, createNodeFetch, readTextFileIfExists, removeFileIfExists, startStandaloneResponder, webrootResponder, writeFileAtomic,
} from '../../adapters/node.ts';
import type { ChallengeTask } from '../../core/resources.ts';
import { Transport } from '../../core/http.ts';
import { freePort } from '../_pebble.ts';
import { tempDir } from './_cli.ts';

const work = tempDir('acme-adapter-');
after(() => work.remove());

const task = (value: string, token: string): ChallengeTask => ({
  identifier: { type: 'dns', value }, wildcard: false, type: 'http-01', token, keyAuthorization: `${token}.thumbprint`,
  httpPath: `/.well-known/acme-challenge/${token}`, dnsName: `_acme-challenge.${value}`, dnsValue: 'x', authorizationUrl: 'https://ca/a', challengeUrl: 'https://ca/c',
});

test('writeFileAtomic: whole content, exact mode despite the umask, over a read-only file, no temporary left', async () => {
  const file = join(work.dir, 'cert.pem');
  writeFileSync(file, 'old');
  chmodSync(file, 0o444);
  await writeFileAtomic(file, 'new', 0o444);
  assert.equal(readFileSync(file, 'utf8'), 'new');
  assert.equal(statSync(file).mode & 0o777, 0o444);
  await writeFileAtomic(join(work.dir, 'key.pem'), new Uint8Array([1, 2, 3]), 0o600);
  assert.equal(statSync(join(work.dir, 'key.pem')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(work.dir).filter((name) => name.endsWith('.tmp')), []);
});

test('writeFileAtomic: a missing folder fails and leaves nothing', async () => {
  await assert.rejects(writeFileAtomic(join(work.dir, 'no-such-dir', 'x.pem'), 'x', 0o600), { code: 'ENOENT' });
});

test('readTextFileIfExists and removeFileIfExists: a missing file is not an error, other failures are', async () => {
  assert.equal(await readTextFileIfExists(join(work.dir, 'missing')), undefined);
  await assert.rejects(readTextFileIfExists(work.dir), { code: 'EISDIR' });
  assert.equal(await removeFileIfExists(join(work.dir, 'missing')), false);
});

test('createNodeFetch: method, headers, User-Agent, body, repeated response headers, HEAD, redirects', async () => {
  const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      if (request.url === '/moved') response.writeHead(301, { location: '/json' }).end();
      else response.writeHead(201, [['Content-Type', 'application/json'], ['Link', '<a>;rel="up"'], ['Link', '<b>;rel="alternate"']]).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fetch = createNodeFetch('test-agent/1');
  try {
    const response = await fetch(`${base}/json`, { method: 'POST', headers: { 'Content-Type': 'application/jose+json' }, body: '{"é":1}' });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.equal(response.headers.get('LINK'), '<a>;rel="up", <b>;rel="alternate"');
    assert.equal(response.headers.get('missing'), null);
    const reader = response.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    assert.equal(Buffer.concat(chunks).toString(), '{"ok":true}');
    assert.equal(seen[0]!.headers['user-agent'], 'test-agent/1');
    assert.equal(seen[0]!.headers['content-type'], 'application/jose+json');
    assert.equal(seen[0]!.headers['content-length'], String(Buffer.byteLength('{"é":1}')));
    assert.equal(seen[0]!.body, '{"é":1}');

    assert.equal((await fetch(`${base}/json`, { method: 'HEAD' })).body, null);
    const followed = await fetch(`${base}/moved`);
    assert.equal(followed.status, 201);
    assert.equal(seen.at(-1)!.url, '/json');
    await assert.rejects(fetch(`${base}/moved`, { method: 'POST', body: '{}', redirect: 'error' }), { name: 'TypeError', message: /redirects to \/json, and redirects are refused/ });
    await assert.rejects(fetch('ftp://127.0.0.1/x'), { name: 'TypeError', message: /only http and https/ });
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('createNodeFetch: requests one after another share one connection, and close() ends it', async () => {
  const closed: Promise<void>[] = [];
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  server.on('connection', (socket) => closed.push(new Promise((resolve) => socket.once('close', () => resolve()))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fetch = createNodeFetch('test-agent/1');
  try {
    for (let i = 0; i < 3; i++) {
      // Read to the end, as the transport does, so that the connection goes back to the pool.
      const reader = (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)).body!.getReader();
      while (!(await reader.read()).done);
    }
    assert.equal(closed.length, 1);
    fetch.close();
    // The server sees its one connection end, although its keep-alive timeout is far off.
    await closed[0];
  } finally {
    server.close();
  }
});

test('webrootResponder: one readable file per token, removed on cleanup; a token that is not base64url names no file', async () => {
  const responder = webrootResponder(work.dir);
  assert.deepEqual(responder.types, ['http-01']);
  await responder.present(task('a.example', 'tok_en-1'));
  assert.equal(readFileSync(join(work.dir, 'tok_en-1'), 'utf8'), 'tok_en-1.thumbprint');
  assert.equal(statSync(join(work.dir, 'tok_en-1')).mode & 0o777, 0o644);
  await responder.cleanup(task('a.example', 'tok_en-1'));
  assert.equal(await readTextFileIfExists(join(work.dir, 'tok_en-1')), undefined);
  await assert.rejects(responder.present(task('a.example', '../escape')), { name: 'RangeError', message: /"\.\.\/escape": it is not base64url/ });
});

const httpGet = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    get(url, { agent: false }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    }).on('error', reject);
  });

test('startStandaloneResponder: serves presented tokens only, until closed', async () => {
  const responder = await startStandaloneResponder({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${responder.port}/.well-known/acme-challenge`;
  try {
    await responder.present(task('a.example', 'abc'));
    assert.deepEqual(await httpGet(`${base}/abc`), { status: 200, body: 'abc.thumbprint' });
    assert.equal((await httpGet(`${base}/other`)).status, 404);
    assert.equal((await httpGet(`http://127.0.0.1:${responder.port}/abc`)).status, 404);
    await responder.cleanup(task('a.example', 'abc'));
    assert.equal((await httpGet(`${base}/abc`)).status, 404);
  } finally {
    await responder.close();
  }
  await assert.rejects(httpGet(`${base}/abc`), { code: 'ECONNREFUSED' });
});

test('callerResponder: one line at a time even when presented in parallel; each must come back unchanged', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const printed: string[] = [];
  output.on('data', (chunk: Buffer) => printed.push(...chunk.toString().split('\n').filter(Boolean)));
  const responder = callerResponder('dns-01', input, output);
  // Each line is awaited as it is printed, however long the responder takes to get there.
  const nextPrinted = () => new Promise((resolve) => output.once('data', resolve));
  const first = nextPrinted();
  const both = Promise.all([responder.present(task('a.example', 't1')), responder.present(task('b.example', 't2'))]);
  await first;
  // The second name waits for the first one's line to come back.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(printed, ['dns-01 a.example t1.thumbprint']);
  const second = nextPrinted();
  input.write('dns-01 a.example t1.thumbprint\n');
  await second;
  assert.deepEqual(printed, ['dns-01 a.example t1.thumbprint', 'dns-01 b.example t2.thumbprint']);
  input.write('dns-01 b.example t2.thumbprint\r\n');
  await both;
  const third = responder.present(task('c.example', 't3'));
  input.write('dns-01 c.example wrong\n');
  await assert.rejects(third, { message: 'Cannot go on with c.example: expected the line "dns-01 c.example t3.thumbprint" back on standard input, got "dns-01 c.example wrong"' });
  const fourth = responder.present(task('d.example', 't4'));
  input.end();
  await assert.rejects(fourth, { message: 'Cannot go on with d.example: standard input ended before the line "dns-01 d.example t4.thumbprint" came back' });
  responder.close();
});

/** A raw TCP server that ends every request its own way: reset before an answer, or an answer cut halfway. */
async function brokenServer(kind: 'reset' | 'cut') {
  const server = createNetServer((socket) => {
    socket.once('data', () => {
      if (kind === 'cut') socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"newNonce":');
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/dir`, close: () => new Promise((resolve) => server.close(resolve)) };
}

test('createNodeFetch under the transport: a reset, a cut answer and a refused connection are retried, then named in one line', async () => {
  const transport = () => new Transport({ fetch: createNodeFetch('test-agent/1'), retry: { maxTries: 2, random: () => 0 }, sleep: async () => {} });
  for (const [kind, reason] of [['reset', 'the connection to HOST was reset'], ['cut', 'the answer from HOST broke off before its end']] as const) {
    const server = await brokenServer(kind);
    try {
      const host = new URL(server.url).host;
      await assert.rejects(transport().get(server.url, { action: `fetch directory ${server.url}`, expect: 'json' }),
        { message: `Cannot fetch directory ${server.url}: ${reason.replace('HOST', host)} (2 tries in 0 s)` });
    } finally {
      await server.close();
    }
  }
  const closed = `http://127.0.0.1:${await freePort()}/dir`;
  await assert.rejects(transport().get(closed, { action: 'fetch directory', expect: 'json' }),
    { message: `Cannot fetch directory: the connection to ${new URL(closed).host} was refused (2 tries in 0 s)` });
});
