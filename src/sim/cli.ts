#!/usr/bin/env node
// tts-sim: runs the TTS simulator from a shell (see `tts-sim --help`).
import { parseArgs } from 'node:util';
import { parseOutcome } from './downlink-outcome';
import { TtsSimulator, type SimulatorOptions } from './simulator';
import { defaultDeviceSpecs } from './devices';

const HELP = `tts-sim — a local stand-in for The Things Stack

Posts webhooks for simulated devices and serves the TTS downlink, webhook management and API key
endpoints on 127.0.0.1.

Usage: tts-sim [options]

  --webhook-url URL     where to post webhooks (e.g. http://127.0.0.1:1880/tts); repeat it for
                        several webhooks (each gets every message); without it,
                        only the API is served (create a webhook through it)
  --token TOKEN         sent as "Authorization: Bearer TOKEN" with every webhook (or set
                        TTS_SIM_TOKEN: a command line is visible to every local user)
  --header "N: V"       extra webhook header (repeatable)
  --webhook-id ID       webhook ID (default node-red)
  --app ID              application ID (default sim-app)
  --devices N           number of simulated devices (default 3)
  --device-prefix P     device IDs P-01, P-02… (default sim-device)
  --interval SECONDS    uplink period per device (default 10); 0 = no uplink traffic
  --join                send a join accept for every device first
  --wait-for-webhook    resend the first message every second until the receiver accepts it
                        (up to 2 minutes), e.g. while Node-RED is still starting
  --port N              API port (default 1881; 0 = any free port)
  --host HOST           loopback address to listen on (default 127.0.0.1)
  --api-key KEY         admin API key for the application (or set TTS_SIM_API_KEY;
                        default: generated and printed)
  --downlink-key KEY    the webhook's downlink API key (default: generated)
  --storage-integration activate TTS's Storage Integration for the application: every uplink
                        is kept (delivered or not) and served by
                        GET /api/v3/as/applications/APP/packages/storage/uplink_message
  --storage-limit N     messages the Storage Integration keeps (default 10000)
  --outcome O           downlink outcome: ack | nack | nacks:N | failed | sent-only | queued-only
  --sent-delay MS       queued → sent delay (default 1000)
  --answer-delay MS     sent → ack/nack delay (default 1000)
  --quiet               print only errors
  --help                this text
`;

function fail(message: string): never {
  process.stderr.write(`tts-sim: ${message}\n(see tts-sim --help)\n`);
  process.exit(2);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function int(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`${name} must be a whole number ≥ ${min}`);
  return n;
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (err) {
    fail((err as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const quiet = values.quiet === true;
  const headers: Record<string, string> = {};
  for (const line of values.header ?? []) {
    const i = line.indexOf(':');
    if (i <= 0) fail(`--header must look like "Name: value", got "${line}"`);
    headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  let outcome: SimulatorOptions['downlinkOutcome'];
  if (values.outcome !== undefined) {
    outcome = parseOutcome(values.outcome);
    if (!outcome) fail(`unknown --outcome "${values.outcome}"`);
  }
  // Repeatable, like several webhooks on one TTS application: each gets every message.
  const webhookUrls = values['webhook-url'] ?? [];
  for (const url of webhookUrls) {
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      fail('--webhook-url must be an http(s) URL');
    }
  }
  // Secrets may come from the environment: a command line is visible to every local user (ps).
  const token = values.token ?? nonEmpty(process.env.TTS_SIM_TOKEN);
  const apiKey = values['api-key'] ?? nonEmpty(process.env.TTS_SIM_API_KEY);
  const webhookId = values['webhook-id'] ?? 'node-red';
  const webhookIdFor = (i: number): string => (i === 0 ? webhookId : `${webhookId}-${i + 1}`);
  const devices = int(values.devices, '--devices', 3, 1);
  const interval = int(values.interval, '--interval', 10);

  let sim: TtsSimulator;
  try {
    sim = new TtsSimulator({
      host: values.host,
      port: int(values.port, '--port', 1881),
      applicationId: values.app,
      devices: values['device-prefix'] === undefined ? devices : defaultDeviceSpecs(devices, values['device-prefix']),
      apiKey,
      downlinkApiKey: values['downlink-key'],
      downlinkOutcome: outcome,
      timing: { sentDelayMs: int(values['sent-delay'], '--sent-delay', 1000), answerDelayMs: int(values['answer-delay'], '--answer-delay', 1000) },
      webhook: webhookUrls.length > 0 ? { url: webhookUrls[0], token, headers, webhookId: webhookIdFor(0) } : undefined,
      storageIntegration: values['storage-integration'] ? { limit: int(values['storage-limit'], '--storage-limit', 10_000, 1) } : undefined,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  // Signal handlers first: a Ctrl-C during start-up or the first messages must still stop cleanly.
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    if (!quiet) process.stdout.write(`\n${signal}: stopping the simulator\n`);
    sim.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  if (!quiet) sim.on('log', (line) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  let waiting = false;
  sim.on('webhook', (post) => {
    if (!post.ok && !waiting) process.stderr.write(`webhook ${post.type} for ${post.deviceId} to ${post.url} failed: ${post.status ?? post.error}\n`);
  });

  const url = await sim.start();
  webhookUrls.slice(1).forEach((extra, i) => sim.configureWebhook({ url: extra, token, headers, webhookId: webhookIdFor(i + 1) }));
  if (!quiet) {
    const out = [
      `TTS simulator listening on ${url}`,
      `  application:   ${sim.applicationId}`,
      `  devices:       ${sim.deviceIds().join(', ')}`,
      `  profile server URL: ${url}`,
      `  storage integration: ${values['storage-integration'] ? 'activated' : 'not activated (--storage-integration)'}`,
      apiKey ? '  admin API key: (as given)' : `  admin API key: ${sim.apiKey}`,
      ...(webhookUrls.length > 0
        ? webhookUrls.map((hook, i) => `  posting webhooks to ${hook} (webhook ID ${webhookIdFor(i)}${token ? ', with bearer token' : ''})`)
        : ['  no --webhook-url: create a webhook through the API to receive messages']),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (values['wait-for-webhook'] && webhookUrls.length > 0) {
    waiting = true;
    await waitForReceiver(sim, values.join === true, quiet);
    waiting = false;
  }
  if (values.join) for (const id of sim.deviceIds()) await sim.sendJoinAccept(id);
  if (interval > 0 && webhookUrls.length > 0) sim.startTraffic(interval * 1000);

}

/** Sends the first message until a webhook post answers 2xx (bounded: 2 minutes). */
async function waitForReceiver(sim: TtsSimulator, join: boolean, quiet: boolean): Promise<void> {
  const first = sim.deviceIds()[0];
  const deadline = Date.now() + 120_000;
  let reported = '';
  while (Date.now() < deadline) {
    const results = join ? await sim.sendJoinAccept(first) : await sim.sendUplink(first);
    if (results.some((r) => r.ok)) return;
    const why = results.map((r) => String(r.status ?? r.error)).join(', ') || 'no webhook';
    if (!quiet && why !== reported) process.stdout.write(`waiting for the webhook receiver (${why})…\n`);
    reported = why;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  process.stderr.write('tts-sim: the webhook receiver did not accept a message within 2 minutes; going on anyway\n');
}

function parseOptions() {
  return parseArgs({
    options: {
      'webhook-url': { type: 'string', multiple: true },
      token: { type: 'string' },
      header: { type: 'string', multiple: true },
      'webhook-id': { type: 'string' },
      app: { type: 'string' },
      devices: { type: 'string' },
      'device-prefix': { type: 'string' },
      interval: { type: 'string' },
      join: { type: 'boolean' },
      'wait-for-webhook': { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string' },
      'downlink-key': { type: 'string' },
      outcome: { type: 'string' },
      'storage-integration': { type: 'boolean' },
      'storage-limit': { type: 'string' },
      'sent-delay': { type: 'string' },
      'answer-delay': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`tts-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
