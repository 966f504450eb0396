import type { TtsEnvelope } from '../tts/envelope-types';
import type { GatewaySignal, RadioSummary } from '../store/types';

function num(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** "0.205824s" → 205.824 (ms). */
export function durationMs(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return m ? Math.round(Number(m[1]) * 1e6) / 1e3 : undefined;
}

/**
 * The radio side of one uplink, small enough to keep on the device and beside each reading:
 * every gateway's rssi/snr, the best of each, data rate, frequency, airtime, counters, device
 * version ids and the battery level when TTS reported one.
 */
export function radioSummary(envelope: TtsEnvelope): RadioSummary {
  // The device's metadata and the reading's radio column come from the same message object.
  let summary = summaries.get(envelope);
  if (!summary) {
    summary = summarise(envelope);
    summaries.set(envelope, summary);
  }
  return summary;
}

const summaries = new WeakMap<TtsEnvelope, RadioSummary>();

function summarise(envelope: TtsEnvelope): RadioSummary {
  const gateways: GatewaySignal[] = (envelope.rx_metadata ?? []).map((m) => {
    const g: GatewaySignal = { gatewayId: m.gateway_ids?.gateway_id ?? m.gateway_ids?.eui ?? 'unknown' };
    const rssi = num(m.rssi ?? m.channel_rssi);
    const snr = num(m.snr);
    if (rssi !== undefined) g.rssi = rssi;
    if (snr !== undefined) g.snr = snr;
    return g;
  });
  const summary: RadioSummary = { gateways, gatewayCount: new Set(gateways.map((g) => g.gatewayId)).size };
  const rssis = gateways.map((g) => g.rssi).filter((v): v is number => v !== undefined);
  const snrs = gateways.map((g) => g.snr).filter((v): v is number => v !== undefined);
  if (rssis.length > 0) summary.bestRssi = Math.max(...rssis);
  if (snrs.length > 0) summary.bestSnr = Math.max(...snrs);
  const dr = envelope.settings?.data_rate;
  if (dr?.lora) {
    const sf = num(dr.lora.spreading_factor);
    const bw = num(dr.lora.bandwidth);
    if (sf !== undefined) summary.spreadingFactor = sf;
    if (bw !== undefined) summary.bandwidth = bw;
    if (sf !== undefined && bw !== undefined) summary.dataRate = `SF${sf}BW${bw / 1000}`;
  } else if (dr?.fsk) {
    summary.dataRate = `FSK${num(dr.fsk.bit_rate) ?? ''}`;
  } else if (dr?.lrfhss) {
    summary.dataRate = 'LR-FHSS';
  }
  const frequency = num(envelope.settings?.frequency);
  if (frequency !== undefined) summary.frequency = frequency;
  const airtime = durationMs(envelope.message.consumed_airtime);
  if (airtime !== undefined) summary.airtimeMs = airtime;
  if (envelope.f_cnt !== undefined) summary.fCnt = envelope.f_cnt;
  if (envelope.f_port !== undefined) summary.fPort = envelope.f_port;
  if (envelope.version_ids) {
    const ids: Record<string, string> = {};
    for (const [k, v] of Object.entries(envelope.version_ids)) if (typeof v === 'string') ids[k] = v;
    summary.versionIds = ids;
  }
  const battery = num((envelope.message.last_battery_percentage as { value?: unknown } | undefined)?.value);
  if (battery !== undefined) summary.battery = battery;
  return summary;
}
