/**
 * A stand-in intake until the real pipeline lands: it accepts every committed upload, or
 * answers with the verdict a test chooses. It records what it was given (contexts, pushed
 * byte counts, finish calls) so tests can check what the SFTP layer handed over. The staging
 * file is left in place (the real intake owns it after `finish`).
 */
import type { Intake, IntakeUpload, UploadContext, Verdict } from './contract.js';

export interface StubFinish {
  readonly ctx: UploadContext;
  readonly stagingPath: string;
  readonly size: number;
  /** The name committed under (the final name of a renamed temporary one). */
  readonly clientName: string;
  /** Bytes received through `push` before `finish` (0 when the SFTP layer stopped pushing). */
  readonly pushedBytes: number;
}

export interface StubIntake extends Intake {
  readonly opened: UploadContext[];
  readonly finished: StubFinish[];
  readonly aborted: UploadContext[];
  /** The verdict for the next finishes; defaults to accepted. */
  decide: (ctx: UploadContext, stagingPath: string, size: number) => Verdict | Promise<Verdict>;
}

export const ACCEPTED: Verdict = { status: 'accepted', message: 'fichier accepté / file accepted' };

export function createStubIntake(): StubIntake {
  const stub: StubIntake = {
    opened: [],
    finished: [],
    aborted: [],
    decide: () => ACCEPTED,
    open(ctx: UploadContext): IntakeUpload {
      stub.opened.push(ctx);
      let pushed = 0;
      let done = false;
      return {
        push(chunk) {
          pushed += chunk.length;
          return undefined;
        },
        async finish(stagingPath, size, _sha256, clientName) {
          done = true;
          stub.finished.push({ ctx, stagingPath, size, clientName: clientName ?? ctx.clientName, pushedBytes: pushed });
          return stub.decide(ctx, stagingPath, size);
        },
        abort() {
          if (done) return;
          done = true;
          stub.aborted.push(ctx);
        },
      };
    },
  };
  return stub;
}
