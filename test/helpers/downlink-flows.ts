// Shared pieces of the tts-downlink node and flow tests: a simulator wired to the helper's
// webhook endpoint, flow factories, and collectors that wait on events instead of timers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import downlinkModule = require('../../nodes/tts-downlink/tts-downlink');
import profileModule = require('../../nodes/tts-profile/tts-profile');
import provisionModule = require('../../nodes/tts-provision/tts-provision');
import storeModule = require('../../nodes/tts-store/tts-store');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import type { TtsDownlinkDef } from '../../nodes/tts-downlink/types';
import type { TtsProfileDef } from '../../nodes/tts-profile/types';
import type { TtsStoreNode } from '../../nodes/tts-store/types';
import { TtsSimulator, type SimulatorOptions } from '../../src/sim';
import { helperNode, profileNode, uid, webhookInNode, type FlowNode } from './flows';
import { nodeRedHelper, type TestNode } from './runtime';

export const MODULES = [profileModule, webhookModule, storeModule, provisionModule, downlinkModule];
export const APP = 'farm-sensors';
export const TOKEN = 'downlink-test-token-0123456789abcdef';
/** The profile's key (the simulator's admin key). */
export const API_KEY = 'NNSXS.PROFILEKEYID0001.PROFILESECRETABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** The webhook's downlink key, sent by the simulator as X-Downlink-Apikey. */
export const DOWNLINK_KEY = 'NNSXS.DOWNLINKKEYID001.DOWNLINKSECRETABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
export const SECRETS = [API_KEY, DOWNLINK_KEY, 'PROFILESECRETABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 'DOWNLINKSECRETABCDEFGHIJKLMNOPQRSTUVWXYZ012345'];

export const PLUGIN_DOWNLINK = `module.exports.downlink = function (payload, device) {
  // payload is the device configuration { enabled, frequency, threshold }
  const bytes = [payload.enabled ? 1 : 0, payload.frequency, payload.threshold];
  return Buffer.from(bytes).toString('base64');
};
`;
export const CONFIG = { enabled: true, frequency: 10, threshold: 20 };

/** A fresh simulator posting to the helper's /tts endpoint, with quick downlink events. */
export async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<TtsSimulator> {
  const sim = new TtsSimulator({
    applicationId: APP,
    apiKey: API_KEY,
    downlinkApiKey: DOWNLINK_KEY,
    devices: [
      { deviceId: 'valve-01', spreadingFactor: 7 },
      { deviceId: 'valve-02', spreadingFactor: 7 },
    ],
    webhook: { url: `${nodeRedHelper().url()}/tts`, token: TOKEN },
    timing: { sentDelayMs: 15, answerDelayMs: 15 },
    ...options,
  });
  await sim.start();
  return sim;
}

/** A throwaway user directory for the SQLite store, plus fast retry settings for the API client. */
export function useTestSettings(extra: Record<string, unknown> = {}): { dir: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tts-downlink-'));
  nodeRedHelper().settings({
    userDir: dir,
    ttsDownlinkRetry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 80, maxRetryAfterMs: 5000 },
    ttsDownlinkRequestTimeout: 400,
    ...extra,
  });
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function downlinkNode(overrides: Partial<TtsDownlinkDef> & { wires?: string[][] } = {}): TtsDownlinkDef & { wires: string[][] } {
  return {
    id: uid('downlink'),
    type: 'tts-downlink',
    name: '',
    profile: '',
    store: '',
    codec: 'script',
    script: PLUGIN_DOWNLINK,
    device: '',
    rawFormat: 'auto',
    outcomeTimeout: '20',
    report: 'all',
    timeout: '',
    wires: [[], []],
    ...overrides,
  } as TtsDownlinkDef & { wires: string[][] };
}

export interface DownlinkFlow {
  flow: FlowNode[];
  creds: Record<string, unknown>;
  profile: TtsProfileDef;
  downlink: TtsDownlinkDef;
  storeId?: string;
  accepted: string;
  outcomes: string;
}

/**
 * profile (for the simulator's application) + webhook-in (so TTS's downlink events come back) +
 * tts-downlink with two helper nodes on its outputs, optionally a SQLite store.
 */
export function downlinkFlow(
  sim: TtsSimulator,
  options: { profile?: Partial<TtsProfileDef>; downlink?: Partial<TtsDownlinkDef>; store?: boolean; apiKey?: string } = {},
): DownlinkFlow {
  const accepted = helperNode();
  const outcomes = helperNode();
  const profile = profileNode({ applicationId: APP, server: sim.url, webhookId: 'node-red', ...options.profile });
  const hook = webhookInNode({ profile: profile.id, wires: [[]] });
  const store = options.store ? ({ id: uid('store'), type: 'tts-store', name: '', backend: 'sqlite', path: `${uid('downlink')}.db` } as FlowNode) : undefined;
  const downlink = downlinkNode({ profile: profile.id, store: store?.id ?? '', ...options.downlink, wires: [[accepted.id], [outcomes.id]] });
  const flow = [profile, hook, downlink, accepted, outcomes, ...(store ? [store] : [])] as FlowNode[];
  const creds: Record<string, unknown> = { [profile.id]: { webhookToken: TOKEN, apiKey: options.apiKey ?? API_KEY } };
  if (store) creds[store.id] = {};
  return { flow, creds, profile, downlink, ...(store ? { storeId: store.id } : {}), accepted: accepted.id, outcomes: outcomes.id };
}

/** The store node's registry (the flow must have a store). */
export function registryOf(storeId: string): NonNullable<TtsStoreNode['registry']> {
  const node = nodeRedHelper().getNode(storeId) as unknown as TtsStoreNode;
  if (!node.registry) throw new Error('store not configured');
  return node.registry;
}

/** Creates a device in the registry as provisioning would. */
export async function createDevice(storeId: string, deviceId: string, downlink?: unknown): Promise<string> {
  const registry = registryOf(storeId);
  const id = `dev-${deviceId}`;
  await registry.store.createDevice({
    id,
    applicationId: APP,
    deviceId,
    bucket: id,
    profileId: 'test',
    assetType: '',
    assetGroup: '',
    connectionTimeout: 3_600_000,
    ...(downlink !== undefined ? { downlink } : {}),
    at: Date.now(),
  });
  return id;
}

/** Every message a helper node receives from now on, with a way to wait for the n-th. */
export function collector<T = any>(node: TestNode): { seen: T[]; count(n: number): Promise<T[]>; until(pred: (m: T) => boolean): Promise<T> } {
  const seen: T[] = [];
  const waiters: Array<() => void> = [];
  node.on('input', (msg: T) => {
    seen.push(msg);
    for (const w of [...waiters]) w();
  });
  const wait = <R>(check: () => R | undefined): Promise<R> =>
    new Promise((resolve) => {
      const attempt = (): void => {
        const result = check();
        if (result === undefined) return;
        waiters.splice(waiters.indexOf(attempt), 1);
        resolve(result);
      };
      waiters.push(attempt);
      attempt();
    });
  return {
    seen,
    count: (n) => wait(() => (seen.length >= n ? seen.slice(0, n) : undefined)),
    until: (pred) => wait(() => seen.find(pred)),
  };
}

/** Resolves with the error the node reports through done(err) (the runtime calls node.error). */
export function nextError(node: TestNode): Promise<string> {
  return new Promise((resolve) => {
    node.once('call:error', (call: { args: unknown[] }) => {
      const first = call.args[0];
      resolve(first instanceof Error ? first.message : String(first));
    });
  });
}

/** Everything a node wrote to status, log, warn and error, as text (for secret checks). */
export function spiedText(node: TestNode): string {
  return JSON.stringify(['status', 'warn', 'error', 'log'].map((m) => (node[m] as { args?: unknown[][] })?.args ?? []), (_k, v) => (v instanceof Error ? v.message : v));
}
