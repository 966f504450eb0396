import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Node, NodeMessage } from 'node-red';
import { needsPermission, type NodeAPI, registerNode } from '../shared/red-types';
import { onClose, onInput } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { sendError } from '../shared/errors';
import { exportBucket, isExportFormat } from '../../src/store/export';
import { readingToRow } from '../../src/store/export';
import { toChartPoints } from '../../src/store/chart';
import { StoreInputError, describeError } from '../../src/store/errors';
import type { StoreState } from '../../src/store/store';
import type { Retention, StoredReading } from '../../src/store/types';
import { radioSummary } from '../../src/registry/radio-summary';
import type { TtsEnvelope } from '../../src/tts/envelope-types';
import type { TtsStoreNode } from '../tts-store/types';
import { bool, parseCount, parseTime, retentionOf } from './bucket-input';
import type { TtsBucketDef } from './types';

type BucketMsg = NodeMessage & {
  bucket?: unknown;
  tts?: TtsEnvelope;
  from?: unknown;
  to?: unknown;
  limit?: unknown;
  last?: unknown;
  order?: unknown;
  format?: unknown;
  fields?: unknown;
  after?: unknown;
  next?: unknown;
  stored?: unknown;
};

function isCursor(value: unknown): value is { ts: number; fCnt: number } {
  const v = value as { ts?: unknown; fCnt?: unknown } | undefined;
  return !!v && typeof v === 'object' && Number.isFinite(v.ts) && Number.isFinite(v.fCnt);
}

export = (RED: NodeAPI): void => {
  function TtsBucket(this: Node, config: TtsBucketDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    const storeNode = RED.nodes.getNode(config.store) as TtsStoreNode | null;
    const store = storeNode?.store;
    const mode = config.mode === 'query' ? 'query' : 'write';
    const fixedBucket = (config.bucket ?? '').trim();
    const withRadio = bool(config.radio);
    let retention: Retention | undefined;
    let configError: string | undefined;
    try {
      retention = retentionOf(config.maxAge, config.maxRows);
      parseCount(config.limit, 'limit');
    } catch (err) {
      configError = (err as Error).message;
    }
    // One retention update per bucket, shared by the messages that arrive while it runs, so they
    // all wait for the same promise and reach the store in the order they came (not the order in
    // which concurrent updates happen to finish).
    const retentionApplied = new Map<string, Promise<void>>();
    const applyRetention = (bucket: string, wanted: Retention): Promise<void> => {
      let applied = retentionApplied.get(bucket);
      if (!applied) {
        applied = store!.setRetention(bucket, wanted).catch((err: unknown) => {
          retentionApplied.delete(bucket); // try again with the next message
          throw err;
        });
        retentionApplied.set(bucket, applied);
      }
      return applied;
    };
    let stored = 0;
    let queries = 0;

    if (!store) status.error(RED._(storeNode ? 'tts-bucket.status.store-invalid' : 'tts-bucket.status.no-store'));
    else if (configError) status.error(configError);

    const onState = (state: StoreState): void => {
      if (state.status === 'unavailable') status.error(RED._('tts-bucket.status.unavailable', { queued: state.queued }));
      else if (state.status === 'ready' && (stored > 0 || queries > 0)) status.ok(RED._('tts-bucket.status.back'));
    };
    store?.on('state', onState);

    const bucketOf = (msg: BucketMsg): string => {
      const id = msg.bucket !== undefined && msg.bucket !== '' ? msg.bucket : fixedBucket;
      if (typeof id !== 'string' || id === '') throw new StoreInputError(RED._('tts-bucket.errors.no-bucket'));
      return id;
    };

    const write = async (msg: BucketMsg): Promise<void> => {
      const bucket = bucketOf(msg);
      const tts = msg.tts && typeof msg.tts === 'object' ? msg.tts : undefined;
      const received = tts ? Date.parse(tts.received_at) : Number.NaN;
      const ts = Number.isFinite(received) ? received : Date.now();
      const isUplink = tts?.type === 'uplink_message';
      if (retention) await applyRetention(bucket, retention);
      const outcome = await store!.write({
        bucket,
        ts,
        ...(isUplink && tts?.f_cnt !== undefined ? { fCnt: tts.f_cnt } : {}),
        ...(isUplink && tts?.f_port !== undefined ? { fPort: tts.f_port } : {}),
        data: msg.payload as Record<string, unknown>,
        ...(withRadio && isUplink && tts ? { radio: radioSummary(tts) } : {}),
      });
      msg.stored = { bucket, time: new Date(ts).toISOString(), queued: outcome.queued };
      stored += 1;
      if (outcome.queued) status.waiting(RED._('tts-bucket.status.queued', { queued: store!.queued }));
      else status.ok(RED._('tts-bucket.status.stored', { count: stored }));
    };

    const query = async (msg: BucketMsg): Promise<void> => {
      const bucket = bucketOf(msg);
      const from = parseTime(msg.from, 'from');
      const to = parseTime(msg.to, 'to');
      const last = parseCount(msg.last, 'msg.last');
      const limit = last ?? parseCount(msg.limit, 'msg.limit') ?? parseCount(config.limit, 'limit') ?? 1000;
      const order = last !== undefined ? 'desc' : msg.order === undefined ? 'asc' : msg.order;
      if (order !== 'asc' && order !== 'desc') throw new StoreInputError(RED._('tts-bucket.errors.order'));
      const format = msg.format ?? config.format ?? 'rows';
      if (format !== 'rows' && format !== 'chart') throw new StoreInputError(RED._('tts-bucket.errors.format'));
      const page = await store!.query({
        bucket,
        limit,
        order,
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(isCursor(msg.after) ? { after: msg.after } : {}),
      });
      // "last N" is asked newest-first but shown oldest-first, as charts and tables expect.
      const rows: StoredReading[] = last !== undefined ? [...page.rows].reverse() : page.rows;
      const fields = Array.isArray(msg.fields) ? msg.fields.filter((f): f is string => typeof f === 'string') : undefined;
      msg.payload = format === 'chart' ? toChartPoints(rows, fields) : rows.map(readingToRow);
      msg.bucket = bucket;
      if (page.next && last === undefined) msg.next = page.next;
      else delete msg.next;
      queries += 1;
      status.ok(RED._('tts-bucket.status.rows', { count: rows.length }));
    };

    onInput(this, async (msg, send) => {
      if (!store) throw new Error(RED._('tts-bucket.errors.no-store', { error: storeNode?.configError ?? '' }));
      if (configError) throw new Error(configError);
      try {
        if (mode === 'write') await write(msg as BucketMsg);
        else await query(msg as BucketMsg);
      } catch (err) {
        if (!(err instanceof StoreInputError)) status.error(RED._('tts-bucket.status.failed'));
        throw new Error(describeError(err));
      }
      send(msg);
    });

    onClose(this, () => {
      status.close();
      store?.off('state', onState);
    });
  }

  registerNode(RED, 'tts-bucket', TtsBucket);

  const storeOf = (req: Request, res: Response): TtsStoreNode | undefined => {
    const node = RED.nodes.getNode(String(req.params.store)) as (TtsStoreNode & { type?: string }) | null;
    if (!node || node.type !== 'tts-store' || !node.store) {
      sendError(res, 404, 'not_deployed', 'no deployed tts-store with this id');
      return undefined;
    }
    return node;
  };

  // Bucket list for the editor.
  RED.httpAdmin.get('/tts/bucket/:store/buckets', needsPermission(RED, 'tts-bucket.read'), (req, res) => {
    const node = storeOf(req, res);
    if (!node) return;
    node.store!.listBuckets().then(
      (buckets) => res.json({ buckets }),
      (err: unknown) => sendError(res, 503, 'store_unavailable', describeError(err)),
    );
  });

  // CSV / JSON lines export, streamed page by page with backpressure.
  RED.httpAdmin.get('/tts/bucket/:store/:bucket/export', needsPermission(RED, 'tts-bucket.read'), (req, res) => {
    const node = storeOf(req, res);
    if (!node) return;
    const store = node.store!;
    const bucket = String(req.params.bucket);
    const format = req.query.format === undefined ? 'csv' : req.query.format;
    let from: number | undefined;
    let to: number | undefined;
    try {
      if (!isExportFormat(format)) throw new StoreInputError('format must be csv or jsonl');
      from = parseTime(req.query.from, 'from');
      to = parseTime(req.query.to, 'to');
    } catch (err) {
      sendError(res, err);
      return;
    }
    store
      .getBucket(bucket)
      .then(async (found) => {
        if (!found) {
          sendError(res, 404, 'not_found', `bucket "${bucket}" does not exist`);
          return;
        }
        const safeName = bucket.replace(/[^A-Za-z0-9._-]/g, '_');
        res.status(200);
        res.set({
          'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
          'Content-Disposition': `attachment; filename="${safeName}.${format === 'csv' ? 'csv' : 'jsonl'}"`,
          'Cache-Control': 'no-store',
        });
        const range = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
        await pipeline(Readable.from(exportBucket(store, bucket, format as 'csv' | 'jsonl', range)), res);
      })
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, 503, 'store_unavailable', describeError(err));
        else res.destroy(); // a truncated download must not look complete
      });
  });
};
