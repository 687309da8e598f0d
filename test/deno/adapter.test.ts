// adapters/deno.ts on its own, in Deno: atomic writes and modes, keys on disk, the fetch, and the challenge responders.
import { assert, assertEquals } from '../_harness.ts';
import {
  LockBusyError, acquireFileLock, callerResponder, createDenoFetch, denoCaaResolver, dnsResponder, isDirectory, isProcessAlive, loadOrCreateKey,
  readTextFileIfExists, removeFileIfExists, startStandaloneResponder, startTlsAlpnResponder, webrootResponder, writeFileAtomic, writeNewFile,
} from '../../adapters/deno.ts';
import type { ChallengeTask } from '../../core/resources.ts';
import { Transport } from '../../core/http.ts';
import { pemEncode } from '../../core/encoding.ts';
import { exportPkcs8Pem } from '../../core/key-pem.ts';
import { generateKey } from '../../core/keys.ts';
import { createTlsAlpnCertificate } from '../../core/tls-alpn.ts';

const task = (value: string, token: string): ChallengeTask => ({
  identifier: { type: 'dns', value }, wildcard: false, type: 'http-01', token, keyAuthorization: `${token}.thumbprint`,
  httpPath: `/.well-known/acme-challenge/${token}`, dnsName: `_acme-challenge.${value}`, dnsValue: `digest-of-${token}`,
  authorizationUrl: 'https://ca/a', challengeUrl: 'https://ca/c',
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

const mode = (path: string) => Deno.statSync(path).mode! & 0o777;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: 'acme-deno-adapter-' });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test('[deno] adapters/deno: writeFileAtomic writes the whole file with its exact mode, over a read-only one, leaving no temporary', () =>
  withTempDir(async (dir) => {
    const file = `${dir}/cert.pem`;
    Deno.writeTextFileSync(file, 'old');
    Deno.chmodSync(file, 0o444);
    await writeFileAtomic(file, 'new', 0o444);
    assertEquals(Deno.readTextFileSync(file), 'new');
    assertEquals(mode(file), 0o444);
    await writeFileAtomic(`${dir}/key.pem`, new Uint8Array([1, 2, 3]), 0o600);
    assertEquals(mode(`${dir}/key.pem`), 0o600);
    assertEquals([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), ['cert.pem', 'key.pem']);
    const error = await rejection(writeFileAtomic(`${dir}/no-such-dir/x.pem`, 'x', 0o600));
    assert(error instanceof Deno.errors.NotFound, String(error));
  }));

Deno.test('[deno] adapters/deno: missing files and folders are no error; other failures are', () =>
  withTempDir(async (dir) => {
    assertEquals(await readTextFileIfExists(`${dir}/missing`), undefined);
    assertEquals((await rejection(readTextFileIfExists(dir)) as Error & { code?: string }).code, 'EISDIR');
    assertEquals(await removeFileIfExists(`${dir}/missing`), false);
    assertEquals(await isDirectory(dir), true);
    assertEquals(await isDirectory(`${dir}/missing`), false);
  }));

Deno.test('[deno] adapters/deno: loadOrCreateKey creates a key (0600, folders 0700), then loads the same key', () =>
  withTempDir(async (dir) => {
    const path = `${dir}/keys/deep/account.pem`;
    const created = await loadOrCreateKey(path);
    assertEquals(created.type, 'ec256');
    assertEquals(mode(path), 0o600);
    assertEquals(mode(`${dir}/keys/deep`), 0o700);
    assert(Deno.readTextFileSync(path).startsWith('-----BEGIN PRIVATE KEY-----'));
    assertEquals((await loadOrCreateKey(path, 'rsa2048')).publicJwk, created.publicJwk);
    Deno.writeTextFileSync(`${dir}/garbage.pem`, 'not a key\n');
    assertEquals((await rejection(loadOrCreateKey(`${dir}/garbage.pem`))).message,
      `Cannot use key ${dir}/garbage.pem: Cannot import key: found neither a PEM block nor a JSON Web Key`);
  }));

Deno.test('[deno] adapters/deno: writeNewFile creates a file only where none is, and leaves no temporary either way', () =>
  withTempDir(async (dir) => {
    assertEquals(await writeNewFile(`${dir}/key.pem`, 'first', 0o600), true);
    assertEquals(await writeNewFile(`${dir}/key.pem`, 'second', 0o600), false);
    assertEquals(Deno.readTextFileSync(`${dir}/key.pem`), 'first');
    assertEquals(mode(`${dir}/key.pem`), 0o600);
    assertEquals([...Deno.readDirSync(dir)].map((entry) => entry.name), ['key.pem']);
  }));

Deno.test('[deno] adapters/deno: acquireFileLock: one holder at a time, a live one named by its PID, a gone one taken over once', () =>
  withTempDir(async (dir) => {
    const path = `${dir}/.acme-client.lock`;
    const held = await acquireFileLock(path);
    assertEquals(JSON.parse(Deno.readTextFileSync(path)).pid, Deno.pid);
    // Another process holds it: a child that runs until it is killed.
    await held.release();
    assertEquals(await readTextFileIfExists(path), undefined);
    const child = new Deno.Command('sleep', { args: ['60'] }).spawn();
    try {
      Deno.writeTextFileSync(path, JSON.stringify({ pid: child.pid, token: 'other', since: new Date().toISOString() }));
      assertEquals(isProcessAlive(child.pid), true);
      const busy = await rejection(acquireFileLock(path, { waitMs: 0 }));
      assert(busy instanceof LockBusyError, String(busy));
      assert(busy.message.startsWith(`Cannot lock ${path}: acme-client process ${child.pid} has held it since `), busy.message);
    } finally {
      child.kill('SIGKILL');
      await child.status;
    }
    assertEquals(isProcessAlive(child.pid), false);
    // Two at once find the dead holder: one takes over, and the other then finds a live holder, not a second takeover.
    const results = await Promise.allSettled([acquireFileLock(path, { waitMs: 0 }), acquireFileLock(path, { waitMs: 0 })]);
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result) => result.status === 'rejected');
    assertEquals([won.length, lost.length], [1, 1]);
    assert((lost[0] as PromiseRejectedResult).reason instanceof LockBusyError, String((lost[0] as PromiseRejectedResult).reason));
    const taken = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireFileLock>>>).value;
    assertEquals(taken.tookOverFrom.map((holder) => holder.pid), [child.pid]);
    assertEquals(await taken.isHeld(), true);
    await taken.release();
    assertEquals([...Deno.readDirSync(dir)], []);
  }));

Deno.test('[deno] adapters/deno: webrootResponder writes one readable file per token and removes it; a bad token names no file', () =>
  withTempDir(async (dir) => {
    const responder = webrootResponder(dir);
    assertEquals(responder.types, ['http-01']);
    await responder.present(task('a.example', 'tok_en-1'));
    assertEquals(Deno.readTextFileSync(`${dir}/tok_en-1`), 'tok_en-1.thumbprint');
    assertEquals(mode(`${dir}/tok_en-1`), 0o644);
    await responder.cleanup(task('a.example', 'tok_en-1'));
    assertEquals(await readTextFileIfExists(`${dir}/tok_en-1`), undefined);
    const error = await rejection(responder.present(task('a.example', '../escape')));
    assert(error instanceof RangeError);
    assertEquals(error.message, 'Refusing challenge token "../escape": it is not base64url');
  }));

Deno.test('[deno] adapters/deno: startStandaloneResponder serves presented tokens only, until closed; a taken port is named', async () => {
  const responder = await startStandaloneResponder({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${responder.port}/.well-known/acme-challenge`;
  const get = async (url: string, method = 'GET') => {
    const response = await fetch(url, { method });
    return { status: response.status, body: await response.text() };
  };
  try {
    await responder.present(task('a.example', 'abc'));
    assertEquals(await get(`${base}/abc`), { status: 200, body: 'abc.thumbprint' });
    assertEquals(await get(`${base}/abc`, 'HEAD'), { status: 200, body: '' });
    assertEquals((await get(`${base}/other`)).status, 404);
    assertEquals((await get(`${base}/abc`, 'POST')).status, 404);
    assertEquals((await get(`http://127.0.0.1:${responder.port}/abc`)).status, 404);
    const busy = await rejection(startStandaloneResponder({ host: '127.0.0.1', port: responder.port }));
    assertEquals(busy.message, `Cannot listen on 127.0.0.1:${responder.port} for http-01: the port is in use`);
    await responder.cleanup(task('a.example', 'abc'));
    assertEquals((await get(`${base}/abc`)).status, 404);
  } finally {
    await responder.close();
  }
  assert((await rejection(fetch(`${base}/abc`))) instanceof TypeError);
});

Deno.test('[deno] adapters/deno: createDenoFetch sends its User-Agent unless one is given, and fails with the reason alone', async () => {
  const agents: (string | null)[] = [];
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, (request) => {
    agents.push(request.headers.get('user-agent'));
    return new Response('ok');
  });
  const fetch = createDenoFetch('test-agent/1');
  try {
    await (await fetch(`http://127.0.0.1:${server.addr.port}/`, { method: 'POST', body: '{}' })).text();
    await (await fetch(`http://127.0.0.1:${server.addr.port}/`, { headers: { 'User-Agent': 'mine/2' } })).text();
    assertEquals(agents, ['test-agent/1', 'mine/2']);
  } finally {
    await server.shutdown();
  }
  const error = await rejection(fetch(`http://127.0.0.1:${server.addr.port}/`));
  fetch.close();
  assert(error instanceof TypeError);
  assert(/^tcp connect error: Connection refused/.test(error.message), error.message);
});

/** A raw TCP listener that ends every request its own way: reset before an answer, or an answer cut halfway. */
function brokenServer(kind: 'reset' | 'cut') {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 });
  (async () => {
    for await (const connection of listener) {
      await connection.read(new Uint8Array(4096)).catch(() => null);
      if (kind === 'cut') {
        await connection.write(new TextEncoder().encode('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"newNonce":')).catch(() => 0);
      }
      connection.close();
    }
  })().catch(() => {});
  return { url: `http://127.0.0.1:${listener.addr.port}/dir`, close: () => listener.close() };
}

Deno.test('[deno] adapters/deno: createDenoFetch under the transport: a reset, a cut answer and a refused connection are retried, then named in one line', async () => {
  const fetch = createDenoFetch('test-agent/1');
  const transport = () => new Transport({ fetch, retry: { maxTries: 2, random: () => 0 }, sleep: async () => {} });
  for (const [kind, reason] of [['reset', 'the connection to HOST was reset'], ['cut', 'the answer from HOST broke off before its end']] as const) {
    const server = brokenServer(kind);
    try {
      const host = new URL(server.url).host;
      const error = await rejection(transport().get(server.url, { action: `fetch directory ${server.url}`, expect: 'json' }));
      assertEquals((error as Error).message, `Cannot fetch directory ${server.url}: ${reason.replace('HOST', host)} (2 tries in 0 s)`);
    } finally {
      server.close();
    }
  }
  const refused = brokenServer('reset');
  refused.close();
  const error = await rejection(transport().get(refused.url, { action: 'fetch directory', expect: 'json' }));
  fetch.close();
  assertEquals((error as Error).message, `Cannot fetch directory: the connection to ${new URL(refused.url).host} was refused (2 tries in 0 s)`);
});

// The sanitizers fail the test if close() leaves the client or a connection open.
Deno.test('[deno] adapters/deno: createDenoFetch keeps one connection for requests one after another, and close() ends it', async () => {
  const clientPorts: number[] = [];
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, (_request, info) => {
    clientPorts.push((info.remoteAddr as Deno.NetAddr).port);
    return new Response('ok');
  });
  const fetch = createDenoFetch('test-agent/1');
  try {
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text();
    assertEquals(new Set(clientPorts).size, 1);
  } finally {
    fetch.close();
    await server.shutdown();
  }
});

/** A stdin stand-in the test writes lines into. */
function lineInput() {
  let controller!: ReadableStreamDefaultController<Uint8Array<ArrayBuffer>>;
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({ start: (c) => void (controller = c) });
  const encoder = new TextEncoder();
  return { stream, write: (text: string) => controller.enqueue(encoder.encode(text)), end: () => controller.close() };
}

Deno.test('[deno] adapters/deno: callerResponder prints one line at a time, in parallel too; each must come back unchanged', async () => {
  const input = lineInput();
  const printed: string[] = [];
  const decoder = new TextDecoder();
  const output = { writeSync: (bytes: Uint8Array) => (printed.push(...decoder.decode(bytes).split('\n').filter(Boolean)), bytes.length) };
  const responder = callerResponder('dns-01', input.stream, output);
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
  const both = Promise.all([responder.present(task('a.example', 't1')), responder.present(task('b.example', 't2'))]);
  await tick();
  assertEquals(printed, ['dns-01 a.example t1.thumbprint']);
  // A line may come in pieces, and with a CRLF ending.
  input.write('dns-01 a.example t1.thumb');
  input.write('print\ndns-01 b.example t2.thumbprint\r');
  input.write('\n');
  await both;
  assertEquals(printed, ['dns-01 a.example t1.thumbprint', 'dns-01 b.example t2.thumbprint']);
  const third = responder.present(task('c.example', 't3'));
  input.write('dns-01 c.example wrong\n');
  assertEquals((await rejection(third)).message,
    'Cannot go on with c.example: expected the line "dns-01 c.example t3.thumbprint" back on standard input, got "dns-01 c.example wrong"');
  const fourth = responder.present(task('d.example', 't4'));
  input.end();
  assertEquals((await rejection(fourth)).message,
    'Cannot go on with d.example: standard input ended before the line "dns-01 d.example t4.thumbprint" came back');
  responder.close();
});

Deno.test('[deno] adapters/deno: dnsResponder hands the record name and the digest to the DNS API', async () => {
  const calls: string[] = [];
  const responder = dnsResponder({
    present: async (name, value) => void calls.push(`present ${name} ${value}`),
    cleanup: async (name, value) => void calls.push(`cleanup ${name} ${value}`),
  });
  assertEquals(responder.types, ['dns-01']);
  await responder.present(task('a.example', 't1'));
  await responder.cleanup(task('a.example', 't1'));
  assertEquals(calls, ['present _acme-challenge.a.example digest-of-t1', 'cleanup _acme-challenge.a.example digest-of-t1']);
});

Deno.test('[deno] adapters/deno: denoCaaResolver refuses a server that is not an address, by name', () => {
  for (const server of ['dns.example:53', '127.0.0.1:0', '[::1]:70000', '']) {
    let message = '';
    try {
      denoCaaResolver(server);
    } catch (error) {
      assert(error instanceof TypeError);
      message = error.message;
    }
    assertEquals(message, `Invalid DNS server ${JSON.stringify(server)}: expected an IP address with an optional port, e.g. 127.0.0.1:53 or [::1]:53`);
  }
});

/** `openssl s_client` against the responder: its report of the handshake, or of the alert that ended it. */
async function opensslHandshake(port: number, serverName: string, alpn?: string): Promise<string> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', serverName, '-showcerts', ...(alpn ? ['-alpn', alpn] : [])];
  const { stdout, stderr } = await new Deno.Command('openssl', { args, stdin: 'null', stdout: 'piped', stderr: 'piped' }).output();
  return new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
}

Deno.test('[deno] adapters/deno: startTlsAlpnResponder presents each name its certificate over acme-tls/1, and nothing to other clients', async () => {
  const responder = await startTlsAlpnResponder({ host: '127.0.0.1', port: 0 });
  try {
    await responder.present({ ...task('a.example', 'token-a'), type: 'tls-alpn-01' });
    await responder.present({ ...task('127.0.0.1', 'token-ip'), identifier: { type: 'ip', value: '127.0.0.1' }, type: 'tls-alpn-01' });
    for (const [serverName, san] of [['a.example', 'DNS:a.example'], ['1.0.0.127.in-addr.arpa', 'IP Address:127.0.0.1']]) {
      const report = await opensslHandshake(responder.port, serverName, 'acme-tls/1');
      assert(report.includes('ALPN protocol: acme-tls/1') && report.includes('New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256'), report);
      const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(report)![0];
      const text = await new Deno.Command('openssl', { args: ['x509', '-noout', '-text'], stdin: 'piped', stdout: 'piped' }).spawn();
      const writer = text.stdin.getWriter();
      await writer.write(new TextEncoder().encode(pem));
      await writer.close();
      const decoded = new TextDecoder().decode((await text.output()).stdout);
      assert(decoded.includes('1.3.6.1.5.5.7.1.31: critical') && decoded.includes(san), decoded);
    }
    assert(/no application protocol/.test(await opensslHandshake(responder.port, 'a.example')), 'no ALPN: an alert');
    assert(/no application protocol/.test(await opensslHandshake(responder.port, 'a.example', 'h2,http/1.1')), 'other protocols: an alert');
    assert(/unrecognized name/.test(await opensslHandshake(responder.port, 'b.example', 'acme-tls/1')), 'an unknown name: an alert');
    const busy = await rejection(startTlsAlpnResponder({ host: '127.0.0.1', port: responder.port }));
    assertEquals(busy.message, `Cannot listen on 127.0.0.1:${responder.port} for tls-alpn-01: the port is in use`);
  } finally {
    await responder.close();
  }
});

Deno.test('[deno] adapters/deno: Deno.listenTls refuses a certificate with the critical acmeIdentifier extension, which is why core does the handshake', async () => {
  const key = await generateKey('ec256');
  const cert = pemEncode('CERTIFICATE', await createTlsAlpnCertificate({ identifier: { type: 'dns', value: 'a.example' }, keyAuthorization: 'token.thumbprint' }, key));
  // Should a later Deno serve it, this fails, and startTlsAlpnResponder could use Deno's TLS.
  const refusal = await rejection((async () => Deno.listenTls({ hostname: '127.0.0.1', port: 0, cert, key: exportPkcs8Pem(key), alpnProtocols: ['acme-tls/1'] }).close())());
  assert(/UnsupportedCriticalExtension/.test(refusal.message), refusal.message);
});
