import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Operational log: JSON lines with identifiers only. Record contents, key material and
 * passwords never reach it; the redact list is a second line of defence, not the first.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env['PASSERELLE_LOG_LEVEL'] ?? 'info';
  const opts = {
    level,
    base: { app: 'passerelle' },
    redact: { paths: ['*.password', '*.privateKey', '*.secret', '*.passphrase', '*.totp'], censor: '[redacted]' },
  };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
