// Versioned schema migrations, one list per dialect. A migration is applied once, in order, in a
// transaction that also records the new version in tts_schema. Never edit a released migration:
// add the next one. Both lists must have the same length and the same meaning per version.
//
// Readings are keyed (bucket, ts, f_cnt): a small integer bucket key first, then time, so every
// bucket's rows are one time-ordered index range (cheap "last N" reads and range deletes), and
// the key doubles as the idempotency check (the same uplink written twice is one row).

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  description: string;
  statements: string[];
}

const SQLITE: Migration[] = [
  {
    version: 1,
    description: 'devices, buckets, readings',
    statements: [
      `CREATE TABLE tts_buckets (
        key INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        device TEXT,
        created_at INTEGER NOT NULL
      )`,
      `CREATE TABLE tts_devices (
        id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        dev_eui TEXT,
        join_eui TEXT,
        bucket TEXT NOT NULL,
        profile_id TEXT NOT NULL DEFAULT '',
        asset_type TEXT NOT NULL DEFAULT '',
        asset_group TEXT NOT NULL DEFAULT '',
        connection_timeout INTEGER NOT NULL,
        location TEXT,
        metadata TEXT,
        downlink TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seen INTEGER,
        uplink_count INTEGER NOT NULL DEFAULT 0,
        last_f_cnt INTEGER,
        UNIQUE (application_id, device_id)
      )`,
      // Rows append in rowid order; the small unique index keeps each bucket time-ordered. Measured
      // against a table clustered on the key (WITHOUT ROWID): 1.3-1.8x faster batched inserts with
      // rows interleaved over 1,000 buckets, and "newest 1,000 of a bucket" still well under 1 ms.
      `CREATE TABLE tts_readings (
        bucket INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        f_cnt INTEGER NOT NULL,
        f_port INTEGER,
        data TEXT NOT NULL
      )`,
      'CREATE UNIQUE INDEX tts_readings_key ON tts_readings (bucket, ts, f_cnt)',
    ],
  },
  {
    version: 2,
    description: 'bucket retention, radio summary beside readings',
    statements: [
      'ALTER TABLE tts_buckets ADD COLUMN max_age INTEGER',
      'ALTER TABLE tts_buckets ADD COLUMN max_rows INTEGER',
      'ALTER TABLE tts_readings ADD COLUMN radio TEXT',
    ],
  },
  {
    version: 3,
    description: 'device connection state, lost frames, location source rank',
    statements: [
      'ALTER TABLE tts_devices ADD COLUMN online INTEGER NOT NULL DEFAULT 1',
      'ALTER TABLE tts_devices ADD COLUMN state_changed_at INTEGER',
      'ALTER TABLE tts_devices ADD COLUMN lost_frames INTEGER NOT NULL DEFAULT 0',
      'ALTER TABLE tts_devices ADD COLUMN last_uplink_at INTEGER',
      'ALTER TABLE tts_devices ADD COLUMN location_rank INTEGER',
      // Existing devices keep their last sighting as the reference for f_cnt gaps.
      'UPDATE tts_devices SET last_uplink_at = last_seen WHERE last_f_cnt IS NOT NULL',
      'CREATE INDEX tts_devices_online ON tts_devices (last_seen) WHERE online = 1',
    ],
  },
  {
    version: 4,
    description: 'bucket row counts',
    statements: [
      // Kept by the store in the transaction that inserts or deletes readings, so statistics and
      // retention by row count never count a bucket on the event loop (better-sqlite3 is
      // synchronous). Counted once here for existing rows.
      'ALTER TABLE tts_buckets ADD COLUMN row_count INTEGER NOT NULL DEFAULT 0',
      'UPDATE tts_buckets SET row_count = (SELECT count(*) FROM tts_readings WHERE tts_readings.bucket = tts_buckets.key)',
    ],
  },
  {
    version: 5,
    // Nothing to change: SQLite rewrites a row in place whatever its indexes.
    description: 'device rows updated in place (PostgreSQL only)',
    statements: [],
  },
];

const POSTGRES: Migration[] = [
  {
    version: 1,
    description: 'devices, buckets, readings',
    statements: [
      `CREATE TABLE tts_buckets (
        key SERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        device TEXT,
        created_at BIGINT NOT NULL
      )`,
      `CREATE TABLE tts_devices (
        id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        dev_eui TEXT,
        join_eui TEXT,
        bucket TEXT NOT NULL,
        profile_id TEXT NOT NULL DEFAULT '',
        asset_type TEXT NOT NULL DEFAULT '',
        asset_group TEXT NOT NULL DEFAULT '',
        connection_timeout BIGINT NOT NULL,
        location JSON,
        metadata JSON,
        downlink JSON,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_seen BIGINT,
        uplink_count BIGINT NOT NULL DEFAULT 0,
        last_f_cnt BIGINT,
        UNIQUE (application_id, device_id)
      )`,
      `CREATE TABLE tts_readings (
        bucket INTEGER NOT NULL,
        ts BIGINT NOT NULL,
        f_cnt BIGINT NOT NULL,
        f_port INTEGER,
        data JSON NOT NULL,
        PRIMARY KEY (bucket, ts, f_cnt)
      )`,
    ],
  },
  {
    version: 2,
    description: 'bucket retention, radio summary beside readings',
    statements: [
      'ALTER TABLE tts_buckets ADD COLUMN max_age BIGINT',
      'ALTER TABLE tts_buckets ADD COLUMN max_rows BIGINT',
      'ALTER TABLE tts_readings ADD COLUMN radio JSON',
    ],
  },
  {
    version: 3,
    description: 'device connection state, lost frames, location source rank',
    statements: [
      'ALTER TABLE tts_devices ADD COLUMN online BOOLEAN NOT NULL DEFAULT TRUE',
      'ALTER TABLE tts_devices ADD COLUMN state_changed_at BIGINT',
      'ALTER TABLE tts_devices ADD COLUMN lost_frames BIGINT NOT NULL DEFAULT 0',
      'ALTER TABLE tts_devices ADD COLUMN last_uplink_at BIGINT',
      'ALTER TABLE tts_devices ADD COLUMN location_rank INTEGER',
      'UPDATE tts_devices SET last_uplink_at = last_seen WHERE last_f_cnt IS NOT NULL',
      'CREATE INDEX tts_devices_online ON tts_devices (last_seen) WHERE online',
    ],
  },
  {
    version: 4,
    // Nothing to change: PostgreSQL counts on the server, asynchronously, and a shared counter row
    // per bucket would make concurrent writers from several instances queue behind each other.
    description: 'bucket row counts (kept by SQLite only)',
    statements: [],
  },
  {
    version: 5,
    description: 'device rows updated in place (PostgreSQL only)',
    statements: [
      // Every sighting changes last_seen: with it indexed, each flush wrote a new index entry per
      // device in all three indexes (no HOT update). The offline sweep compares last_seen with
      // each row's own timeout, so it scans the table anyway and never used the index.
      'DROP INDEX IF EXISTS tts_devices_online',
      // Room in each page for the next version of its rows (HOT updates stay on their page).
      'ALTER TABLE tts_devices SET (fillfactor = 70)',
    ],
  },
];

export function migrationsFor(dialect: Dialect): Migration[] {
  return dialect === 'sqlite' ? SQLITE : POSTGRES;
}

export const LATEST_VERSION = SQLITE[SQLITE.length - 1].version;

/** The schema bookkeeping table, created before any migration runs. */
export const SCHEMA_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS tts_schema (version INTEGER NOT NULL, applied_at BIGINT NOT NULL)';
