// Codec engine cost per decode, beside a direct call of the same user function.
//
// "direct" = the same script compiled in the main realm and its decoder called in a plain loop
// with a fresh input per message (what unprotected code would do). "engine" = createCodec with
// the default options (fresh top-level scope per message, as TTS) fed a sustained stream: many
// messages queued in the same event-loop turn, so they share protected runs. "per-call
// protection" = one runInContext with a timeout per message, the naive design, for comparison.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCodec, type Codec, type UplinkInput } from '../src/codec';

type Decoder = (input: UplinkInput) => unknown;

const FIXTURES = join(__dirname, '..', 'test', 'codec', 'fixtures');
const DESIGN_EXAMPLE = readFileSync(join(FIXTURES, 'design-examples.js'), 'utf8');
const VENDOR_CODEC = readFileSync(join(FIXTURES, 'acme-env-sensor.js'), 'utf8');
const TRIVIAL = 'function decodeUplink(input) { return { data: { n: input.bytes.length } }; }';

const FOUR_BYTES = [0x34, 0x08, 0x10, 0x17];
const VENDOR_FRAME = [
  0x01, 0x75, 0x5c, 0x03, 0x67, 0x10, 0x01, 0x04, 0x68, 0x71, 0x05, 0x7d, 0x67, 0x04, 0x06, 0x73, 0x8b, 0x27, 0x07, 0x00, 0x01, 0x08, 0xcb, 0x84,
];

/** The script's decoder compiled in this realm, called the way a direct integration would. */
function directDecoder(source: string): Decoder {
  const module = { exports: {} as Record<string, (...a: unknown[]) => unknown> };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function('module', 'exports', 'Buffer', `${source}\n;return typeof decodeUplink === 'function' ? decodeUplink : undefined;`) as (
    m: typeof module,
    e: typeof module.exports,
    b: typeof Buffer,
  ) => ((input: UplinkInput) => unknown) | undefined;
  const decodeUplink = factory(module, module.exports, Buffer);
  if (decodeUplink) return (input) => decodeUplink({ bytes: Array.from(input.bytes), fPort: input.fPort });
  const uplink = module.exports.uplink;
  return (input) => uplink(Buffer.from(input.bytes as number[]).toString('base64'), undefined);
}

function inputs(bytes: number[], fPort: number, count: number): UplinkInput[] {
  return Array.from({ length: count }, () => ({ bytes: bytes.slice(), fPort }));
}

/** Best of several rounds, in µs per message (the minimum is the least disturbed by other load). */
async function best(rounds: number, count: number, round: () => Promise<void> | void): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < rounds; r++) {
    const started = process.hrtime.bigint();
    await round();
    min = Math.min(min, Number(process.hrtime.bigint() - started) / 1000 / count);
  }
  return min;
}

async function measure(name: string, source: string, bytes: number[], fPort: number): Promise<{ direct: number; engine: number }> {
  const stream = inputs(bytes, fPort, 20_000);
  const direct = directDecoder(source);
  const codec: Codec = createCodec(source);
  const sample = codec.decodeUplink(stream[0]);
  if (sample.errors.length > 0) throw new Error(`${name}: ${sample.errors.join('; ')}`);

  // Results are kept (as the engine keeps them) so V8 cannot optimise the decode away.
  const kept = new Array<unknown>(stream.length);
  const directUs = await best(7, stream.length, () => {
    for (let i = 0; i < stream.length; i++) kept[i] = direct(stream[i]);
  });
  const engineUs = await best(7, stream.length, async () => {
    await Promise.all(stream.map((input) => codec.decodeUplinkQueued(input)));
  });
  const batchUs = await best(7, stream.length, () => {
    codec.decodeUplinkBatch(stream);
  });
  const single = stream.slice(0, 500);
  const perCallUs = await best(3, single.length, () => {
    for (const input of single) codec.decodeUplink(input);
  });
  console.log(`${name}`);
  console.log(`  direct call                      ${directUs.toFixed(3)} µs/decode`);
  console.log(`  engine, sustained stream (queued) ${engineUs.toFixed(3)} µs/decode   ${(engineUs / directUs).toFixed(2)}× direct`);
  console.log(`  engine, decodeUplinkBatch         ${batchUs.toFixed(3)} µs/decode   ${(batchUs / directUs).toFixed(2)}× direct`);
  console.log(`  per-call protection (one watchdog per message) ${perCallUs.toFixed(1)} µs/decode   ${(perCallUs / directUs).toFixed(0)}× direct`);
  return { direct: directUs, engine: engineUs };
}

export async function run(): Promise<void> {
  const example = await measure('DESIGN.md 4-byte example (plugin form, base64 + Buffer)', DESIGN_EXAMPLE, FOUR_BYTES, 1);
  const vendor = await measure('~200-line vendor codec (acme-env-sensor.js, TTS codec API)', VENDOR_CODEC, VENDOR_FRAME, 5);
  const trivial = await measure('trivial decoder (isolates the engine overhead)', TRIVIAL, FOUR_BYTES, 1);
  console.log('summary');
  console.log(`  protected overhead per decode: ${(trivial.engine - trivial.direct).toFixed(3)} µs (trivial decoder), ${(example.engine - example.direct).toFixed(3)} µs (4-byte example)   goal < 2 µs`);
  console.log(`  vendor codec, sustained stream: ${(vendor.engine / vendor.direct).toFixed(2)}× direct   goal ≤ 1.5×`);
}
