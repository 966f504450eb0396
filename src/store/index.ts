import path from 'node:path';
import { PostgresBackend } from './postgres-backend';
import { SqliteThreadBackend } from './sqlite-thread';
import { TtsStore, type StoreOptions } from './store';

export * from './types';
export * from './errors';
export { TtsStore, type StoreOptions, type StoreState, type WriteOutcome } from './store';
export { exportBucket, isExportFormat, readingToRow, type ExportFormat } from './export';
export { toChartPoints, type ChartPoint } from './chart';
export { LATEST_VERSION } from './migrations';

export type StoreConfig =
  | { backend: 'sqlite'; path?: string; userDir?: string }
  | { backend: 'postgres'; connection: string; poolSize?: number };

export const DEFAULT_SQLITE_FILE = 'tts-data.db';

/** The SQLite file for a config: `path` relative to the Node-RED user directory, default tts-data.db. */
export function sqliteFile(userDir: string | undefined, file: string | undefined): string {
  const name = file && file.trim() !== '' ? file.trim() : DEFAULT_SQLITE_FILE;
  if (name === ':memory:') return name;
  return path.resolve(userDir ?? process.cwd(), name);
}

export function createStore(config: StoreConfig, options?: StoreOptions): TtsStore {
  if (config.backend === 'postgres') {
    if (!config.connection || !/^postgres(ql)?:\/\//i.test(config.connection.trim())) {
      throw new Error('PostgreSQL connection must be a postgres:// URL');
    }
    // A PostgreSQL transaction is a round trip and a commit, about as costly as its first ten rows.
    return new TtsStore(new PostgresBackend(config.connection.trim(), config.poolSize), { gatherEach: true, ...options });
  }
  return new TtsStore(new SqliteThreadBackend(sqliteFile(config.userDir, config.path)), options);
}
