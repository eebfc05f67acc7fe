/**
 * Uploads known by (party, dataset, client name), shared by every session of a gateway so
 * that a partner can resume (`reput`) after a dropped connection. The staging file itself is
 * named by the gateway-made upload id; the client name is only the key of this map.
 *
 * An entry is `open` (a handle writes it), `parked` (a partial, or a temporary name closed
 * and awaiting its RENAME; deleted after `keepMs`), or `committed` (remembered for `keepMs`
 * so a client that checks the size after its upload gets an answer).
 *
 * A parked entry is also written beside its staging file (`<upload-id>.parked`), so that a
 * gateway restart (a configuration deployment, a crash) does not cost the partner a resend:
 * `restore` takes them back at start, for what is left of their `keepMs`.
 */
import { readdir, readFile, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { IntakeUpload } from '../intake/contract.js';
import type { Logger } from '../log.js';
import { isUploadId } from '../paths.js';

export type UploadState = 'open' | 'parked' | 'committed';

export interface UploadEntry {
  state: UploadState;
  readonly uploadId: string;
  readonly stagingPath: string;
  size: number;
  mtimeMs: number;
  /** True once a clean CLOSE ended the writing (a temporary name awaiting its RENAME); a partial cut off by a drop is not. */
  closed: boolean;
  /** The file's SHA-256 as computed while it arrived, when a clean CLOSE ended it (not kept across restarts). */
  sha256?: string;
  /**
   * The pipeline that followed a temporary name's bytes while they arrived, waiting for the
   * RENAME that commits it. Aborted when the entry is discarded (this registry) or when the
   * RENAME is late (upload.ts); the upload is then committed under a new id, from the file.
   */
  intake?: IntakeUpload;
}

/** Aborts the pipeline an entry holds, if any: its upload will not be committed under that id. */
export function releaseIntake(entry: UploadEntry): void {
  const intake = entry.intake;
  entry.intake = undefined;
  intake?.abort();
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
  /**
   * At start, before any session: takes back the parked entries recorded in `stagingDir` that
   * have not expired (their file cut to the recorded size), and deletes everything else there.
   */
  restore(stagingDir: string): Promise<{ restored: number; removed: number }>;
  /**
   * Stops timers (gateway shutdown, tests); resolves once the parked records being written are
   * on disk. Parked files stay there for the next start.
   */
  close(): Promise<void>;
}

const PARKED_SUFFIX = '.parked';

/** What `<upload-id>.parked` holds. */
interface ParkedRecord {
  readonly v: 1;
  readonly party: string;
  readonly dataset: string;
  readonly name: string;
  readonly size: number;
  readonly closed: boolean;
  readonly parkedAtMs: number;
}

function parseParked(text: string): ParkedRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<ParkedRecord>;
    const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
    const nat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (r.v !== 1 || !str(r.party) || !str(r.dataset) || !str(r.name) || !nat(r.size) || !nat(r.parkedAtMs) || typeof r.closed !== 'boolean') return undefined;
    return r as ParkedRecord;
  } catch {
    return undefined;
  }
}

export function createUploadRegistry(options: { keepMs: () => number; log: Logger; now?: () => number }): UploadRegistry {
  const entries = new Map<string, { party: string; dataset: string; name: string; entry: UploadEntry; timer?: NodeJS.Timeout }>();
  const key = (p: string, d: string, n: string): string => JSON.stringify([p, d, n]);
  const now = options.now ?? Date.now;

  // Record files are written and removed in the order asked, per staging file: a park right
  // after a drop of the same file must not be undone by the drop's late unlink.
  const chains = new Map<string, Promise<void>>();
  function recordOp(stagingPath: string, op: (record: string) => Promise<unknown>): void {
    const record = stagingPath + PARKED_SUFFIX;
    const next = (chains.get(record) ?? Promise.resolve())
      .then(() => op(record))
      .then(
        () => undefined,
        (err: unknown) => options.log.warn({ err, file: basename(record) }, 'parked upload record not updated'),
      );
    chains.set(record, next);
    void next.then(() => {
      if (chains.get(record) === next) chains.delete(record);
    });
  }
  const writeRecord = (p: string, d: string, n: string, entry: UploadEntry): void => {
    const body: ParkedRecord = { v: 1, party: p, dataset: d, name: n, size: entry.size, closed: entry.closed, parkedAtMs: now() };
    recordOp(entry.stagingPath, async (record) => {
      await writeFile(record + '.tmp', JSON.stringify(body), { mode: 0o600 });
      await rename(record + '.tmp', record);
    });
  };
  const removeRecord = (entry: UploadEntry): void => recordOp(entry.stagingPath, (record) => unlink(record).catch(() => undefined));

  /** Stops the timer of the entry under `k`, and forgets its record if it was parked; `next` replaces it. */
  function clear(k: string, next?: UploadEntry): void {
    const cur = entries.get(k);
    if (cur?.timer) clearTimeout(cur.timer);
    if (cur?.entry.state === 'parked') removeRecord(cur.entry);
    if (cur && cur.entry !== next) releaseIntake(cur.entry);
  }

  function expire(k: string, entry: UploadEntry, deleteFile: boolean, afterMs = options.keepMs()): NodeJS.Timeout {
    const t = setTimeout(() => {
      if (entries.get(k)?.entry !== entry) return;
      entries.delete(k);
      if (deleteFile) {
        releaseIntake(entry);
        recordOp(entry.stagingPath, async (record) => {
          await unlink(record).catch(() => undefined);
          await unlink(entry.stagingPath).catch((err: unknown) => options.log.warn({ err, uploadId: entry.uploadId }, 'staging file removal failed'));
        });
        options.log.info({ uploadId: entry.uploadId }, 'partial upload expired');
      }
    }, Math.max(0, afterMs));
    t.unref();
    return t;
  }

  return {
    get: (p, d, n) => entries.get(key(p, d, n))?.entry,
    open(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k, entry);
      entry.state = 'open';
      entries.set(k, { party: p, dataset: d, name: n, entry });
    },
    park(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k, entry);
      entry.state = 'parked';
      entries.set(k, { party: p, dataset: d, name: n, entry, timer: expire(k, entry, true) });
      writeRecord(p, d, n, entry);
    },
    committed(p, d, n, entry) {
      const k = key(p, d, n);
      clear(k, entry);
      entry.state = 'committed';
      entries.set(k, { party: p, dataset: d, name: n, entry, timer: expire(k, entry, false) });
    },
    async drop(p, d, n, deleteFile) {
      const k = key(p, d, n);
      const cur = entries.get(k);
      // Without its file the entry is discarded; with it, it is being moved (a RENAME).
      clear(k, deleteFile ? undefined : cur?.entry);
      entries.delete(k);
      if (cur && deleteFile) await unlink(cur.entry.stagingPath).catch(() => undefined);
    },
    list(p, d) {
      return [...entries.values()].filter((e) => e.party === p && e.dataset === d).map((e) => [e.name, e.entry]);
    },
    async restore(stagingDir) {
      const names = await readdir(stagingDir);
      const kept = new Set<string>();
      let restored = 0;
      for (const recordName of names.filter((f) => f.endsWith(PARKED_SUFFIX))) {
        const id = recordName.slice(0, -PARKED_SUFFIX.length);
        const stagingPath = join(stagingDir, id);
        const r = isUploadId(id) ? parseParked(await readFile(join(stagingDir, recordName), 'utf8').catch(() => '')) : undefined;
        const st = await stat(stagingPath).catch(() => undefined);
        const left = r ? r.parkedAtMs + options.keepMs() - now() : 0;
        if (!r || !st?.isFile() || left <= 0 || entries.has(key(r.party, r.dataset, r.name))) continue;
        // Only what the record vouches for: bytes past it were never acknowledged as kept.
        const size = Math.min(r.size, st.size);
        if (st.size > size) await truncate(stagingPath, size);
        const entry: UploadEntry = { state: 'parked', uploadId: id, stagingPath, size, mtimeMs: st.mtimeMs, closed: r.closed && size === r.size };
        const k = key(r.party, r.dataset, r.name);
        entries.set(k, { party: r.party, dataset: r.dataset, name: r.name, entry, timer: expire(k, entry, true, left) });
        kept.add(id).add(recordName);
        restored++;
        options.log.info({ uploadId: id, bytes: size }, 'partial upload restored');
      }
      let removed = 0;
      for (const f of names) {
        if (kept.has(f)) continue;
        await rm(join(stagingDir, f), { recursive: true, force: true }).then(() => removed++, (err: unknown) => options.log.warn({ err, file: f }, 'staging file removal failed'));
      }
      return { restored, removed };
    },
    async close() {
      for (const e of entries.values()) {
        if (e.timer) clearTimeout(e.timer);
        releaseIntake(e.entry);
      }
      await Promise.all(chains.values());
    },
  };
}
