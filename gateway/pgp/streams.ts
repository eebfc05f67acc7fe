/** Bridges between Node streams, async iterables and the Web Streams that openpgp.js speaks. */
import { Readable } from 'node:stream';

export type InputStream = ReadableStream<Uint8Array> | Readable;

/** Node streams are bridged once here; web streams pass through untouched. */
export function toWebStream(input: InputStream): ReadableStream<Uint8Array> {
  if (input instanceof Readable) {
    // node:stream/web and the DOM lib declare the same class twice; the cast joins them.
    return Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>;
  }
  return input;
}

/** An async iterable (or a Node Readable) as a pull-driven web stream: one chunk per pull, no copy. */
export function iterableToWebStream(source: AsyncIterable<Uint8Array> | Readable): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
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
