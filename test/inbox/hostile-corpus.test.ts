import { strict as assert } from 'node:assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import profileModule = require('../../nodes/tts-profile/tts-profile');
import webhookModule = require('../../nodes/tts-webhook-in/tts-webhook-in');
import decodeModule = require('../../nodes/tts-uplink-decode/tts-uplink-decode');
import { ttsFixture } from '../helpers/tts-fixtures';
import { catchNode, helperNode, profileNode, uid, webhookInNode } from '../helpers/flows';
import { loadFlow, nodeRedHelper, startServerWithNodeRoutes, unloadFlow } from '../helpers/runtime';

const TOKEN = 'hostile-token-0123456789abcdef';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function uplink(mutate: (body: Record<string, any>) => void): string {
  const body = ttsFixture('uplink_message');
  delete body.uplink_message.decoded_payload;
  mutate(body);
  return JSON.stringify(body);
}

/** Each body with what it must end in: a status, or 200 and a clean decode error to Catch. */
const CORPUS: Array<[string, string, number | 'decode-error']> = [
  ['deep nesting', uplink((b) => (b.uplink_message.x = 0)).replace('"x":0', `"x":${'['.repeat(5_000)}${']'.repeat(5_000)}`), 422],
  ['huge array', uplink((b) => (b.uplink_message.rx_metadata = Array.from({ length: 50_000 }, () => 1))), 422],
  ['huge string', uplink((b) => (b.uplink_message.frm_payload = 'A'.repeat(200_000))), 422],
  ['over the body limit', uplink((b) => (b.uplink_message.frm_payload = 'A'.repeat(300_000))), 413],
  ['many keys', uplink((b) => (b.uplink_message.decoded_payload = Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`k${i}`, i])))), 422],
  ['not an object', '[1,2,3]', 422],
  ['a string', '"uplink"', 422],
  ['null', 'null', 422],
  ['device id a number', uplink((b) => (b.end_device_ids.device_id = 42)), 422],
  ['application ids missing', uplink((b) => delete b.end_device_ids.application_ids), 422],
  ['f_port a string', uplink((b) => (b.uplink_message.f_port = '2')), 422],
  ['f_cnt negative', uplink((b) => (b.uplink_message.f_cnt = -1)), 422],
  ['rx_metadata an object', uplink((b) => (b.uplink_message.rx_metadata = { a: 1 })), 422],
  ['received_at not a time', uplink((b) => (b.received_at = 'yesterday')), 422],
  ['invalid base64', uplink((b) => (b.uplink_message.frm_payload = '***')), 422],
  ['two message types', uplink((b) => (b.join_accept = {})), 422],
  ['malformed JSON', '{"end_device_ids": {', 400],
  // Cayenne LPP frames that lie about their length: accepted, then a clean decode error.
  ['LPP temperature cut short', uplink((b) => (b.uplink_message.frm_payload = Buffer.from([1, 0x67, 0x00]).toString('base64'))), 'decode-error'],
  ['LPP GPS cut short', uplink((b) => (b.uplink_message.frm_payload = Buffer.from([6, 0x88, 1, 2, 3, 4]).toString('base64'))), 'decode-error'],
  ['LPP unknown type', uplink((b) => (b.uplink_message.frm_payload = Buffer.from([1, 0x99, 0, 0]).toString('base64'))), 'decode-error'],
];

describe('a corpus of hostile webhook bodies', () => {
  before(async () => {
    await startServerWithNodeRoutes();
  });
  after(async () => {
    await unloadFlow();
    await nodeRedHelper().stopServer();
  });

  it('ends every body in a 4xx or a clean decode error, keeps serving, and gives its memory back', async () => {
    const profile = profileNode({ applicationId: '' });
    const out = helperNode();
    const errors = helperNode();
    const decode = { id: uid('decode'), type: 'tts-uplink-decode', name: '', codec: 'cayennelpp', script: '', timeout: '', wires: [[out.id], []] };
    const hook = webhookInNode({ profile: profile.id, wires: [[decode.id]] });
    const caught = catchNode([[errors.id]], [decode.id]);
    await loadFlow([profileModule, webhookModule, decodeModule], [profile, hook, decode, out, caught, errors], { [profile.id]: { webhookToken: TOKEN } });
    const errorNode = nodeRedHelper().getNode(errors.id);
    let decodeErrors = 0;
    const waiters: Array<() => void> = [];
    errorNode.on('input', () => {
      decodeErrors += 1;
      waiters.splice(0).forEach((wake) => wake());
    });
    const post = async (body: string): Promise<number> =>
      (await fetch(`${nodeRedHelper().url()}/tts`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body })).status;

    const round = async (): Promise<void> => {
      for (const [name, body, expected] of CORPUS) {
        const status = await post(body);
        assert.equal(status, expected === 'decode-error' ? 200 : expected, name);
      }
    };
    const expectedErrors = CORPUS.filter(([, , e]) => e === 'decode-error').length;
    await round(); // warm-up: lazy compilation, caches
    const waitForErrors = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (decodeErrors >= n) resolve();
          else waiters.push(check);
        };
        check();
      });
    await waitForErrors(expectedErrors);
    gc();
    const before = process.memoryUsage().heapUsed;
    const rounds = 10;
    for (let i = 0; i < rounds; i++) await round();
    await waitForErrors(expectedErrors * (rounds + 1));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // Ten rounds post ~20 MB; what stays must be noise, not the bodies.
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MB`);
    // Still serving ordinary uplinks.
    const received = new Promise((resolve) => nodeRedHelper().getNode(out.id).once('input', resolve));
    assert.equal(await post(uplink((b) => (b.uplink_message.frm_payload = 'AWcA4QJoUANzJ38='))), 200);
    assert.deepEqual(((await received) as { payload: unknown }).payload, { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 });
  });
});
