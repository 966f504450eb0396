import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UplinkDecoder, uplinkInputFromMessage, type DecoderMode } from '../../src/codec';
import { REPO_ROOT } from '../helpers/node-red-process';

interface FlowNode { id: string; type: string; wires?: string[][]; codec?: DecoderMode; script?: string; payload?: string; payloadType?: string; props?: Array<{ p: string; v?: string }> }

describe('examples/4 · Decode payloads.json', () => {
  const flow = JSON.parse(readFileSync(join(REPO_ROOT, 'examples', '4 · Decode payloads.json'), 'utf8')) as FlowNode[];
  const byId = new Map(flow.map((n) => [n.id, n]));

  it('decodes what each inject sends with the decode node it is wired to', async () => {
    const expected: Record<string, unknown> = {
      'ud-decode-1': { temperature: 21, humidity: 59.04 },
      'ud-decode-2': { temperature_1: 22.5, relative_humidity_2: 40, barometric_pressure_3: 1011.1 },
    };
    const injects = flow.filter((n) => n.type === 'inject');
    assert.equal(injects.length, 2);
    for (const inject of injects) {
      const decode = byId.get(inject.wires![0][0])!;
      assert.equal(decode.type, 'tts-uplink-decode');
      const payload = inject.payloadType === 'json' ? JSON.parse(inject.payload!) : inject.payload;
      const fPort = Number(inject.props!.find((p) => p.p === 'fPort')!.v);
      const decoder = new UplinkDecoder({ mode: decode.codec!, script: decode.script!, timeout: 100 });
      assert.equal(decoder.loadError, undefined);
      const outcome = await decoder.decode(uplinkInputFromMessage({ payload, fPort }));
      assert.deepEqual(outcome.data, expected[decode.id]);
    }
  });
});
