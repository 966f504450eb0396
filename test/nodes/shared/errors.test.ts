import { strict as assert } from 'node:assert';
import { doneError, httpStatusOf, statusKeyOf } from '../../../nodes/shared/errors';
import { StoreInputError, StoreUnavailableError } from '../../../src/store/errors';
import { DownlinkInputError } from '../../../src/downlink/errors';
import { TtsApiError } from '../../../src/tts/api/errors';
import { InvalidTtsMessage } from '../../../src/tts/envelope';
import { TtsError } from '../../../src/util/errors';

describe('errors: one base, one mapping', () => {
  it('gives every error raised on purpose a code, an HTTP status and a status key', () => {
    const cases: Array<[TtsError, string, number, string]> = [
      [new StoreInputError('bad bucket id'), 'invalid_input', 400, 'invalid'],
      [new StoreUnavailableError('ECONNREFUSED'), 'store_unavailable', 503, 'unavailable'],
      [new DownlinkInputError('msg.fPort must be…'), 'invalid_input', 400, 'invalid'],
      [new InvalidTtsMessage('end_device_ids', 'missing'), 'invalid_message', 422, 'invalid'],
      [new TtsApiError({ kind: 'http', operation: 'downlink push', status: 404, attempts: 1 }), 'tts_http', 502, 'refused'],
      [new TtsApiError({ kind: 'network', operation: 'downlink push', attempts: 4 }), 'tts_network', 502, 'unavailable'],
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
