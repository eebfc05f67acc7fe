/**
 * The one interface between the SFTP layer and the intake pipeline. The SFTP layer knows
 * nothing of OpenPGP, schemas or outboxes; the intake knows nothing of SSH.
 */
import type { ErrorCode, GatewayError } from '../errors.js';

export interface UploadContext {
  /** Gateway-made id (ULID-like, sortable); every file name on disk derives from it. */
  readonly uploadId: string;
  readonly partnerId: string;
  readonly datasetId: string;
  /** The name the client gave, kept as data for the receipt and the UI, never as a path. */
  readonly clientName: string;
  /** "ip:port" of the SSH connection. */
  readonly source: string;
}

export type VerdictStatus = 'accepted' | 'duplicate' | 'rejected' | 'failed';

export interface Verdict {
  readonly status: VerdictStatus;
  /** Set for rejected and failed. */
  readonly code?: ErrorCode;
  /** One line, safe to send to the client as the SFTP status message. */
  readonly message: string;
  readonly receiptName?: string;
}

export interface IntakeUpload {
  /**
   * Bytes in file order starting at offset 0, as they become contiguous. The SFTP layer may
   * stop calling this (out-of-order or resumed uploads); `finish` then reads the rest from
   * the staging file.
   *
   * Returns a promise when the intake is behind: the SFTP layer stops reading the client (SSH
   * flow control) until it resolves, so the client sends at the intake's pace and the verdict
   * follows the last byte by about the time the intake needs for what it holds (work.ts,
   * PACE_BYTES), whatever the file's size.
   */
  push(chunk: Buffer): Promise<void> | undefined;
  /**
   * The commit point: the staging file is complete and fsynced; `sha256` is its digest, as
   * computed by the SFTP layer while it arrived (and recorded in the commit's audit entry).
   * `clientName`: the name the upload is committed under, when it is not the one it was opened
   * with (a temporary name renamed onto its final name). Resolves with the verdict.
   */
  finish(stagingPath: string, size: number, sha256: string, clientName?: string): Promise<Verdict>;
  /**
   * The upload will never be committed (aborted, connection lost, a write that failed).
   * `reason`: why, when it is not the client's doing (recorded with the upload). Idempotent.
   */
  abort(reason?: GatewayError): void;
}

export interface Intake {
  open(ctx: UploadContext): IntakeUpload;
}
