// The signer interface: a local signer and a remote one over the line protocol sign alike, the serving side's guard
// decides, and a closed channel fails the calls waiting on it, naming the peer.
import { assert, assertEquals, assertRejects, test } from '../_harness.ts';
import { base64UrlDecode, utf8Decode, utf8Encode } from '../../core/encoding.ts';
import { generateKey } from '../../core/keys.ts';
import { parseCsr } from '../../core/csr.ts';
import { normalizeIdentifiers } from '../../core/names.ts';
import { localSigner } from '../../core/signer.ts';
import { connectSigners, serveSigners, type SignerGuard } from '../../core/signer-protocol.ts';
import { RpcClient, lineChannel, type LineChannel } from '../../core/_line-rpc.ts';

/** One direction of a byte stream, in memory: what is written comes out of `chunks` in pieces of any size. */
function byteStream(): { write(bytes: Uint8Array): void; end(): void; chunks: AsyncIterable<Uint8Array> } {
  const queue: (Uint8Array | null)[] = [];
  let wake: (() => void) | undefined;
  return {
    write(bytes) {
      // Split each write in two, so the reader must join lines across chunks.
      const half = Math.floor(bytes.length / 2);
      queue.push(bytes.slice(0, half), bytes.slice(half));
      wake?.();
    },
    end() {
      queue.push(null);
      wake?.();
    },
    chunks: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
          const chunk = queue.shift()!;
          if (chunk === null) return;
          yield chunk;
        }
      },
    },
  };
}

function channelPair(): { client: LineChannel; server: LineChannel; close(): void } {
  const up = byteStream();
  const down = byteStream();
  return {
    client: lineChannel(down.chunks, (bytes) => up.write(bytes), 'key process'),
    server: lineChannel(up.chunks, (bytes) => down.write(bytes), 'network process'),
    close() {
      up.end();
      down.end();
    },
  };
}

const ONLY_ORIGIN: SignerGuard = {
  checkSign({ header }) {
    if (new URL(header.url).origin !== 'https://ca.test') throw new Error(`refused: ${header.url} is not on https://ca.test`);
  },
  checkCsr() {},
};

test('signer: a remote signer gives the same public key, JWS and CSR as the local one it serves', async () => {
  const key = await generateKey('ec256');
  const pair = channelPair();
  const served = serveSigners(pair.server, { account: localSigner(key) }, ONLY_ORIGIN, 'network process');
  const rpc = new RpcClient(pair.client, 'key process');
  const { account } = await connectSigners(rpc, 'key process');
  assertEquals(account!.publicJwk, key.publicJwk);
  assertEquals(account!.algorithm, 'ES256');
  const jws = await account!.signJws({ status: 'x' }, { url: 'https://ca.test/acct/1', nonce: 'n1', kid: 'https://ca.test/acct/1' });
  const header = JSON.parse(utf8Decode(base64UrlDecode(jws.protected)));
  assertEquals(header, { alg: 'ES256', kid: 'https://ca.test/acct/1', nonce: 'n1', url: 'https://ca.test/acct/1' });
  assert(await key.engine.verify('ES256', key.publicJwk, utf8Encode(`${jws.protected}.${jws.payload}`), base64UrlDecode(jws.signature)), 'signature does not verify');
  const postAsGet = await account!.signJws(undefined, { url: 'https://ca.test/order/1', nonce: 'n2', kid: 'https://ca.test/acct/1' });
  assertEquals(postAsGet.payload, '');
  const csr = await parseCsr(await account!.createCsr({ identifiers: normalizeIdentifiers(['a.example', 'b.example']) }));
  assertEquals(csr.identifiers.map((identifier) => identifier.value), ['a.example', 'b.example']);
  pair.close();
  await served;
});

test('signer: the guard refuses, and the refusal reaches the caller; a closed channel fails what waits on it', async () => {
  const pair = channelPair();
  void serveSigners(pair.server, { account: localSigner(await generateKey('ec256')) }, ONLY_ORIGIN, 'network process');
  const rpc = new RpcClient(pair.client, 'key process');
  const { account } = await connectSigners(rpc, 'key process');
  await assertRejects(() => account!.signJws({}, { url: 'https://evil.test/x', nonce: 'n' }), Error, 'refused: https://evil.test/x is not on https://ca.test');
  await assertRejects(() => rpc.call('sign', { key: 'domain', header: { url: 'https://ca.test/' } }), Error, 'no key "domain"');
  pair.close();
  await rpc.done;
  await assertRejects(() => rpc.call('keys'), Error, 'key process closed the channel');
});
