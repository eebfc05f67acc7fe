import { resolve } from 'node:path';
import { GatewayError } from '../errors.js';
import type { GatewaySettings } from './model.js';

/**
 * Demo-mode overrides from the environment (product.md): PASSERELLE_DATA (data directory,
 * relative to `cwd`), PASSERELLE_SFTP_PORT, PASSERELLE_ADMIN_PORT. A real deployment is
 * configured by its files only, so outside demo mode the settings come back unchanged.
 * Pure: the CLI passes process.env and hands the result to loadConfig's `adjustSettings`.
 */
export function applyEnv(settings: GatewaySettings, env: Readonly<Record<string, string | undefined>>, cwd: string = process.cwd()): GatewaySettings {
  if (!settings.demo) return settings;
  const port = (name: string, current: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return current;
    const n = Number(raw);
    if (!/^[0-9]{1,5}$/.test(raw) || n > 65535) {
      throw new GatewayError('CONFIG_INVALID', `variable d'environnement ${name} invalide : port attendu (0–65535)`, {
        file: '(environnement)',
        path: `/${name}`,
        problem: 'port attendu (0–65535)',
      });
    }
    return n;
  };
  const data = env['PASSERELLE_DATA'];
  return {
    ...settings,
    dataDir: data !== undefined && data !== '' ? resolve(cwd, data) : settings.dataDir,
    sftp: { ...settings.sftp, port: port('PASSERELLE_SFTP_PORT', settings.sftp.port) },
    admin: { ...settings.admin, port: port('PASSERELLE_ADMIN_PORT', settings.admin.port) },
  };
}
