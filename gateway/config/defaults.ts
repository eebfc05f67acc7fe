import type { Limits } from './model.js';

/**
 * Defaults for every limit (security.md, "Bounded resources"). A deployment overrides any of
 * them in passerelle.json `settings.limits`; the schema documents the same values.
 */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxConnections: 1000, // pre-auth + authenticated SSH connections, all sources
  maxConnectionsPerSource: 50, // per source IP address
  handshakeTimeoutMs: 20_000, // TCP accept → authenticated
  idleTimeoutMs: 10 * 60_000, // no SFTP request for this long ends the session
  keepaliveIntervalMs: 15_000,
  maxAuthAttempts: 6, // per connection
  banAfterFailures: 10, // failed authentications from one source within banWindowMs…
  banWindowMs: 10 * 60_000,
  banDurationMs: 15 * 60_000, // …ban that source this long
  maxOpenHandles: 64, // per SFTP session
  maxInflightRequests: 256, // per SFTP session
  maxReadLength: 256 * 1024, // bytes per SFTP READ
  maxFileBytes: 4 * 1024 ** 3, // uploaded (encrypted) file
  maxDecompressedBytes: 8 * 1024 ** 3, // plaintext after OpenPGP decompression
  maxRecords: 5_000_000, // per file
  maxErrors: 100, // errors collected per file (receipt lists these)
  partialUploadKeepMs: 24 * 3600_000, // an interrupted upload may be resumed this long
  renameWaitMs: 30_000, // a closed temporary name keeps its streamed pipeline this long for its RENAME
  signatureMaxAgeMs: 7 * 24 * 3600_000, // replay window for the partner's signature time
  decryptStallMs: 30_000, // OpenPGP decryption that neither reads nor writes this long: refused (pgp/open.ts)
  intakeThreadStallMs: 60_000, // an intake thread silent this long is ended and replaced (intake/worker-pool.ts)
});

export const DEFAULT_SETTINGS = Object.freeze({
  dataDir: 'var', // relative to the configuration directory
  sftp: Object.freeze({ host: '127.0.0.1', port: 2222 }),
  admin: Object.freeze({ host: '127.0.0.1', port: 8443 }),
  audit: Object.freeze({ origin: 'passerelle.grand-nancy.example/audit', retentionDays: 365, checkpointIntervalMs: 60_000 }),
  csvMaxLineBytes: 64 * 1024,
  ndjsonMaxLineBytes: 64 * 1024,
  recipientDeleteAllowed: true,
  validation: 'all_or_nothing' as const,
});
