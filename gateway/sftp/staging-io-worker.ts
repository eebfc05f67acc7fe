/**
 * The staging I/O thread (staging-io.ts): hashes then writes each batch, in the order received,
 * and sends the batch back for reuse.
 */
import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { FromStagingIo, ToStagingIo } from './staging-io.js';

const port = parentPort;
if (!port) throw new Error('staging-io-worker.ts runs only as a worker thread');

const hashes = new Map<number, Hash>();

function reply(m: FromStagingIo, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

port.on('message', (m: ToStagingIo) => {
  if (m.type === 'digest') {
    const h = hashes.get(m.hashId) ?? createHash('sha256');
    hashes.delete(m.hashId);
    reply({ type: 'digest', seq: m.seq, sha256: h.digest('hex') });
    return;
  }
  const bytes = new Uint8Array(m.buf, 0, m.len);
  let error: string | undefined;
  try {
    if (m.hashId !== undefined) {
      let h = hashes.get(m.hashId);
      if (!h) hashes.set(m.hashId, (h = createHash('sha256')));
      h.update(bytes);
    }
    let done = 0;
    while (done < m.len) done += writeSync(m.fd, bytes, done, m.len - done, m.position + done);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    error = `${err.code ?? 'EIO'}: ${err.message}`;
  }
  reply({ type: 'written', seq: m.seq, buf: m.buf, error }, [m.buf]);
});
