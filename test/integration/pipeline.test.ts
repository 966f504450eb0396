import { strict as assert } from 'node:assert';
import { TtsSimulator } from '../../src/sim';
import { uid } from '../helpers/flows';
import { NodeRedProcess, nodeRedMajor } from '../helpers/node-red-process';

const APP = 'farm-sensors';
const TOKEN = 'pipeline-test-token-0123456789abcdef';
const API_KEY = 'NNSXS.PIPELINEKEY00001.PIPELINESECRETABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const DEVICE = 'soil-probe-01';

const DECODE = 'function decodeUplink(input) { return { data: { size: input.bytes.length, first: input.bytes[0] } }; }';
const ENCODE = 'function encodeDownlink(input) { return { bytes: [input.data.level], fPort: 7 }; }';

/**
 * The whole package as a user wires it: webhook-in → decode → provision → bucket write; an HTTP
 * endpoint that queries the bucket; an HTTP endpoint that sends a downlink.
 */
function pipelineFlow(simUrl: string) {
  const tab = uid('tab');
  const profile = { id: uid('profile'), type: 'tts-profile', name: 'farm', applicationId: APP, server: simUrl, webhookId: 'node-red', bucketPrefix: 'b-' };
  const store = { id: uid('store'), type: 'tts-store', name: '', backend: 'sqlite', path: 'pipeline.db' };
  // Logs each message once the bucket has stored it, for the test to wait on.
  const stored = { id: uid('debug'), type: 'debug', z: tab, name: 'stored', active: true, tosidebar: false, console: true, complete: 'stored.bucket', targetType: 'msg', wires: [] };
  const bucketWrite = { id: uid('bucket'), type: 'tts-bucket', z: tab, name: '', store: store.id, mode: 'write', bucket: '', wires: [[stored.id]] };
  const provision = { id: uid('provision'), type: 'tts-provision', z: tab, name: '', store: store.id, profile: profile.id, wires: [[bucketWrite.id], []] };
  const decode = { id: uid('decode'), type: 'tts-uplink-decode', z: tab, name: '', codec: 'script', script: DECODE, timeout: '', wires: [[provision.id], []] };
  const hook = { id: uid('hook'), type: 'tts-webhook-in', z: tab, name: '', path: '/tts', profile: profile.id, routing: 'single', wires: [[decode.id]] };

  const queryIn = { id: uid('http'), type: 'http in', z: tab, name: '', url: '/query', method: 'get', upload: false, swaggerDoc: '', wires: [[] as string[]] };
  const pick = { id: uid('change'), type: 'change', z: tab, name: '', rules: [{ t: 'set', p: 'bucket', pt: 'msg', to: 'req.query.bucket', tot: 'msg' }], wires: [[] as string[]] };
  const query = { id: uid('bucket'), type: 'tts-bucket', z: tab, name: '', store: store.id, mode: 'query', bucket: '', wires: [[] as string[]] };
  const queryOut = { id: uid('response'), type: 'http response', z: tab, name: '', statusCode: '', headers: {}, wires: [] };
  queryIn.wires = [[pick.id]];
  pick.wires = [[query.id]];
  query.wires = [[queryOut.id]];

  const sendIn = { id: uid('http'), type: 'http in', z: tab, name: '', url: '/send', method: 'post', upload: false, swaggerDoc: '', wires: [[] as string[]] };
  const downlink = { id: uid('downlink'), type: 'tts-downlink', z: tab, name: '', profile: profile.id, store: '', codec: 'script', script: ENCODE, device: `${APP}/${DEVICE}`, rawFormat: 'auto', outcomeTimeout: '60', report: 'final', timeout: '', wires: [[] as string[], []] };
  const sendOut = { id: uid('response'), type: 'http response', z: tab, name: '', statusCode: '', headers: {}, wires: [] };
  sendIn.wires = [[downlink.id]];
  downlink.wires = [[sendOut.id], []];

  const flows = [{ id: tab, type: 'tab', label: 'pipeline' }, profile, store, hook, decode, provision, bucketWrite, stored, queryIn, pick, query, queryOut, sendIn, downlink, sendOut];
  return { flows: flows.map((n) => (n === profile ? { ...n, credentials: { webhookToken: TOKEN, apiKey: API_KEY } } : n)), storeId: store.id };
}

describe(`the whole pipeline in a real Node-RED ${nodeRedMajor()} process`, function () {
  this.timeout(90_000);
  let red: NodeRedProcess;
  let sim: TtsSimulator;
  let storeId: string;

  before(async () => {
    red = new NodeRedProcess();
    await red.start();
    sim = new TtsSimulator({
      applicationId: APP,
      apiKey: API_KEY,
      devices: [{ deviceId: DEVICE, spreadingFactor: 7 }],
      webhook: { url: red.nodeUrl('/tts'), token: TOKEN },
      timing: { sentDelayMs: 20, answerDelayMs: 20 },
    });
    await sim.start();
    const flow = pipelineFlow(sim.url);
    storeId = flow.storeId;
    await red.deploy(flow.flows);
  });
  after(async () => {
    await sim?.stop();
    await red?.stop();
  });

  it('takes simulated uplinks through decode, provisioning and the bucket, and answers a query with them', async () => {
    const from = red.logs.length;
    for (let i = 0; i < 3; i += 1) {
      const results = await sim.sendUplink(DEVICE);
      assert.deepEqual(results.map((r) => r.status), [200]);
    }
    await red.waitForLogCount(/\[debug:stored\] b-soil-probe-01/, 3, from, 30_000);
    const buckets = (await (await fetch(red.adminUrl(`/tts/bucket/${storeId}/buckets`))).json()) as { buckets: unknown[] };
    assert.ok(JSON.stringify(buckets.buckets).includes(`b-${DEVICE}`), JSON.stringify(buckets));
    const res = await fetch(red.nodeUrl(`/query?bucket=b-${DEVICE}`));
    assert.equal(res.status, 200);
    const rows = (await res.json()) as Array<{ data?: { size?: number } }>;
    assert.equal(rows.length, 3);
    for (const row of rows) assert.equal(typeof row.data?.size, 'number');
    assert.deepEqual(red.problems(), []);
  });

  it('sends a downlink to TTS (the simulator) and answers with what was queued', async () => {
    const queued = sim.waitForDownlinkRequest((r) => r.deviceId === DEVICE);
    const res = await fetch(red.nodeUrl('/send'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level: 42 }) });
    assert.equal(res.status, 200);
    const request = await queued;
    assert.equal(request.downlinks[0].f_port, 7);
    assert.equal(request.downlinks[0].frm_payload, Buffer.from([42]).toString('base64'));
    const answer = (await res.json()) as { level: number };
    assert.equal(answer.level, 42);
  });
});
