/**
 * A full disk at any point of an upload (security.md invariant 3): the pipeline runs on a real
 * tmpfs filled to leave a fraction of what one accepted upload takes (full-disk-child.ts). Each
 * upload must end accepted, or failed with STORAGE_FULL and nothing in view; the gateway must
 * take the same file once there is room again, keep its state whole across a restart, and its
 * audit trail must still verify.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnOnTmpfs } from '../helpers/tmpfs.js';
import { ROOT } from './pipeline-harness.js';

const CHILD = join(import.meta.dirname, 'full-disk-child.ts');
/** Fractions of one upload's footprint left free: the disk fills at OPEN, while sealing, while publishing. */
const FRACTIONS = [0, 0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 0.99, 1, 1.01, 1.03, 1.5];

interface Step {
  step: string;
  status?: string;
  code?: string;
  again?: string;
  againCode?: string;
  fraction?: number;
  need?: number;
  problems?: string[];
  after?: string[];
  accepted?: number;
  ok?: boolean;
  failure?: unknown;
}

let dir: string;
let steps: Step[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'passerelle-fulldisk-'));
  mkdirSync(join(dir, 'data'));
  const child = spawnOnTmpfs(join(dir, 'data'), 160 << 20, process.execPath, ['--import', 'tsx', CHILD, dir, FRACTIONS.join(',')], { cwd: ROOT });
  child.stdin.end();
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`full-disk child exited ${code}: ${err.trim()}`);
  steps = out.trim().split('\n').map((l) => JSON.parse(l) as Step);
}, 240_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a full disk while uploads go through the pipeline', () => {
  it('an upload with room is accepted, and takes several MB on that disk', () => {
    const first = steps.find((s) => s.step === 'footprint');
    expect(first?.status).toBe('accepted');
    expect(first?.need).toBeGreaterThan(1 << 20);
  });

  it('every upload ends accepted or failed with STORAGE_FULL, nothing half-published, and goes through once there is room', () => {
    const full = steps.filter((s) => s.step === 'full');
    expect(full.map((s) => s.fraction)).toEqual(FRACTIONS);
    for (const s of full) {
      const where = `fraction ${s.fraction}`;
      if (s.status === 'accepted') expect(s.again, where).toBe('duplicate');
      else {
        // At OPEN the intake cannot even record the upload: the SFTP layer refuses the OPEN with it.
        expect(s.status === 'failed' || s.status === 'thrown', where).toBe(true);
        expect(s.code, where).toMatch(/^STORAGE_FULL/);
        expect(s.again, where).toBe('accepted');
      }
      expect(s.problems, where).toEqual([]);
      expect(s.after, where).toEqual([]);
    }
    // The disk was full where it had to be, and not where there was room.
    expect(full.filter((s) => (s.fraction ?? 0) <= 0.5).every((s) => s.status !== 'accepted')).toBe(true);
    expect(full.find((s) => s.fraction === 1.5)?.status).toBe('accepted');
  });

  it('after a restart the state is whole and the audit trail verifies', () => {
    const restart = steps.find((s) => s.step === 'restart');
    expect(restart?.problems).toEqual([]);
    const full = steps.filter((s) => s.step === 'full');
    // The first upload, then one acceptance per level (the first try or the retry).
    expect(restart?.accepted).toBe(1 + full.length);
    const audit = steps.find((s) => s.step === 'audit');
    expect(audit).toMatchObject({ ok: true, failure: null });
  });
});
