/**
 * Uploads known by (party, dataset, client name), shared by every session of a gateway so
 * that a partner can resume (`reput`) after a dropped connection. The staging file itself is
 * named by the gateway-made upload id; the client name is only the key of this map.
 *
 * An entry is `open` (a handle writes it), `parked` (a partial, or a temporary name closed
 * and awaiting its RENAME; deleted after `keepMs`), or `committed` (remembered for `keepMs`
 * so a client that checks the size after its upload gets an answer).
 */
import { unlink } from 'node:fs/promises';
import type { Logger } from '../log.js';

export type UploadState = 'open' | 'parked' | 'committed';

export interface UploadEntry {
  state: UploadState;
  readonly uploadId: string;
  readonly stagingPath: string;
  size: number;
  mtimeMs: number;
  /** True once a clean CLOSE ended the writing (a temporary name awaiting its RENAME); a partial cut off by a drop is not. */
  closed: boolean;
}

export interface UploadRegistry {
  get(partyId: string, dataset: string, name: string): UploadEntry | undefined;
  /** Marks an entry open (being written); replaces whatever was there. */
  open(partyId: string, dataset: string, name: string, entry: UploadEntry): void;
  /** Keeps a partial or closed temporary file for `keepMs`, then deletes its staging file. */
  park(partyId: string, dataset: string, name: string, entry: UploadEntry): void;
  /** Remembers a committed upload's size for `keepMs` (the staging file now belongs to intake). */
  committed(partyId: string, dataset: string, name: string, entry: UploadEntry): void;
  /** Forgets an entry; deletes its staging file when asked. */
  drop(partyId: string, dataset: string, name: string, deleteFile: boolean): Promise<void>;
  /** Entries of one party in one dataset (for its own listing). */
  list(partyId: string, dataset: string): [string, UploadEntry][];
  /** Stops timers (gateway shutdown, tests). Parked files stay on disk for the next start. */
  close(): void;
}

export function createUploadRegistry(options: { keepMs: () => number; log: Logger }): UploadRegistry {
  const entries = new Map<string, { party: string; dataset: string; name: string; entry: UploadEntry; timer?: NodeJS.Timeout }>();
  const key = (p: string, d: string, n: string): string => JSON.stringify([p, d, n]);

  function clear(k: string): void {
    const cur = entries.get(k);
    if (cur?.timer) clearTimeout(cur.timer);
  }

  function expire(k: string, entry: UploadEntry, deleteFile: boolean): NodeJS.Timeout {
    const t = setTimeout(() => {
      if (entries.get(k)?.entry !== entry) return;
      entries.delete(k);
      if (deleteFile) {
        unlink(entry.stagingPath).catch((err: unknown) => options.log.warn({ err, uploadId: entry.uploadId }, 'staging file removal failed'));
        options.log.info({ uploadId: entry.uploadId }, 'partial upload expired');
      }
    }, options.keepMs());
    t.unref();
    return t;
  }

  return {
    get: (p, d, n) => entries.get(key(p, d, n))?.entry,
    open(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k);
      entry.state = 'open';
      entries.set(k, { party: p, dataset: d, name: n, entry });
    },
    park(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k);
      entry.state = 'parked';
      entries.set(k, { party: p, dataset: d, name: n, entry, timer: expire(k, entry, true) });
    },
    committed(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k);
      entry.state = 'committed';
      entries.set(k, { party: p, dataset: d, name: n, entry, timer: expire(k, entry, false) });
    },
    async drop(p, d, n, deleteFile) {
      const k = key(p, d, n);
      const cur = entries.get(k);
      clear(k);
      entries.delete(k);
      if (cur && deleteFile) await unlink(cur.entry.stagingPath).catch(() => undefined);
    },
    list(p, d) {
      return [...entries.values()].filter((e) => e.party === p && e.dataset === d).map((e) => [e.name, e.entry]);
    },
    close() {
      for (const e of entries.values()) if (e.timer) clearTimeout(e.timer);
    },
  };
}
