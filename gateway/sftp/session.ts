/**
 * The SFTP adapter: ssh2 requests → virtual file system → session operations → one reply.
 * Every path goes through `resolve`; every error through `toSftpStatus`. Limits on open
 * handles and requests in flight end the offending session only.
 */
import type { Session, SFTPWrapper } from 'ssh2';
import { GatewayError } from '../errors.js';
import { resolve, type VfsNode, type VfsOp } from '../vfs/resolve.js';
import { dataReplies, type PreparedData } from './data-replies.js';
import { closeRead, listNode, openRead, prepareRead, readAt, releaseReadBuffer, removeServed, statNode } from './files.js';
import type { FileAttrs, NameEntry } from './listing.js';
import { OPENSSH_LIMITS_EXTENSION, advertiseOpenSshLimits, channelFlow, closeChannelCleanly, clientSentEof } from './ssh2-fixes.js';
import { audit, view, type Handle, type SessionState, type SftpDeps, type SftpLimits, type SftpSessionContext } from './state.js';
import { SFTP_STATUS, Unsupported, refusal, toSftpStatus, type SftpStatusCode } from './status.js';
import { abandon, closeWrite, openWrite, renameUpload, writeAt } from './upload.js';
import { createUploadRegistry } from './uploads.js';

export type { SftpDeps, SftpSessionContext, SftpLimits } from './state.js';

type Reply =
  | { readonly status: SftpStatusCode; readonly message?: string }
  | { readonly code: SftpStatusCode; readonly message: string }
  | { readonly handle: Buffer }
  | { readonly data: Buffer }
  | { readonly prepared: PreparedData }
  | { readonly names: NameEntry[] }
  | { readonly attrs: FileAttrs }
  | { readonly limitsReply: true };

const OK: Reply = { status: SFTP_STATUS.OK };
const EOF: Reply = { status: SFTP_STATUS.EOF };
const READDIR_BATCH = 64;
const PFLAG_READ = 0x01;
const PFLAG_WRITE = 0x02;

/** Serves the SFTP subsystem of an accepted SSH session (ssh2 `Session`). */
export function handleSession(session: Session, ctx: SftpSessionContext, deps: SftpDeps): void {
  session.on('sftp', (accept) => {
    const sftp = accept();
    if (sftp) serveSftp(sftp, ctx, deps);
  });
}

function effectiveLimits(deps: SftpDeps): SftpLimits {
  const l = deps.config.current().settings.limits;
  return {
    maxOpenHandles: l.maxOpenHandles,
    maxInflightRequests: l.maxInflightRequests,
    maxReadLength: l.maxReadLength,
    maxFileBytes: l.maxFileBytes,
    partialUploadKeepMs: l.partialUploadKeepMs,
    renameWaitMs: l.renameWaitMs,
    ...deps.limits,
  };
}

export function serveSftp(sftp: SFTPWrapper, ctx: SftpSessionContext, deps: SftpDeps): void {
  const limits = effectiveLimits(deps);
  const uploads = deps.uploads ?? createUploadRegistry({ keepMs: () => limits.partialUploadKeepMs, log: deps.log });
  const flow = channelFlow(sftp);
  const replies = dataReplies(sftp, () => ctx.outputFlushed());
  const s: SessionState = { ctx, deps, uploads, limits, alive: true, hold: (until) => flow.hold(until) };
  const handles = new Map<number, Handle>();
  // The largest WRITE ssh2 accepts is a 256 KiB packet; OpenSSH's own server announces 255 KiB.
  const limitsExt = advertiseOpenSshLimits(sftp, {
    maxPacketLength: 256 * 1024,
    maxReadLength: Math.min(limits.maxReadLength, 255 * 1024),
    maxWriteLength: 255 * 1024,
    maxOpenHandles: limits.maxOpenHandles,
  });
  let nextHandle = 1;
  let opening = 0;
  let inflight = 0;
  let endRequested = false;
  let cleanedUp = false;

  const fail = (code: 'LIMIT_HANDLES' | 'LIMIT_REQUESTS'): void => {
    if (!s.alive) return;
    ctx.log.warn({ connId: ctx.connId, code }, 'sftp session limit reached, closing');
    void audit(s, { type: 'sftp.limit', outcome: 'failure', details: { code } }).catch(() => undefined);
    void cleanup();
    ctx.closeConnection(code);
  };

  const send = (reqid: number, r: Reply): void => {
    if ('prepared' in r) replies.data(r.prepared);
    else replies.other(() => sendThroughSsh2(reqid, r));
  };

  const sendThroughSsh2 = (reqid: number, r: Exclude<Reply, { prepared: PreparedData }>): void => {
    if ('status' in r) sftp.status(reqid, r.status, r.message);
    else if ('code' in r) sftp.status(reqid, r.code, r.message);
    else if ('handle' in r) sftp.handle(reqid, r.handle);
    else if ('data' in r) {
      sftp.data(reqid, r.data);
      releaseReadBuffer(r.data);
    }
    else if ('names' in r) sftp.name(reqid, r.names);
    else if ('attrs' in r) sftp.attrs(reqid, r.attrs);
    else limitsExt.reply(reqid);
  };

  const maybeFinish = (): void => {
    if (endRequested && inflight === 0 && replies.waiting === 0) {
      void cleanup().finally(() => closeChannelCleanly(sftp));
    }
  };
  replies.onIdle(maybeFinish);

  /**
   * Runs one request; `fn` runs synchronously up to its first await, so WRITEs queue in
   * arrival order. With `ordered`, the reply waits for the previous reply on the same handle:
   * OpenSSH's scp truncates a download whose READ replies arrive out of order.
   */
  const run = (reqid: number, fn: () => Promise<Reply>, ordered?: { tail: Promise<void> }): void => {
    if (inflight >= limits.maxInflightRequests) return fail('LIMIT_REQUESTS');
    inflight++;
    let p: Promise<Reply>;
    try {
      p = fn();
    } catch (err) {
      p = Promise.reject(err);
    }
    const previous = ordered?.tail;
    const replied = p
      .then(
        (r) => r,
        (err: unknown): Reply => {
          if (!(err instanceof GatewayError) && !(err instanceof Unsupported)) ctx.log.error({ err, connId: ctx.connId }, 'sftp request failed');
          return toSftpStatus(err);
        },
      )
      .then(async (r) => {
        if (previous) await previous;
        inflight--;
        if (s.alive || endRequested) send(reqid, r);
        maybeFinish();
      })
      .catch(() => undefined);
    if (ordered) ordered.tail = replied;
  };

  /** The reply chain of a handle (READ and WRITE replies leave in request order). */
  const chainOf = (hbuf: Buffer): { tail: Promise<void> } | undefined => {
    const h = hbuf.length === 4 ? handles.get(hbuf.readUInt32BE(0)) : undefined;
    return h && h.kind !== 'dir' ? h.replies : undefined;
  };

  const at = (op: VfsOp, path: string): VfsNode => {
    const r = resolve(view(s), op, path);
    if (!r.ok) throw refusal(r.code);
    return r.node;
  };

  const handleOf = (buf: Buffer): Handle => {
    const h = buf.length === 4 ? handles.get(buf.readUInt32BE(0)) : undefined;
    if (!h) throw new GatewayError('PATH_NOT_FOUND', 'handle inconnu / invalid handle');
    return h;
  };

  const addHandle = (h: Handle): Reply => {
    const id = nextHandle++;
    handles.set(id, h);
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(id, 0);
    return { handle: buf };
  };

  const cleanup = async (): Promise<void> => {
    if (cleanedUp) return;
    cleanedUp = true;
    s.alive = false;
    const open = [...handles.values()];
    handles.clear();
    for (const h of open) {
      if (h.kind === 'write') await abandon(s, h).catch((err: unknown) => ctx.log.error({ err }, 'abandon failed'));
      else if (h.kind === 'read') await closeRead(s, h).catch(() => undefined);
    }
    if (!deps.uploads) await uploads.close();
    limitsExt.restore();
    flow.restore();
    replies.close();
    await audit(s, { type: 'sftp.session.close', outcome: 'info', refs: { connId: ctx.connId } }).catch(() => undefined);
  };

  ctx.onConnectionClose(() => void cleanup());
  sftp.on('close', () => void cleanup());
  sftp.on('end', () => {
    // Client EOF (e.g. `bye`): finish what is in flight, then close the channel ourselves (ssh2-fixes.ts).
    if (!clientSentEof(sftp)) return void cleanup();
    endRequested = true;
    maybeFinish();
  });
  sftp.on('error', (err: Error) => ctx.log.warn({ err, connId: ctx.connId }, 'sftp protocol error'));

  void audit(s, { type: 'sftp.session.open', outcome: 'success', refs: { connId: ctx.connId } }).catch(() => undefined);

  sftp.on('OPEN', (reqid: number, filename: string, pflags: number) =>
    run(reqid, async () => {
      // Opens still in progress count too, so concurrent OPENs cannot overshoot the cap.
      if (handles.size + opening >= limits.maxOpenHandles) {
        fail('LIMIT_HANDLES');
        throw new GatewayError('LIMIT_HANDLES', 'trop de fichiers ouverts / too many open handles');
      }
      opening++;
      try {
        if (pflags & PFLAG_WRITE) {
          const node = at('open-write', filename);
          if (node.type !== 'upload') throw refusal('PERMISSION_DENIED');
          const h = await openWrite(s, node, pflags);
          if (!s.alive) {
            await abandon(s, h);
            throw new GatewayError('UPLOAD_INCOMPLETE', 'session terminée / session ended');
          }
          return addHandle(h);
        }
        if (!(pflags & PFLAG_READ)) throw refusal('PERMISSION_DENIED');
        const node = at('open-read', filename);
        if (node.type !== 'receipt' && node.type !== 'delivery') throw refusal('PERMISSION_DENIED');
        const h = await openRead(s, node);
        if (!s.alive) {
          await closeRead(s, h);
          throw new GatewayError('PATH_NOT_FOUND', 'session terminée / session ended');
        }
        return addHandle(h);
      } finally {
        opening--;
      }
    }),
  );

  sftp.on('WRITE', (reqid: number, hbuf: Buffer, offset: number, data: Buffer) =>
    run(reqid, async () => {
      const h = handleOf(hbuf);
      if (h.kind !== 'write') throw refusal('PERMISSION_DENIED');
      await writeAt(s, h, offset, data);
      return OK;
    }, chainOf(hbuf)),
  );

  sftp.on('READ', (reqid: number, hbuf: Buffer, offset: number, len: number) =>
    run(reqid, async () => {
      const h = handleOf(hbuf);
      if (h.kind !== 'read') throw refusal('PERMISSION_DENIED');
      const prepared = prepareRead(s, h, offset, len, (n, read) => replies.prepare(reqid, n, read));
      if (prepared) return { prepared };
      const data = await readAt(s, h, offset, len);
      return data ? { data } : EOF;
    }, chainOf(hbuf)),
  );

  sftp.on('CLOSE', (reqid: number, hbuf: Buffer) =>
    run(reqid, async () => {
      const h = handleOf(hbuf);
      handles.delete(hbuf.readUInt32BE(0));
      if (h.kind === 'write') {
        const verdict = await closeWrite(s, h);
        return verdict ? { status: SFTP_STATUS.OK, message: verdict.message } : OK;
      }
      if (h.kind === 'read') await closeRead(s, h);
      return OK;
    }),
  );

  sftp.on('OPENDIR', (reqid: number, path: string) =>
    run(reqid, async () => addHandle({ kind: 'dir', entries: await listNode(s, at('opendir', path)), pos: 0 })),
  );

  sftp.on('READDIR', (reqid: number, hbuf: Buffer) =>
    run(reqid, async () => {
      const h = handleOf(hbuf);
      if (h.kind !== 'dir') throw refusal('PERMISSION_DENIED');
      if (h.pos >= h.entries.length) return EOF; // ssh2-fixes.ts, fix 3
      const names = h.entries.slice(h.pos, h.pos + READDIR_BATCH);
      h.pos += names.length;
      return { names };
    }),
  );

  const stat = (reqid: number, path: string): void => run(reqid, async () => ({ attrs: await statNode(s, at('stat', path)) }));
  sftp.on('STAT', stat);
  sftp.on('LSTAT', stat);

  sftp.on('FSTAT', (reqid: number, hbuf: Buffer) =>
    run(reqid, async () => {
      const h = handleOf(hbuf);
      if (h.kind === 'write') return { attrs: await statNode(s, { type: 'upload', dataset: h.dataset, name: h.name, temporary: h.temporary }) };
      if (h.kind === 'read') return { attrs: await statNode(s, h.node) };
      throw refusal('PERMISSION_DENIED');
    }),
  );

  // Times and modes of uploads are not kept: accepting the request lets clients that set
  // them (rclone, WinSCP) succeed without the gateway storing anything a client chose.
  sftp.on('SETSTAT', (reqid: number, path: string) =>
    run(reqid, async () => {
      await statNode(s, at('setstat', path));
      return OK;
    }),
  );
  sftp.on('FSETSTAT', (reqid: number, hbuf: Buffer) =>
    run(reqid, async () => {
      if (handleOf(hbuf).kind !== 'write') throw refusal('PERMISSION_DENIED');
      return OK;
    }),
  );

  sftp.on('REALPATH', (reqid: number, path: string) =>
    run(reqid, async () => {
      const r = resolve(view(s), 'realpath', path);
      if (!r.ok) throw refusal(r.code);
      return { names: [{ filename: r.path, longname: r.path, attrs: {} as FileAttrs }] };
    }),
  );

  sftp.on('REMOVE', (reqid: number, path: string) =>
    run(reqid, async () => {
      const node = at('remove', path);
      if (node.type === 'receipt' || node.type === 'delivery') await removeServed(s, node);
      else if (node.type === 'upload') await removeUpload(s, node);
      else throw refusal('PERMISSION_DENIED');
      return OK;
    }),
  );

  sftp.on('RENAME', (reqid: number, oldPath: string, newPath: string) =>
    run(reqid, async () => {
      const from = at('rename-from', oldPath);
      const to = at('rename-to', newPath);
      if (from.type !== 'upload' || to.type !== 'upload') throw refusal('PERMISSION_DENIED');
      const verdict = await renameUpload(s, from, to);
      return verdict ? { status: SFTP_STATUS.OK, message: verdict.message } : OK;
    }),
  );

  sftp.on('MKDIR', (reqid: number, path: string) => run(reqid, async () => (at('mkdir', path), refused())));
  sftp.on('RMDIR', (reqid: number, path: string) => run(reqid, async () => (at('rmdir', path), refused())));
  sftp.on('SYMLINK', (reqid: number, target: string, link: string) =>
    run(reqid, async () => (at('link', link), at('stat', target), refused())),
  );
  sftp.on('READLINK', (reqid: number) => run(reqid, async () => Promise.reject(new Unsupported('readlink'))));
  sftp.on('EXTENDED', (reqid: number, name: string) =>
    run(reqid, async () => {
      if (name === OPENSSH_LIMITS_EXTENSION) return { limitsReply: true } as const;
      throw new Unsupported(name.slice(0, 64));
    }),
  );
}

function refused(): never {
  throw refusal('PERMISSION_DENIED');
}

async function removeUpload(s: SessionState, node: Extract<VfsNode, { type: 'upload' }>): Promise<void> {
  const partyId = s.ctx.party.id;
  const e = s.uploads.get(partyId, node.dataset, node.name);
  if (!e) throw refusal('PATH_NOT_FOUND');
  if (e.state !== 'parked') throw refusal('PERMISSION_DENIED');
  await s.uploads.drop(partyId, node.dataset, node.name, true);
}
