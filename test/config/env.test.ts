import { describe, expect, it } from 'vitest';
import { applyEnv } from '../../gateway/config/env.js';
import { loadConfig } from '../../gateway/config/load.js';
import { EXAMPLE } from './fixtures.js';

describe('applyEnv', () => {
  it('overrides data directory and ports in demo mode', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    const s = applyEnv(config.settings, { PASSERELLE_DATA: 'tmp/data', PASSERELLE_SFTP_PORT: '0', PASSERELLE_ADMIN_PORT: '9443' }, '/srv');
    expect(s.dataDir).toBe('/srv/tmp/data');
    expect(s.sftp).toEqual({ host: '127.0.0.1', port: 0 });
    expect(s.admin).toEqual({ host: '127.0.0.1', port: 9443 });
    expect(s.limits).toBe(config.settings.limits);
    expect(applyEnv(config.settings, {}, '/srv')).toEqual(config.settings);
  });

  it('is what loadConfig applies through adjustSettings, before freezing', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true, adjustSettings: (s) => applyEnv(s, { PASSERELLE_SFTP_PORT: '2022' }) });
    expect(config.settings.sftp.port).toBe(2022);
    expect(Object.isFrozen(config.settings.sftp)).toBe(true);
  });

  it('refuses a bad port with CONFIG_INVALID', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    for (const bad of ['70000', '-1', '22a', '1e3']) {
      expect(() => applyEnv(config.settings, { PASSERELLE_ADMIN_PORT: bad })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('leaves a real deployment alone', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    const real = { ...config.settings, demo: false };
    expect(applyEnv(real, { PASSERELLE_SFTP_PORT: '1' })).toBe(real);
  });
});
