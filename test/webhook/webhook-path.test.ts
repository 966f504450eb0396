import { strict as assert } from 'node:assert';
import { normaliseWebhookPath, validateWebhookPath, webhookRoutePattern } from '../../src/webhook/webhook-path';
import { outputIndexFor, routeMessage } from '../../src/webhook/output-routing';
import { MESSAGE_TYPES } from '../../src/tts/types';

describe('webhook path and routing', () => {
  it('normalises paths', () => {
    assert.equal(normaliseWebhookPath('tts'), '/tts');
    assert.equal(normaliseWebhookPath('/tts/'), '/tts');
    assert.equal(normaliseWebhookPath(''), '/');
    assert.equal(validateWebhookPath('/tts/farm-1'), undefined);
    assert.match(validateWebhookPath('/tts?x') ?? '', /may only contain/);
    assert.match(validateWebhookPath('/a//b') ?? '', /empty segment/);
  });

  it('matches the path and every sub-path, nothing else', () => {
    const re = webhookRoutePattern('/tts.v3');
    for (const ok of ['/tts.v3', '/tts.v3/', '/tts.v3/uplink', '/tts.v3/down/ack']) assert.ok(re.test(ok), ok);
    for (const no of ['/ttsxv3', '/tts.v3x', '/other/tts.v3']) assert.ok(!re.test(no), no);
    assert.ok(webhookRoutePattern('/').test('/uplink'));
  });

  it('puts every message type on one of five outputs', () => {
    const counts = [0, 0, 0, 0, 0];
    for (const type of MESSAGE_TYPES) counts[outputIndexFor(type)] += 1;
    assert.deepEqual(counts, [1, 1, 6, 2, 1]);
    assert.deepEqual(routeMessage('by-type', 'join_accept', 'm'), [null, 'm', null, null, null]);
    assert.equal(routeMessage('single', 'join_accept', 'm'), 'm');
  });
});
