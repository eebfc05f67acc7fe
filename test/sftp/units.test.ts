import { randomBytes, createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeError, GatewayError } from '../../gateway/errors.js';
import { IntervalSet } from '../../gateway/sftp/intervals.js';
import { StagingWriter } from '../../gateway/sftp/staging-writer.js';
import { stagingIoThread } from '../../gateway/sftp/staging-io.js';
import { readAt, slowReadStreak, SLOW_READS_IN_A_ROW } from '../../gateway/sftp/files.js';
import type { ReadHandle, SessionState } from '../../gateway/sftp/state.js';
import { SFTP_STATUS, Unsupported, toSftpStatus } from '../../gateway/sftp/status.js';
import { tempDir } from '../helpers/ssh-fixture.js';

describe('IntervalSet', () => {
  it('merges adjacent and overlapping ranges in any order', () => {
    const s = new IntervalSet();
    s.add(10, 20);
    s.add(30, 40);
    expect(s.count).toBe(2);
    expect(s.contiguousFromZero()).toBe(0);
    s.add(0, 10);
    s.add(20, 30);
    expect(s.count).toBe(1);
    expect(s.covers(0, 40)).toBe(true);
    expect(s.end()).toBe(40);
    s.add(35, 50);
    expect(s.contiguousFromZero()).toBe(50);
  });
});

describe('toSftpStatus', () => {
  it('maps each refusal to its SFTP status, with the gateway code first', () => {
    expect(toSftpStatus(new GatewayError('PATH_NOT_FOUND', 'x')).code).toBe(SFTP_STATUS.NO_SUCH_FILE);
    expect(toSftpStatus(new GatewayError('PERMISSION_DENIED', 'x')).code).toBe(SFTP_STATUS.PERMISSION_DENIED);
    expect(toSftpStatus(new GatewayError('PATH_INVALID', 'x')).code).toBe(SFTP_STATUS.PERMISSION_DENIED);
    expect(toSftpStatus(new GatewayError('PGP_NOT_SIGNED', 'pas de signature'))).toEqual({ code: SFTP_STATUS.FAILURE, message: 'PGP_NOT_SIGNED: pas de signature' });
    expect(toSftpStatus(new Unsupported('readlink')).code).toBe(SFTP_STATUS.OP_UNSUPPORTED);
  });
  it('never leaks the text of an unexpected error', () => {
    expect(toSftpStatus(new Error('/var/lib/secret path'))).toEqual({ code: SFTP_STATUS.FAILURE, message: 'GATEWAY_FAILURE: erreur interne / internal error' });
  });
  it('says a full disk as such, wherever it is found, and still not the system text', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, open '/var/lib/passerelle/staging/x'"), { code: 'ENOSPC' });
    const sqlite = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    for (const e of [enospc, sqlite, new GatewayError('GATEWAY_FAILURE', 'wrapped', {}, { cause: enospc }), new Error('outer', { cause: new Error('mid', { cause: sqlite }) })]) {
      const st = toSftpStatus(e);
      expect(st.code).toBe(SFTP_STATUS.FAILURE);
      expect(st.message).toMatch(/^STORAGE_FULL: espace disque insuffisant .* \/ gateway storage full/);
      expect(st.message).not.toMatch(/var\/lib|ENOSPC|database/);
    }
    expect(toSftpStatus(Object.assign(new Error('EIO'), { code: 'EIO' })).message).toMatch(/^GATEWAY_FAILURE/);
  });
});

describe('describeError (operators\' log)', () => {
  it('says every cause under a wrapper, once each, and stops at a bounded depth', () => {
    const inner = new Error('Could not find valid encryption key packet: Subkey is expired');
    const wrapped = new GatewayError('GATEWAY_FAILURE', 'chiffrement pour le destinataire impossible', {}, { cause: inner });
    expect(describeError(wrapped)).toBe('chiffrement pour le destinataire impossible: Could not find valid encryption key packet: Subkey is expired');
    expect(describeError(new Error('same', { cause: new Error('same') }))).toBe('same');
    expect(describeError('text')).toBe('text');
    let deep: Error = new Error('e0');
    for (let i = 1; i < 20; i++) deep = new Error(`e${i}`, { cause: deep });
    expect(describeError(deep).split(': ').length).toBe(5);
  });
});

describe('StagingWriter', () => {
  it('writes shuffled positional chunks byte-exact; streams and hashes only while in order', async () => {
    const tmp = tempDir('writer-');
    try {
      const content = randomBytes(5 * 1024 * 1024 + 123);
      const path = join(tmp.path, 'f');
      const streamed: Buffer[] = [];
      const w = new StagingWriter(openSync(path, 'w'), path, { onInOrder: (c) => void streamed.push(Buffer.from(c)) });
      const offsets: number[] = [];
      for (let o = 0; o < content.length; o += 32768) offsets.push(o);
      // First 2 MiB in order, then the rest back to front.
      const head = offsets.filter((o) => o < 2 * 1024 * 1024);
      const tail = offsets.filter((o) => o >= 2 * 1024 * 1024).reverse();
      for (const o of [...head, ...tail]) await w.write(o, content.subarray(o, o + 32768));
      await w.sync();
      expect(w.inOrder).toBe(false);
      expect(await w.sha256(content.length)).toBe(createHash('sha256').update(content).digest('hex'));
      await w.closeFile(false);
      expect(readFileSync(path).equals(content)).toBe(true);
      const s = Buffer.concat(streamed);
      expect(s.length).toBeGreaterThanOrEqual(1024 * 1024);
      expect(s.equals(content.subarray(0, s.length))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('a staging I/O thread that dies between writes: the next thread writes the rest, the SHA-256 is still of the whole file', async () => {
    const tmp = tempDir('writer-');
    try {
      const content = randomBytes(3 * 1024 * 1024 + 5);
      const path = join(tmp.path, 'f');
      const w = new StagingWriter(openSync(path, 'w'), path);
      const half = 1536 * 1024;
      for (let o = 0; o < half; o += 32768) await w.write(o, content.subarray(o, Math.min(o + 32768, half)));
      await w.flush();
      const first = stagingIoThread();
      expect(first).toBeDefined();
      await first?.terminate();
      for (let o = half; o < content.length; o += 32768) await w.write(o, content.subarray(o, Math.min(o + 32768, content.length)));
      await w.sync();
      expect(w.inOrder).toBe(true);
      expect(stagingIoThread()).not.toBe(first);
      // The new thread saw only the second half: its running hash would have been of that alone.
      expect(await w.sha256(content.length)).toBe(createHash('sha256').update(content).digest('hex'));
      await w.closeFile(false);
      expect(readFileSync(path).equals(content)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('hashes in order whatever the WRITE sizes (1 byte to 3 MiB), and the streamed chunks stay intact', async () => {
    const tmp = tempDir('writer-');
    try {
      const content = randomBytes(9 * 1024 * 1024 + 7);
      const path = join(tmp.path, 'f');
      const streamed: Buffer[] = [];
      const w = new StagingWriter(openSync(path, 'w'), path, { onInOrder: (c) => void streamed.push(c) });
      const sizes = [1, 2, 100, 16 * 1024 - 1, 16 * 1024, 255 * 1024, 1024 * 1024 - 3, 1024 * 1024 + 5, 3 * 1024 * 1024];
      let o = 0;
      for (let k = 0; o < content.length; k++) {
        const n = Math.min(sizes[k % sizes.length]!, content.length - o);
        // A fresh buffer each time, scribbled over once queued: what ssh2 does not do, but
        // shows that neither the file nor the stream depend on the caller's buffer afterwards
        // for the short WRITEs the writer copies.
        const chunk = Buffer.from(content.subarray(o, o + n));
        await w.write(o, chunk);
        if (n < 16 * 1024) chunk.fill(0);
        o += n;
      }
      await w.sync();
      expect(w.inOrder).toBe(true);
      expect(await w.sha256(content.length)).toBe(createHash('sha256').update(content).digest('hex'));
      expect(await w.closeFile(false)).toBe(content.length);
      expect(readFileSync(path).equals(content)).toBe(true);
      expect(Buffer.concat(streamed).equals(content)).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('reports the disk error of a write (a descriptor that cannot be written) and accepts nothing after it', async () => {
    const tmp = tempDir('writer-');
    try {
      const path = join(tmp.path, 'f');
      writeFileSync(path, '');
      const w = new StagingWriter(openSync(path, 'r'), path);
      await w.write(0, randomBytes(2 * 1024 * 1024)).catch(() => undefined);
      await expect(w.flush()).rejects.toMatchObject({ code: 'EBADF' });
      await expect(w.write(2 * 1024 * 1024, Buffer.from('x'))).rejects.toMatchObject({ code: 'EBADF' });
      await w.closeFile(true);
    } finally {
      tmp.cleanup();
    }
  });

  it('hashes a resumed file by reading it back, and the in-order prefix of a truncated partial', async () => {
    const tmp = tempDir('writer-');
    try {
      const content = randomBytes(3 * 1024 * 1024);
      const path = join(tmp.path, 'f');
      writeFileSync(path, content.subarray(0, 1000));
      const resumed = new StagingWriter(openSync(path, 'r+'), path, { resumedSize: 1000 });
      await resumed.write(1000, content.subarray(1000));
      await resumed.sync();
      expect(await resumed.sha256(content.length)).toBe(createHash('sha256').update(content).digest('hex'));
      await resumed.closeFile(false);

      const partial = new StagingWriter(openSync(path, 'w'), path);
      await partial.write(0, content.subarray(0, 1024 * 1024));
      await partial.write(2 * 1024 * 1024, content.subarray(2 * 1024 * 1024));
      expect(await partial.closeFile(true)).toBe(1024 * 1024);
      expect(await partial.sha256(1024 * 1024)).toBe(createHash('sha256').update(content.subarray(0, 1024 * 1024)).digest('hex'));
      expect(readFileSync(path).equals(content.subarray(0, 1024 * 1024))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('readAt', () => {
  it('reads the same bytes synchronously (page cache) and through the thread pool, and reports a failed read', async () => {
    const tmp = tempDir('read-');
    try {
      const content = randomBytes(700 * 1024 + 3);
      const path = join(tmp.path, 'f');
      writeFileSync(path, content);
      const s = { limits: { maxReadLength: 255 * 1024 } } as unknown as SessionState;
      for (const slowReads of [0, SLOW_READS_IN_A_ROW]) {
        const h = { kind: 'read', fd: openSync(path, 'r'), size: content.length, coverage: new IntervalSet(), slowReads } as unknown as ReadHandle;
        const parts: Buffer[] = [];
        // Copies: a READ buffer is reused once its reply is sent.
        for (let off = 0, b = await readAt(s, h, 0, 1 << 20); b; b = await readAt(s, h, (off += b.length), 1 << 20)) parts.push(Buffer.from(b));
        expect(Buffer.concat(parts).equals(content)).toBe(true);
        expect(parts[0]!.length).toBe(255 * 1024);
        expect(h.coverage.covers(0, content.length)).toBe(true);
        closeSync(h.fd);
      }
      const bad = { kind: 'read', fd: openSync(path, 'w'), size: content.length, coverage: new IntervalSet(), slowReads: 0 } as unknown as ReadHandle;
      await expect(readAt(s, bad, 0, 100)).rejects.toMatchObject({ code: 'EBADF' });
      bad.slowReads = SLOW_READS_IN_A_ROW;
      await expect(readAt(s, bad, 0, 100)).rejects.toMatchObject({ code: 'EBADF' });
      closeSync(bad.fd);
    } finally {
      tmp.cleanup();
    }
  });
  it('leaves the page cache only after slow reads in a row, not after one', () => {
    let streak = 0;
    for (const ms of [0.05, 4, 0.05, 2.5, 0.03]) streak = slowReadStreak(streak, ms);
    expect(streak).toBe(0); // isolated slow reads: the handle stays synchronous
    for (const ms of [3, 5, 8]) streak = slowReadStreak(streak, ms);
    expect(streak).toBe(SLOW_READS_IN_A_ROW); // a cold file: three in a row, readAt switches to the pool
    expect(slowReadStreak(streak, 0.02)).toBe(0);
  });
});
