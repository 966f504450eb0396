import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Node, NodeMessage } from 'node-red';
import { needsPermission, type NodeAPI, registerNode } from '../shared/red-types';
import { reportFailure, sendError } from '../shared/errors';
import { HandBack } from '../shared/hand-back';
import { onClose, onInput } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { parseTime } from '../../src/bucket/bucket-input';
import { BucketService, type BucketMessage } from '../../src/bucket/bucket-service';
import { exportBucket, isExportFormat } from '../../src/store/export';
import { asStoreError, StoreInputError } from '../../src/store/errors';
import { NOT_FOUND, TtsError } from '../../src/util/errors';
import type { StoreState } from '../../src/store/store';
import type { TtsStoreNode } from '../tts-store/types';
import type { TtsBucketDef } from './types';

export = (RED: NodeAPI): void => {
  function TtsBucket(this: Node, config: TtsBucketDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    const storeNode = RED.nodes.getNode(config.store) as TtsStoreNode | null;
    const store = storeNode?.store;
    const service = store ? new BucketService(store, config) : undefined;
    let stored = 0;
    let queries = 0;
    const handBack = new HandBack(this, status, {
      status: (count, reason) => RED._('tts-bucket.status.held', { count, reason }),
      warn: (reason) => RED._('tts-bucket.warn.held', { reason }),
    });

    if (!store) status.error(RED._(storeNode ? 'tts-bucket.status.store-invalid' : 'tts-bucket.status.no-store'));
    else if (service?.configError) status.error(service.configError);

    const storedText = (): string => RED._('tts-bucket.status.stored', { count: stored });
    const onState = (state: StoreState): void => {
      if (state.status === 'unavailable') status.error(RED._('tts-bucket.status.unavailable'));
      else if (state.status === 'ready' && (stored > 0 || queries > 0 || handBack.count > 0)) {
        handBack.reset();
        status.ok(RED._('tts-bucket.status.back'));
      }
    };
    store?.on('state', onState);

    onInput(this, async (msg, send) => {
      if (!service) throw new Error(RED._('tts-bucket.errors.no-store', { error: storeNode?.configError ?? '' }));
      if (service.configError) throw new Error(service.configError);
      const m = msg as NodeMessage & BucketMessage & { stored?: unknown; next?: unknown };
      try {
        if (service.mode === 'write') {
          m.stored = await service.write(m);
          stored += 1;
          status.ok(storedText);
        } else {
          const answer = await service.query(m);
          m.payload = answer.payload;
          m.bucket = answer.bucket;
          if (answer.next) m.next = answer.next;
          else delete m.next;
          queries += 1;
          status.ok(() => RED._('tts-bucket.status.rows', { count: answer.rows }));
        }
      } catch (err) {
        if (handBack.tryHold(msg, err)) return;
        throw reportFailure(RED, 'tts-bucket', status, err);
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
      sendError(res, new TtsError('no deployed tts-store with this id', NOT_FOUND('not_deployed')));
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
      (err: unknown) => sendError(res, asStoreError(err)),
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
          sendError(res, new TtsError(`bucket "${bucket}" does not exist`, NOT_FOUND('not_found')));
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
        await pipeline(Readable.from(exportBucket(store, bucket, format, range)), res);
      })
      .catch((err: unknown) => {
        if (!res.headersSent) sendError(res, asStoreError(err));
        else res.destroy(); // a truncated download must not look complete
      });
  });
};
