// Codec engine CPU per decode for a ~20 kB vendor-style codec (test/codec/corpus/big-multisensor.js),
// with TTS's semantics (the top level runs afresh for every message, helpers on the global).
//
// - queued: what tts-uplink-decode does: decodes queued in the same event-loop turn share one
//   protected run (one watchdog). Measured with bursts of BURST messages.
// - one run per message: decodeUplink() alone, paying the watchdog every time (a message that
//   arrives alone in its turn).
// - direct: the same decoder compiled in this realm and called in a plain loop (no sandbox, no
//   fresh state, no copies), to show what the engine adds.
// Figures are process CPU time (user + system) per decode, best of ROUNDS rounds, so other
// processes on a loaded machine disturb them less than wall time would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { createCodec, type UplinkInput } from '../src/codec';
import { pipelineCpuMicrosPerUplink } from './pipeline.bench';

const CODEC = readFileSync(join(__dirname, '..', 'test', 'codec', 'corpus', 'big-multisensor.js'), 'utf8');
// TH-VOC-CO2 report, fPort 1: serial 0x012345, product 6, sequence 42, firmware 1.4, readings, alarm and status words.
const FRAME = [0x01, 0x23, 0x45, 0x06, 0x2a, 0x14, 0x00, 0xe1, 0x01, 0x90, 0x00, 0xc8, 0x03, 0xe8, 0x00, 0x41, 0x80, 0x11];
const BURST = 50;
const MESSAGES = 4000;
const ROUNDS = 7;

const inputs = (count: number): UplinkInput[] => Array.from({ length: count }, () => ({ bytes: FRAME.slice(), fPort: 1, recvTime: new Date() }));

async function cpuPerMessage(count: number, work: () => Promise<unknown> | unknown): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const started = process.cpuUsage();
    await work();
    const used = process.cpuUsage(started);
    best = Math.min(best, (used.user + used.system) / count);
  }
  return best;
}

/** The codec as a classic script in this process's own global scope (its helpers sit on `this`). */
function directDecoder(): (input: UplinkInput) => unknown {
  runInThisContext(CODEC, { filename: 'big-multisensor.js' });
  return (globalThis as unknown as { decodeUplink: (input: UplinkInput) => unknown }).decodeUplink;
}

/** CPU µs the engine spends per uplink decode of the 20 kB codec, the way the node decodes (queued). */
export async function codecCostPerDecode(): Promise<number> {
  const codec = createCodec(CODEC);
  const check = codec.decodeUplink(inputs(1)[0]);
  if (check.errors.length > 0) throw new Error(`bench codec failed: ${check.errors.join('; ')}`);
  return cpuPerMessage(MESSAGES, async () => {
    for (let sent = 0; sent < MESSAGES; sent += BURST) await Promise.all(inputs(BURST).map((input) => codec.decodeUplinkQueued(input)));
  });
}

export async function run(): Promise<void> {
  const codec = createCodec(CODEC);
  const queued = await codecCostPerDecode();
  const single = await cpuPerMessage(500, () => {
    for (const input of inputs(500)) codec.decodeUplink(input);
  });
  const decode = directDecoder();
  const direct = await cpuPerMessage(MESSAGES, () => {
    for (const input of inputs(MESSAGES)) decode(input);
  });
  console.log(`~${(CODEC.length / 1024).toFixed(1)} kB vendor-style codec (big-multisensor.js), CPU per decode`);
  console.log(`  engine, queued (bursts of ${BURST})   ${queued.toFixed(1)} µs`);
  console.log(`  engine, one run per message     ${single.toFixed(1)} µs   (pays a watchdog per message)`);
  console.log(`  direct call, no sandbox         ${direct.toFixed(1)} µs`);
  const pipeline = await pipelineCpuMicrosPerUplink();
  console.log(`  share of the pipeline's CPU per uplink (${pipeline.toFixed(0)} µs, this run): ${((100 * queued) / pipeline).toFixed(1)} %   goal < 5 %`);
}
