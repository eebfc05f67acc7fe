/** Bridges between Node streams, async iterables and the Web Streams that openpgp.js speaks. */
import { Readable } from 'node:stream';

/** What openMessage reads: a web stream, a Node Readable or any async iterable of chunks. */
export type InputStream = ReadableStream<Uint8Array> | Readable | AsyncIterable<Uint8Array>;

/** The chunks of the input, without converting one kind of stream into another. */
export function chunksOf(input: InputStream): AsyncIterator<Uint8Array> {
  if (!(input instanceof ReadableStream)) return input[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const reader = input.getReader();
  return {
    async next() {
      const r = await reader.read();
      return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
    },
    async return() {
      await reader.cancel().catch(() => undefined);
      return { done: true, value: undefined };
    },
  };
}

/** An async iterable (or a Node Readable) as a pull-driven web stream: one chunk per pull, no copy. */
export function iterableToWebStream(source: AsyncIterable<Uint8Array> | Readable | AsyncIterator<Uint8Array>): ReadableStream<Uint8Array> {
  const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source) as AsyncIterator<Uint8Array>;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await it.next();
      if (r.done === true) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel(reason) {
      await it.return?.(reason);
    },
  }, { highWaterMark: 0 });
}

/** A web stream as a Node Readable. */
export function webToReadable(stream: ReadableStream<Uint8Array>): Readable {
  return Readable.fromWeb(stream as unknown as import('node:stream/web').ReadableStream<Uint8Array>);
}
