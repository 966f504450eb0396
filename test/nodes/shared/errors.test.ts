import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Response } from 'express';
import type { Node, NodeAPI } from 'node-red';
import { doneError, FAILURE_STATUS_KEYS, failureStatusText, httpStatusOf, reportFailure, sendError, statusKeyOf } from '../../../nodes/shared/errors';
import { StatusReporter } from '../../../nodes/shared/status';
import { BucketInputError } from '../../../src/bucket/bucket-service';
import { asStoreError, StoreDataError, StoreInputError, StoreUnavailableError } from '../../../src/store/errors';
import { REPO_ROOT } from '../../helpers/node-red-process';
import { DownlinkInputError } from '../../../src/downlink/errors';
import { TtsApiError } from '../../../src/tts/api/errors';
import { InvalidTtsMessage } from '../../../src/tts/envelope';
import { InboxUnavailableError } from '../../../src/inbox/inbox';
import { BodyError } from '../../../src/webhook/request-body';
import { JsonLimitError } from '../../../src/webhook/webhook-receiver';
import { BAD_REQUEST, NOT_FOUND, TtsError } from '../../../src/util/errors';

describe('errors: one base, one mapping', () => {
  it('gives every error raised on purpose a code, an HTTP status and a status key', () => {
    const cases: Array<[TtsError, string, number, string]> = [
      [new StoreInputError('bad bucket id'), 'invalid_input', 400, 'invalid'],
      [new StoreUnavailableError('ECONNREFUSED'), 'store_unavailable', 503, 'unavailable'],
      [new DownlinkInputError('msg.fPort must be…'), 'invalid_input', 400, 'invalid'],
      [new InvalidTtsMessage('end_device_ids', 'missing'), 'invalid_message', 422, 'invalid'],
      [new TtsApiError({ kind: 'http', operation: 'downlink push', status: 404, attempts: 1 }), 'tts_http', 502, 'refused'],
      [new TtsApiError({ kind: 'network', operation: 'downlink push', attempts: 4 }), 'tts_network', 502, 'unavailable'],
      [new JsonLimitError('nested too deeply'), 'message_too_complex', 422, 'invalid'],
      [new BodyError(413, 'body_too_large', 'too large'), 'body_too_large', 413, 'invalid'],
      [new InboxUnavailableError('inbox full'), 'inbox_unavailable', 503, 'unavailable'],
    ];
    for (const [err, code, status, key] of cases) {
      assert.ok(err instanceof TtsError, err.name);
      assert.deepEqual([err.code, httpStatusOf(err), statusKeyOf(err)], [code, status, key], err.name);
    }
    assert.deepEqual([httpStatusOf(new Error('x')), statusKeyOf(new Error('x'))], [500, 'failed']);
  });

  it('hands done() a plain error the runtime can clone: message, name, code; no data, no connection string', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const original = Object.assign(new StoreUnavailableError('postgres://app:secret@db.example/tts refused'), { input: cyclic });
    const plain = doneError(original);
    assert.equal(Object.getPrototypeOf(plain), Error.prototype);
    assert.equal(plain.toString(), 'StoreUnavailableError: store unavailable: postgres://… refused');
    assert.equal((plain as Error & { code?: string }).code, 'store_unavailable');
    assert.equal('input' in plain, false);
    assert.doesNotMatch(plain.stack ?? '', /secret/);
    assert.doesNotThrow(() => structuredClone({ name: plain.name, message: plain.message, code: (plain as Error & { code?: string }).code, stack: plain.stack }));
    assert.equal(doneError('just text').message, 'just text');
  });
});

describe('errors: one mapping to status text, done(err) and admin answers', () => {
  /** A RED whose `_` shows the key and its parameters, as the test helper's would show the key. */
  const RED = { _: (key: string, params?: Record<string, unknown>) => (params ? `${key} ${JSON.stringify(params)}` : key) } as unknown as NodeAPI;
  const shown = (): { status: StatusReporter; texts: unknown[] } => {
    const texts: unknown[] = [];
    const node = { status: (s: { fill?: string; text?: string }) => texts.push([s.fill, s.text]) } as unknown as Node;
    return { status: new StatusReporter(node), texts };
  };

  it('shows a failure as `<type>.failure.<status key>` with its short reason, whatever the error', () => {
    const cases: Array<[unknown, string]> = [
      [new StoreInputError('bad bucket id'), 'tts-bucket.failure.invalid {"reason":"invalid_input"}'],
      [new StoreUnavailableError('ECONNREFUSED'), 'tts-bucket.failure.unavailable {"reason":"store_unavailable"}'],
      [new TtsApiError({ kind: 'http', operation: 'downlink push', status: 404, attempts: 1 }), 'tts-bucket.failure.refused {"reason":"HTTP 404"}'],
      [new TtsApiError({ kind: 'timeout', operation: 'downlink push', attempts: 4 }), 'tts-bucket.failure.unavailable {"reason":"timeout"}'],
      [new TypeError('x is not a function'), 'tts-bucket.failure.failed {"reason":"internal"}'],
    ];
    for (const [err, text] of cases) assert.equal(failureStatusText(RED, 'tts-bucket', err), text);
  });

  it('reports a failed message once: a red status, and the error for done() with the catalogue text the error names', () => {
    const { status, texts } = shown();
    const done = reportFailure(RED, 'tts-bucket', status, new BucketInputError('no-bucket', 'no bucket'));
    assert.deepEqual(texts, [['red', 'tts-bucket.failure.invalid {"reason":"invalid_input"}']]);
    assert.equal(done.toString(), 'BucketInputError: tts-bucket.errors.no-bucket');
    assert.equal((done as Error & { code?: string }).code, 'invalid_input');
    const wrapped = reportFailure(RED, 'tts-provision', status, new StoreDataError('duplicate id'), 'store');
    assert.equal(wrapped.message, 'tts-provision.errors.store {"error":"duplicate id"}');
    assert.equal(doneError(wrapped).toString(), wrapped.toString(), 'done() may get it again unchanged');
    assert.equal((doneError(wrapped) as Error & { code?: string }).code, 'store_refused');
  });

  it('gives every node that reports failures a text for each status key', () => {
    for (const type of readdirSync(join(REPO_ROOT, 'nodes')).filter((t) => t.startsWith('tts-'))) {
      const source = readFileSync(join(REPO_ROOT, 'nodes', type, `${type}.ts`), 'utf8');
      if (!source.includes('reportFailure(')) continue;
      const catalogue = JSON.parse(readFileSync(join(REPO_ROOT, 'nodes', type, 'locales', 'en-US', `${type}.json`), 'utf8')) as Record<string, { failure?: Record<string, string> }>;
      assert.deepEqual(Object.keys(catalogue[type].failure ?? {}).sort(), [...FAILURE_STATUS_KEYS].sort(), type);
    }
  });

  it('answers admin routes with the error’s status and the one body shape; a store that fails unexpectedly is a 503', () => {
    const answer = (err: unknown): [number, unknown] => {
      let code = 0;
      let body: unknown;
      const res = { status: (c: number) => ((code = c), res), json: (b: unknown) => (body = b) } as unknown as Response;
      sendError(res, err);
      return [code, body];
    };
    assert.deepEqual(answer(new TtsError('no device "x"', NOT_FOUND('not_found'))), [404, { error: { code: 'not_found', message: 'no device "x"' } }]);
    assert.deepEqual(answer(new TtsError('send JSON', BAD_REQUEST)), [400, { error: { code: 'bad_request', message: 'send JSON' } }]);
    assert.deepEqual(answer(new Error('boom')), [500, { error: { code: 'internal', message: 'boom' } }]);
    assert.deepEqual(answer(asStoreError(new Error('SQLITE_BUSY'))), [503, { error: { code: 'store_unavailable', message: 'store unavailable: SQLITE_BUSY' } }]);
    assert.deepEqual(answer(asStoreError(new StoreInputError('limit must be a whole number'))), [400, { error: { code: 'invalid_input', message: 'limit must be a whole number' } }]);
    const [status, body] = answer(new TtsApiError({ kind: 'http', operation: 'webhook set-up', status: 403, attempts: 1 }));
    assert.equal(status, 502);
    assert.equal((body as { error: { status: number } }).error.status, 403);
  });
});
