/**
 * A real full disk for tests: a command run in a private mount namespace where `mountPoint` is
 * a tmpfs of `bytes` (util-linux `unshare`; as root directly, otherwise in a user namespace
 * where the caller is root). The mount lives and dies with the command; from outside, its files
 * are reached through /proc/<pid>/root (`inside`).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export type NamespacedChild = ChildProcessByStdio<Writable, Readable, Readable>;

export function spawnOnTmpfs(mountPoint: string, bytes: number, command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): NamespacedChild {
  const userns = process.getuid?.() === 0 ? [] : ['--user', '--map-root-user'];
  const script = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"';
  return spawn('unshare', [...userns, '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', String(bytes), mountPoint, command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...opts,
  });
}

/** `path` as the namespaced process `pid` sees it (its tmpfs included). */
export function inside(pid: number, path: string): string {
  return `/proc/${pid}/root${path}`;
}
