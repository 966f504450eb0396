// What crosses between the main thread and the SQLite worker thread (sqlite-thread.ts and
// sqlite-thread-entry.ts): the calls, their answers, and the two things structured clone cannot
// carry as they are: errors (their code and whether they refuse data) and a sighting's move rule
// (a function, sent by its name in MOVE_RULES).
import type { DeviceWrite, StoreBackend, WriteBatch, WriteBatchResult } from './backend';
import { StoreDataError } from './errors';
import { MOVE_RULES } from './location-move';
import type { DeviceSighting, LocationRecord } from './types';

/** The backend's methods the worker answers, plus the two steps of a retention run. */
export type ThreadMethod =
  | 'open'
  | 'close'
  | 'schemaVersion'
  | 'getDevice'
  | 'findDevice'
  | 'listDevices'
  | 'setDownlink'
  | 'markOffline'
  | 'ensureBucket'
  | 'ensureBuckets'
  | 'getBucket'
  | 'listBuckets'
  | 'bucketStats'
  | 'setRetention'
  | 'insertReadings'
  | 'writeBatch'
  | 'loadDevice'
  | 'queryReadings'
  | 'retentionBuckets'
  | 'retentionTrim';

export interface ThreadCall {
  s: number;
  m: ThreadMethod;
  a: unknown[];
}

export interface WireError {
  message: string;
  name: string;
  code?: string;
  /** The backend's isDataError verdict, taken where the error was thrown. */
  data: boolean;
}

export type ThreadAnswer = { s: number; v: unknown } | { s: number; e: WireError };

/** Settings of the worker's backend (workerData). */
export interface ThreadInput {
  file: string;
  options: { checkpointInterval?: number; inlineCheckpointPages?: number };
}

export function toWireError(err: unknown, backend: Pick<StoreBackend, 'isDataError'>): WireError {
  const e = err as { message?: unknown; name?: unknown; code?: unknown } | undefined;
  const wire: WireError = {
    message: typeof e?.message === 'string' ? e.message : String(err),
    name: typeof e?.name === 'string' ? e.name : 'Error',
    data: backend.isDataError(err),
  };
  if (typeof e?.code === 'string') wire.code = e.code;
  return wire;
}

/** An error raised in the SQLite thread, as the main thread sees it. */
export class SqliteThreadError extends Error {
  readonly code: string | undefined;
  readonly dataError: boolean;

  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    this.code = wire.code;
    this.dataError = wire.data;
  }
}

/** A data refusal the store reports as it is (StoreDataError) comes back as one; anything else as SqliteThreadError. */
export function fromWireError(wire: WireError): Error {
  return wire.name === 'StoreDataError' && wire.data ? new StoreDataError(wire.message) : new SqliteThreadError(wire);
}

type MoveRule = (stored: LocationRecord, candidate: LocationRecord) => boolean;
const RULE_NAMES = new Map<MoveRule, string>(Object.entries(MOVE_RULES).map(([name, rule]) => [rule, name]));

type WireSighting = Omit<DeviceSighting, 'moved'> & { moved?: string };

/** JSON's view of a value (a downlink): what the backend stores of it, and nothing structured clone refuses. */
export function jsonCopy(value: unknown): unknown {
  const text = JSON.stringify(value);
  return text === undefined ? null : (JSON.parse(text) as unknown);
}

/**
 * A write batch as plain data: the readings' columns the backend takes (not the queue's bucket
 * ids); device writes without a move rule or a downlink as they are.
 */
export function batchToWire(batch: WriteBatch): WriteBatch {
  const { bucketKey, ts, fCnt, fPort, data, radio } = batch.readings;
  const readings = { bucketKey, ts, fCnt, fPort, data, radio };
  let devices: DeviceWrite[] | undefined;
  for (let i = 0; i < batch.devices.length; i++) {
    const w = batch.devices[i];
    const moved = w.sighting?.moved;
    const downlink = w.create?.downlink;
    if (moved === undefined && downlink === undefined) continue;
    devices ??= batch.devices.slice();
    const copy: DeviceWrite = { ...w };
    if (w.create && downlink !== undefined) copy.create = { ...w.create, downlink: jsonCopy(downlink) };
    if (w.sighting && moved !== undefined) {
      const name = RULE_NAMES.get(moved);
      if (name === undefined) throw new StoreDataError('a sighting\'s move rule must be one of the store\'s named rules (MOVE_RULES) to reach the SQLite thread');
      copy.sighting = { ...w.sighting, moved: name } as WireSighting as DeviceSighting;
    }
    devices[i] = copy;
  }
  return { devices: devices ?? batch.devices, readings };
}

/** The worker's side of batchToWire: move rules by name back to functions. */
export function batchFromWire(batch: WriteBatch): WriteBatch {
  for (const w of batch.devices) {
    const moved = (w.sighting as WireSighting | undefined)?.moved;
    if (typeof moved === 'string') w.sighting!.moved = MOVE_RULES[moved];
  }
  return batch;
}

/** A batch's answer on the wire: a radio summary in an effect is always its sighting's own, so it is not sent back. */
export interface WireBatchResult extends WriteBatchResult {
  /** The device writes whose effect carried their sighting's radio summary. */
  withMetadata: number[];
}

export function resultToWire(result: WriteBatchResult): WireBatchResult {
  const withMetadata: number[] = [];
  result.devices.forEach((d, i) => {
    if (d.effect?.metadata === undefined) return;
    d.effect.metadata = undefined;
    withMetadata.push(i);
  });
  return { devices: result.devices, withMetadata };
}

export function resultFromWire(wire: WireBatchResult, batch: WriteBatch): WriteBatchResult {
  for (const i of wire.withMetadata) wire.devices[i].effect!.metadata = batch.devices[i].sighting!.metadata;
  return { devices: wire.devices };
}
