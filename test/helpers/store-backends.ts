// The two backends the store suite runs against, each giving a fresh store per test, plus raw SQL
// access for migration tests.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { StoreBackend } from '../../src/store/backend';
import { PostgresBackend } from '../../src/store/postgres-backend';
import { SqliteThreadBackend } from '../../src/store/sqlite-thread';
import { TtsStore, type StoreOptions } from '../../src/store/store';
import type { NewDevice } from '../../src/store/types';
import { createTestDatabase } from './postgres';

export interface TestTarget {
  /** Where the database lives: a file path or a postgres URL. */
  location: string;
  backend(): StoreBackend;
  store(options?: StoreOptions): TtsStore;
  /** Runs SQL with `?` placeholders directly on the database. */
  sql(text: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  cleanup(): Promise<void>;
}

export interface BackendKind {
  name: 'sqlite' | 'postgres';
  create(): Promise<TestTarget>;
}

export const BACKENDS: BackendKind[] = [
  {
    name: 'sqlite',
    async create() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-store-'));
      const file = path.join(dir, 'test.db');
      const opened: TtsStore[] = [];
      return {
        location: file,
        // The SQLite backend as the package runs it: in its worker thread (SqliteBackend inside).
        backend: () => new SqliteThreadBackend(file),
        store(options) {
          const s = new TtsStore(new SqliteThreadBackend(file), { retentionInterval: 0, ...options });
          opened.push(s);
          return s;
        },
        async sql(text, params = []) {
          const db = new Database(file);
          try {
            const stmt = db.prepare(text);
            if (stmt.reader) return stmt.all(...params) as Array<Record<string, unknown>>;
            stmt.run(...params);
            return [];
          } finally {
            db.close();
          }
        },
        async cleanup() {
          for (const s of opened) await s.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async create() {
      const db = await createTestDatabase();
      const opened: TtsStore[] = [];
      return {
        location: db.url,
        backend: () => new PostgresBackend(db.url),
        store(options) {
          const s = new TtsStore(new PostgresBackend(db.url), { retentionInterval: 0, ...options });
          opened.push(s);
          return s;
        },
        async sql(text, params = []) {
          let n = 0;
          const c = new Client({ connectionString: db.url });
          await c.connect();
          try {
            const r = await c.query(
              text.replace(/\?/g, () => `$${++n}`),
              params,
            );
            return r.rows as Array<Record<string, unknown>>;
          } finally {
            await c.end();
          }
        },
        async cleanup() {
          for (const s of opened) await s.close();
          await db.drop();
        },
      };
    },
  },
];

/** The store suites' clock: a fixed morning. */
export const T0 = Date.UTC(2025, 2, 14, 9, 0, 0);

/** A device as provisioning creates it; `overrides` for the test at hand. */
export function newDevice(overrides: Partial<NewDevice> = {}): NewDevice {
  return {
    id: 'dev-probe-01',
    applicationId: 'farm-sensors',
    deviceId: 'probe-01',
    devEui: 'A84041000181C3D2',
    joinEui: 'A840410000000101',
    bucket: 'bkt-probe-01',
    profileId: 'profile-1',
    assetType: 'soil-probe',
    assetGroup: 'north-field',
    connectionTimeout: 60_000,
    at: T0,
    ...overrides,
  };
}
