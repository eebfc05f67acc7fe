import { randomBytes, createHash } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { IntervalSet } from '../../gateway/sftp/intervals.js';
import { StagingWriter } from '../../gateway/sftp/staging-writer.js';
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
});

describe('StagingWriter', () => {
  it('writes shuffled positional chunks byte-exact; streams and hashes only while in order', async () => {
    const tmp = tempDir('writer-');
    try {
      const content = randomBytes(5 * 1024 * 1024 + 123);
      const path = join(tmp.path, 'f');
      const streamed: Buffer[] = [];
      const w = new StagingWriter(openSync(path, 'w'), path, { onInOrder: (c) => streamed.push(Buffer.from(c)) });
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
});
