import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../gateway/config/load.js';
import { configPath, findParty, staticConfigSource } from '../../gateway/config/source.js';
import { EXAMPLE, ROOT } from './fixtures.js';

describe('config source helpers', () => {
  it('findParty, configPath, staticConfigSource', async () => {
    const config = await loadConfig(EXAMPLE, { demo: true });
    expect(findParty(config, 'sdis54')?.kind).toBe('partner');
    expect(findParty(config, 'ludres')?.kind).toBe('recipient');
    expect(findParty(config, 'gateway')).toBeUndefined();
    expect(configPath(config, config.settings.keys.sshHostKey)).toBe(join(ROOT, 'keys-example', 'gateway', 'ssh_host_ed25519'));
    expect(configPath(config, '/etc/x')).toBe('/etc/x');
    const source = staticConfigSource(config);
    expect(source.current()).toBe(config);
    expect(typeof source.onChange(() => undefined)).toBe('function');
  });
});
