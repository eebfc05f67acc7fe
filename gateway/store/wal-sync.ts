/**
 * Durability of a WAL-mode SQLite database without blocking the event loop.
 *
 * better-sqlite3 is synchronous: with `synchronous = FULL` every commit fsyncs the WAL on the
 * thread that runs the SSH sessions. Measured: 93-146 ms stalls of that thread at the start of a
 * 512 MiB download, while the disk was busy writing back a previous transfer; every transfer of
 * every session waits. With `synchronous = NORMAL`, SQLite syncs the WAL only before a
 * checkpoint (and the database file after it, and the WAL header when the WAL is reused), so the
 * database stays consistent; a commit becomes durable once the WAL's new frames are on disk,
 * which this does with fdatasync on the thread pool: `durably` runs a write and resolves once
 * it is on disk (the WAL is written sequentially: one sync covers every earlier commit).
 */
import { closeSync, fdatasync, openSync } from 'node:fs';

export interface WalSync {
  /** Runs `write` (a transaction) now, and resolves with its result once it is on disk. */
  durably<T>(write: () => T): Promise<T>;
  /** Waits for syncs in flight, then closes the file. */
  close(): Promise<void>;
}

/** Pragmas of a writer connection: WAL, and syncs left to `walSync` except around checkpoints. */
export const WAL_NORMAL_PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL'] as const;

/** Syncs `<dbFile>-wal`, which must exist (a WAL-mode connection that has run a statement). */
export function walSync(dbFile: string): WalSync {
  // Read-only is enough: fdatasync applies to the file, whichever descriptor names it.
  const fd = openSync(`${dbFile}-wal`, 'r');
  const inFlight = new Set<Promise<void>>();
  let closed = false;
  const sync = (): Promise<void> => {
    if (closed) return Promise.reject(new Error(`${dbFile}: closed`));
    const p = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    inFlight.add(p);
    const done = (): void => void inFlight.delete(p);
    p.then(done, done);
    return p;
  };
  return {
    // async: the write runs at the call; if it throws, the promise rejects.
    async durably(write) {
      const r = write();
      await sync();
      return r;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...inFlight]);
      closeSync(fd);
    },
  };
}
