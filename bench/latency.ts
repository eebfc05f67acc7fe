/**
 * Verdict latency (performance.md): the time from the reply to an upload's last WRITE to the
 * reply to its CLOSE, which carries the verdict. Stock clients do not show when their last
 * WRITE was answered, so this upload is made with ssh2's client: 255 KiB WRITEs in file order,
 * 64 in flight, as OpenSSH's sftp does.
 */
import { open } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Client, type SFTPWrapper } from 'ssh2';
import type { SftpTarget } from './sftp.js';

const WRITE_BYTES = 255 * 1024;
const IN_FLIGHT = 64;

export interface LatencyRun {
  /** Connection to CLOSE reply. */
  readonly totalMs: number;
  /** Last WRITE reply to CLOSE reply. */
  readonly verdictMs: number;
  /** The CLOSE status: undefined when accepted, else the server's message. */
  readonly refusal: string | undefined;
}

function hostKeyOf(knownHosts: string): Buffer {
  const b64 = readFileSync(knownHosts, 'utf8').trim().split(/\s+/)[2];
  if (!b64) throw new Error(`no host key in ${knownHosts}`);
  return Buffer.from(b64, 'base64');
}

export async function uploadTimed(t: SftpTarget, local: string, remote: string): Promise<LatencyRun> {
  const start = performance.now();
  const client = new Client();
  const hostKey = hostKeyOf(t.knownHosts);
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({ host: t.host, port: t.port, username: t.user, privateKey: readFileSync(t.identity), hostVerifier: (k: Buffer) => k.equals(hostKey) });
  });
  const file = await open(local, 'r');
  try {
    const sftp = await new Promise<SFTPWrapper>((res, rej) => client.sftp((e, s) => (e ? rej(e) : res(s))));
    const handle = await new Promise<Buffer>((res, rej) => sftp.open(remote, 'w', (e, h) => (e ? rej(e) : res(h))));
    const size = (await file.stat()).size;
    let lastReply = performance.now();
    // In file order, as OpenSSH's sftp sends them (reads are sequential, up to 64 WRITEs wait
    // for their replies): a server may treat WRITEs that arrive out of order differently.
    let inFlight = 0;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const settled = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    for (let pos = 0; pos < size && !failure; pos += WRITE_BYTES) {
      while (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
      const buf = Buffer.allocUnsafe(WRITE_BYTES);
      const { bytesRead } = await file.read(buf, 0, WRITE_BYTES, pos);
      inFlight++;
      sftp.write(handle, buf, 0, bytesRead, pos, (e) => {
        inFlight--;
        if (e) failure ??= e;
        lastReply = performance.now();
        settled();
      });
    }
    while (inFlight > 0) await new Promise<void>((r) => (wake = r));
    if (failure) throw failure;
    const refusal = await new Promise<string | undefined>((res) => sftp.close(handle, (e) => res(e ? e.message : undefined)));
    const end = performance.now();
    return { totalMs: end - start, verdictMs: end - lastReply, refusal };
  } finally {
    await file.close();
    client.end();
  }
}
