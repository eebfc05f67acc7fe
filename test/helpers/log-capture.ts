/** The gateway's log lines (pino JSON), parsed, as they are written to `stream`. */
import { Writable } from 'node:stream';

export interface CapturedLog {
  readonly lines: Record<string, unknown>[];
  readonly stream: Writable;
  /** The lines whose message starts with `prefix`. */
  withMessage(prefix: string): Record<string, unknown>[];
}

export function captureLog(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream, withMessage: (prefix) => lines.filter((l) => String(l['msg']).startsWith(prefix)) };
}
