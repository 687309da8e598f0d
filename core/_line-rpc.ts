// Requests and answers as newline-delimited JSON over any byte stream (pipes to a child process, `ssh host …`): one
// message per line, answers matched to requests by id, so several requests may be in flight at once.

import { concatBytes, utf8Decode, utf8Encode } from './encoding.ts';

/** A JWS for finalize with a 4096-bit key and a hundred names stays under 16 KiB; a chain under 100 KiB. */
const MAX_LINE_BYTES = 1024 * 1024;

/** One line of JSON each way. `send` writes it and its newline; `lines` ends when the other side closes. */
export interface LineChannel {
  send(line: string): void;
  readonly lines: AsyncIterable<string>;
}

/** A channel over a byte stream: `input` as it arrives (a Node stream or a web ReadableStream), `write` for output. */
export function lineChannel(input: AsyncIterable<Uint8Array>, write: (bytes: Uint8Array) => unknown, peer: string): LineChannel {
  return {
    send: (line) => void write(utf8Encode(`${line}\n`)),
    lines: splitLines(input, peer),
  };
}

async function* splitLines(input: AsyncIterable<Uint8Array>, peer: string): AsyncIterable<string> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const chunk of input) {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
      const line = concatBytes(...pending, chunk.subarray(start, newline));
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      yield utf8Decode(line);
    }
    pending.push(chunk.slice(start));
    pendingBytes += chunk.length - start;
    if (pendingBytes > MAX_LINE_BYTES) throw new RangeError(`Cannot read from ${peer}: a message is longer than ${MAX_LINE_BYTES} bytes`);
  }
}

type Handler = (params: Record<string, unknown>) => Promise<unknown> | unknown;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * The asking side: `call` sends `{"id", "op", "params"}` and resolves with the `result` of the line with that id, or
 * rejects with its `error`. When the channel ends, every call still waiting fails, naming the peer.
 */
export class RpcClient {
  readonly #channel: LineChannel;
  readonly #peer: string;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed?: Error;
  /** Settles when the other side has closed the channel (or broke the protocol). */
  readonly done: Promise<void>;

  constructor(channel: LineChannel, peer: string) {
    this.#channel = channel;
    this.#peer = peer;
    this.done = this.#read();
  }

  /** Whether the other side has closed the channel; calls then fail at once. */
  get closed(): boolean {
    return this.#closed !== undefined;
  }

  call(op: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#channel.send(JSON.stringify({ id, op, params }));
    });
  }

  async #read(): Promise<void> {
    let reason = `${this.#peer} closed the channel`;
    try {
      for await (const line of this.#channel.lines) {
        const message = parseMessage(line, this.#peer);
        const pending = this.#pending.get(message.id as number);
        if (!pending) throw new SyntaxError(`Cannot read from ${this.#peer}: an answer to no request (id ${JSON.stringify(message.id)})`);
        this.#pending.delete(message.id as number);
        if (typeof message.error === 'string') pending.reject(new Error(message.error));
        else pending.resolve(message.result);
      }
    } catch (error) {
      reason = (error as Error).message;
    }
    this.#closed = new Error(reason);
    for (const pending of this.#pending.values()) pending.reject(this.#closed);
    this.#pending.clear();
  }
}

function parseMessage(line: string, peer: string): Record<string, unknown> {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    throw new SyntaxError(`Cannot read from ${peer}: a line is not JSON`);
  }
  if (typeof message !== 'object' || message === null || typeof (message as { id?: unknown }).id !== 'number') {
    throw new SyntaxError(`Cannot read from ${peer}: a message has no numeric id`);
  }
  return message as Record<string, unknown>;
}

/**
 * The answering side: each request runs its handler and is answered on its own line, with `result` or with `error`
 * (the handler's message). Resolves when the other side closes the channel; a line that is not a request ends it.
 */
export async function serveRpc(channel: LineChannel, handlers: Record<string, Handler>, peer: string): Promise<void> {
  const running: Promise<void>[] = [];
  for await (const line of channel.lines) {
    const message = parseMessage(line, peer);
    const { id, op, params } = message;
    const handler = typeof op === 'string' && Object.hasOwn(handlers, op) ? handlers[op]! : undefined;
    const answer = async () => {
      try {
        if (!handler) throw new Error(`no operation ${JSON.stringify(op)}`);
        const result = await handler(typeof params === 'object' && params !== null ? (params as Record<string, unknown>) : {});
        channel.send(JSON.stringify({ id, result: result ?? null }));
      } catch (error) {
        channel.send(JSON.stringify({ id, error: error instanceof Error ? error.message : String(error) }));
      }
    };
    running.push(answer());
  }
  await Promise.all(running);
}
