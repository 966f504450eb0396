// Shared pieces of the store/provision/bucket flow tests: flow factories for the three nodes, a
// per-backend store config (throwaway SQLite dir or PostgreSQL database) and message collectors.
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bucketModule = require('../../nodes/tts-bucket/tts-bucket');
import profileModule = require('../../nodes/tts-profile/tts-profile');
import provisionModule = require('../../nodes/tts-provision/tts-provision');
import storeModule = require('../../nodes/tts-store/tts-store');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import type { TtsBucketDef } from '../../nodes/tts-bucket/types';
import type { TtsProvisionDef } from '../../nodes/tts-provision/types';
import type { TtsStoreDef } from '../../nodes/tts-store/types';
import { Client } from 'pg';
import { uid } from './flows';
import { createTestDatabase } from './postgres';
import { nodeRedHelper, type TestNode } from './runtime';

export const MODULES = [profileModule, webhookModule, storeModule, provisionModule, bucketModule];
export const TOKEN = 'farm-token-0123456789abcdef';

export function storeNode(overrides: Partial<TtsStoreDef> = {}): TtsStoreDef {
  return { id: uid('store'), type: 'tts-store', name: '', backend: 'sqlite', path: '', ...overrides } as TtsStoreDef;
}

export function provisionNode(store: string, overrides: Partial<TtsProvisionDef> & { wires?: string[][] } = {}): TtsProvisionDef & { wires: string[][] } {
  return { id: uid('provision'), type: 'tts-provision', name: '', store, profile: '', wires: [[], []], ...overrides } as TtsProvisionDef & {
    wires: string[][];
  };
}

export function bucketNode(store: string, overrides: Partial<TtsBucketDef> & { wires?: string[][] } = {}): TtsBucketDef & { wires: string[][] } {
  return { id: uid('bucket'), type: 'tts-bucket', name: '', store, mode: 'write', bucket: '', wires: [[]], ...overrides } as TtsBucketDef & {
    wires: string[][];
  };
}

export interface StoreTarget {
  name: 'sqlite' | 'postgres';
  /** Config and credentials for one tts-store node on this backend. */
  node(overrides?: Partial<TtsStoreDef>): { def: TtsStoreDef; creds: Record<string, unknown> };
  /** Runs one SQL statement on the store's database (the default file or database of node()). */
  exec(sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Runtime settings for the next load; merged, because helper.settings replaces earlier calls. */
export function runtimeSettings(extra: Record<string, unknown> = {}): void {
  nodeRedHelper().settings({ ttsSweepInterval: 25, ...extra });
}

export const STORE_TARGETS: Array<{ name: 'sqlite' | 'postgres'; create(settings?: Record<string, unknown>): Promise<StoreTarget> }> = [
  {
    name: 'sqlite',
    async create(settings = {}) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-flow-'));
      runtimeSettings({ userDir: dir, ...settings });
      return {
        name: 'sqlite',
        node: (overrides = {}) => ({ def: storeNode({ backend: 'sqlite', path: 'flow.db', ...overrides }), creds: {} }),
        async exec(sql) {
          const db = new Database(path.join(dir, 'flow.db'));
          try {
            db.exec(sql);
          } finally {
            db.close();
          }
        },
        async cleanup() {
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async create(settings = {}) {
      const db = await createTestDatabase();
      runtimeSettings(settings);
      return {
        name: 'postgres',
        node: (overrides = {}) => ({ def: storeNode({ backend: 'postgres', ...overrides }), creds: { connection: db.url } }),
        async exec(sql) {
          const c = new Client({ connectionString: db.url });
          await c.connect();
          try {
            await c.query(sql);
          } finally {
            await c.end();
          }
        },
        cleanup: () => db.drop(),
      };
    },
  },
];

/** Resolves with the next `count` messages a helper node receives. */
export function messages<T = any>(node: TestNode, count: number): Promise<T[]> {
  return new Promise((resolve) => {
    const seen: T[] = [];
    const on = (msg: T) => {
      seen.push(msg);
      if (seen.length === count) {
        node.removeListener('input', on);
        resolve(seen);
      }
    };
    node.on('input', on);
  });
}

export async function post(urlPath: string, body: unknown, token = TOKEN): Promise<number> {
  const res = await fetch(`${nodeRedHelper().url()}${urlPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}
