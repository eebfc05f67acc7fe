import { resolve } from 'node:path';
import type { AnyParty, ConfigSource, GatewayConfig } from './model.js';

/** A ConfigSource that never changes: for one-shot commands, benchmarks and tests. */
export function staticConfigSource(config: GatewayConfig): ConfigSource {
  return { current: () => config, onChange: () => () => undefined };
}

/** The partner or recipient with this id (party ids are unique across both), if any. */
export function findParty(config: GatewayConfig, id: string): AnyParty | undefined {
  return config.partners.get(id) ?? config.recipients.get(id);
}

/** Absolute path of a file named in the configuration (key files, TLS files: relative to its directory). */
export function configPath(config: GatewayConfig, rel: string): string {
  return resolve(config.dir, rel);
}
