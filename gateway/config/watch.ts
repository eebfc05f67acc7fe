/**
 * The running configuration, reloaded when a configuration or key file changes. A valid
 * result replaces the snapshot and is announced to `onChange` listeners; an invalid one is
 * refused with one log line, announced to `onRefused` listeners (the caller audits both:
 * `config.loaded` / `config.refused`), and the running snapshot stays.
 */
import { dirname } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadConfigReport, type LoadOptions } from './load.js';
import type { ConfigSource, GatewayConfig } from './model.js';
import { problemsOf } from './problems.js';

export interface WatchOptions extends LoadOptions {
  /** Quiet time after the last file event before reloading (default 200 ms: editors write in bursts). */
  readonly debounceMs?: number;
}

export interface WatchedConfig extends ConfigSource {
  /** Called with the refusal of an invalid change; returns an unsubscribe function. */
  onRefused(listener: (error: GatewayError) => void): () => void;
  /** Reloads now, as a file change would; resolves once the new snapshot is in place or refused. */
  reload(): Promise<'loaded' | 'refused'>;
  close(): Promise<void>;
}

export async function watchConfig(file: string, opts: WatchOptions, log: Logger): Promise<WatchedConfig> {
  const first = await loadConfigReport(file, opts); // an invalid configuration at start is the caller's error
  let current: GatewayConfig = first.config;
  let files = new Set(first.files);
  const changeListeners = new Set<(next: GatewayConfig, previous: GatewayConfig) => void>();
  const refusedListeners = new Set<(error: GatewayError) => void>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<'loaded' | 'refused'> | undefined;
  let again = false;
  let closed = false;

  const watcher: FSWatcher = watch([...dirsOf(files)], { ignoreInitial: true, depth: 0 });
  watcher.on('all', (_event, path) => {
    if (closed || !files.has(path)) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, opts.debounceMs ?? 200);
  });
  watcher.on('error', (err) => log.warn({ err }, 'surveillance de la configuration : erreur du watcher'));
  await new Promise<void>((resolveReady) => watcher.once('ready', () => resolveReady()));

  async function reloadOnce(): Promise<'loaded' | 'refused'> {
    try {
      const report = await loadConfigReport(file, opts);
      const previous = current;
      current = report.config;
      const added = [...dirsOf(report.files)].filter((d) => !dirsOf(files).has(d));
      files = new Set(report.files);
      if (added.length > 0) watcher.add(added);
      log.info({ file: current.file, partners: current.partners.size, recipients: current.recipients.size }, 'configuration rechargée');
      for (const l of changeListeners) {
        try {
          l(current, previous);
        } catch (err) {
          log.error({ err }, 'configuration : un abonné a échoué');
        }
      }
      return 'loaded';
    } catch (e) {
      const err = isGatewayError(e) ? e : new GatewayError('CONFIG_UNREADABLE', e instanceof Error ? e.message : String(e), {}, { cause: e });
      const p = problemsOf(err)[0];
      log.error(
        { code: err.code, file: p?.file, path: p?.path, problem: p?.problem, problems: problemsOf(err).length },
        'configuration refusée : la configuration en cours reste active',
      );
      for (const l of refusedListeners) {
        try {
          l(err);
        } catch (lerr) {
          log.error({ err: lerr }, 'configuration : un abonné a échoué');
        }
      }
      return 'refused';
    }
  }

  // One reload at a time; a change during a reload triggers one more afterwards.
  function reload(): Promise<'loaded' | 'refused'> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let result = await reloadOnce();
      while (again && !closed) {
        again = false;
        result = await reloadOnce();
      }
      running = undefined;
      return result;
    })();
    return running;
  }

  return {
    current: () => current,
    onChange(listener) {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
    onRefused(listener) {
      refusedListeners.add(listener);
      return () => refusedListeners.delete(listener);
    },
    reload,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}

function dirsOf(files: Iterable<string>): Set<string> {
  return new Set([...files].map((f) => dirname(f)));
}
