import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ApplicationWebhook, SetApplicationWebhookRequest } from '../tts/api/api-types';
import type { ApplicationDownlink, ApplicationUp, MessageType } from '../tts/types';
import { MESSAGE_TYPES } from '../tts/types';
import { APPLICATION_RIGHTS, ApiKeyStore, type StoredApiKey } from './api-keys';
import { matchRoute, parseJsonBody, readBody, sendError, sendJson, sendStream, type ApiAnswer, type ApiRequest, type Route } from './api-server';
import { createDevice, defaultDeviceSpecs, startSession, type SimDevice, type SimDeviceSpec } from './devices';
import { DownlinkEngine, type DownlinkFormatter, type DownlinkTiming } from './downlink-engine';
import type { DownlinkOutcome } from './downlink-outcome';
import { parseDownlinkBody } from './downlink-request';
import { timestamp } from './ids';
import { buildJoinAccept, buildLocationSolved, buildUplink } from './messages';
import { errors, SimApiError } from './tts-errors';
import { WebhookStore, enabledTypes, maskWebhook } from './webhook-store';
import { postWebhook, type WebhookPostResult } from './webhook-sender';
import { UplinkStorage } from './uplink-storage';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const LOG_LIMIT = 1000;

export interface SimWebhookTarget {
  /** Where TTS posts (base_url), e.g. http://127.0.0.1:1880/tts. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** More custom headers. */
  headers?: Record<string, string>;
  /** Default `node-red`. */
  webhookId?: string;
  /** Default: every type except uplink_normalized. */
  messageTypes?: MessageType[];
  /** Per-type paths appended to url. */
  paths?: Partial<Record<MessageType, string>>;
  /** Give the webhook a downlink key (X-Downlink-* headers); default true. */
  downlinkKey?: boolean;
}

export interface SimulatorOptions {
  /** Loopback only; default 127.0.0.1. */
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Default `sim-app`. */
  applicationId?: string;
  /** A count (ids sim-device-01…) or explicit devices. Default 3. */
  devices?: number | SimDeviceSpec[];
  /** The webhook created at start; more can be added through the management API. */
  webhook?: SimWebhookTarget;
  /** Key with every right on the application (management API). Generated when absent. */
  apiKey?: string;
  /** Fixed key for the initial webhook's downlink key (X-Downlink-Apikey). Generated when absent. */
  downlinkApiKey?: string;
  /** Uplink period per device for startTraffic(), ms. Default 10 000. */
  uplinkIntervalMs?: number;
  /** Downlink event pacing. Defaults: sent after 1000 ms, ack/nack 1000 ms later. */
  timing?: Partial<DownlinkTiming>;
  /** Default outcome of downlinks (devices can override). Default `ack`. */
  downlinkOutcome?: DownlinkOutcome;
  /** Application downlink formatter TTS would run for decoded_payload. Default cayennelpp. */
  downlinkFormatter?: DownlinkFormatter;
  /** Downlink requests per application allowed per window before 429. Default: unlimited. */
  rateLimit?: { limit: number; windowSeconds: number };
  /** Timeout of webhook requests (TTS default 5 s). */
  webhookTimeoutMs?: number;
  /**
   * Activates the Storage Integration for the application: every upstream message is kept (the
   * last `limit`, default 10 000), delivered or not, and served by the storage API.
   */
  storageIntegration?: boolean | { limit?: number; delayMs?: number };
}

/** An accepted push/replace request, as recorded for inspection. */
export interface ReceivedDownlinkRequest {
  applicationId: string;
  deviceId: string;
  /** Undefined for the plain AS path (no webhook). */
  webhookId?: string;
  operation: 'push' | 'replace';
  /** The downlinks as queued (f_cnt and TTS's correlation id added). */
  downlinks: ApplicationDownlink[];
  /** The request body as received. */
  body: unknown;
  /** ID (not the secret) of the key used. */
  apiKeyId: string;
  receivedAt: string;
}

export interface ApiRequestRecord {
  method: string;
  path: string;
  status: number;
  /** TTS error name when refused. */
  error?: string;
}

/** A fault injected into the next API requests (see queueFaults). */
export type SimFault =
  | { status: number; retryAfterSeconds?: number; body?: 'tts' | 'html' | 'empty' }
  /** Hold the request this long, then drop the connection without processing it. */
  | { hangMs: number }
  /** Drop the connection at once. */
  | { reset: true }
  /** Answer a streamed request normally, but drop the connection after this many results. */
  | { cutAfter: number };

export interface SimulatorEvents {
  webhook: [WebhookPostResult];
  'downlink-request': [ReceivedDownlinkRequest];
  'api-request': [ApiRequestRecord];
  log: [string];
}

/**
 * The Things Stack, as far as this package sees it: posts webhooks for simulated devices and
 * serves the downlink, webhook management and API key endpoints on a loopback port.
 */
export class TtsSimulator extends EventEmitter<SimulatorEvents> {
  readonly applicationId: string;
  readonly apiKey: string;
  readonly webhooks = new WebhookStore();
  readonly apiKeys = new ApiKeyStore();
  /** The Storage Integration's stored messages (see setStorageIntegration). */
  readonly storage = new UplinkStorage();
  /** Accepted downlink requests, oldest first. */
  readonly receivedDownlinks: ReceivedDownlinkRequest[] = [];
  /** Recent webhook posts (last 1000). */
  readonly sentWebhooks: WebhookPostResult[] = [];
  /** Recent API requests (last 1000). */
  readonly apiRequests: ApiRequestRecord[] = [];
  downlinkOutcome: DownlinkOutcome;
  timing: DownlinkTiming;

  private readonly options: SimulatorOptions;
  private readonly devices = new Map<string, SimDevice>();
  private readonly engine: DownlinkEngine;
  private readonly routes: Route[];
  private readonly faults: Array<{ fault: SimFault; scope: 'downlink' | 'all' }> = [];
  private readonly sockets = new Set<Socket>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server?: Server;
  private baseUrl = '';
  private traffic?: NodeJS.Timeout;
  private trafficIndex = 0;
  private rateWindow = { start: 0, count: 0 };
  /** TTS writes stored messages in batches: they become visible this late. */
  private storageDelayMs = 0;

  constructor(options: SimulatorOptions = {}) {
    super();
    const host = options.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host)) throw new Error(`the simulator listens on loopback only (127.0.0.1, ::1, localhost), not "${host}"`);
    this.options = { ...options, host };
    this.applicationId = options.applicationId ?? 'sim-app';
    this.downlinkOutcome = options.downlinkOutcome ?? 'ack';
    this.timing = { sentDelayMs: 1000, answerDelayMs: 1000, ...options.timing };
    const specs = typeof options.devices === 'number' || options.devices === undefined ? defaultDeviceSpecs(options.devices ?? 3) : options.devices;
    specs.forEach((spec, i) => this.addDevice(spec, i));
    this.apiKey = this.apiKeys.create(this.applicationId, 'simulator admin', ['RIGHT_APPLICATION_ALL'], options.apiKey).key;
    this.engine = new DownlinkEngine(
      this.applicationId,
      {
        deliver: (up, device) => this.deliver(up, device.deviceId),
        outcomeFor: (device) => device.outcome ?? this.downlinkOutcome,
        timing: () => this.timing,
      },
      options.downlinkFormatter,
    );
    this.routes = this.buildRoutes();
    const storage = options.storageIntegration;
    if (storage) this.setStorageIntegration(true, typeof storage === 'object' ? storage.limit : undefined);
    this.storageDelayMs = typeof storage === 'object' ? (storage.delayMs ?? 0) : 0;
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Listens, then creates the configured webhook. Resolves with the base URL. */
  async start(): Promise<string> {
    if (this.server) return this.baseUrl;
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host, () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    const host = this.options.host === '::1' ? '[::1]' : this.options.host;
    this.baseUrl = `http://${host}:${port}`;
    if (this.options.webhook) this.configureWebhook(this.options.webhook);
    return this.baseUrl;
  }

  /** Stops traffic and timers, waits for webhook posts in flight, closes the server. */
  async stop(): Promise<void> {
    this.stopTraffic();
    this.engine.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.chains.values()]);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  /** `http://127.0.0.1:<port>` (after start). */
  get url(): string {
    return this.baseUrl;
  }

  /** What a profile's server setting should be: the simulator's base URL. */
  get apiBaseUrl(): string {
    return `${this.baseUrl}/api/v3`;
  }

  // ---- devices and webhooks --------------------------------------------------------------

  addDevice(spec: SimDeviceSpec, index = this.devices.size): SimDevice {
    if (this.devices.has(spec.deviceId)) throw new Error(`device ${spec.deviceId} exists already`);
    const device = createDevice(spec, index);
    this.devices.set(device.deviceId, device);
    return device;
  }

  device(deviceId: string): SimDevice | undefined {
    return this.devices.get(deviceId);
  }

  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /** Sets how downlinks end, for one device or (without deviceId) for all without their own. */
  setDownlinkOutcome(outcome: DownlinkOutcome, deviceId?: string): void {
    if (deviceId === undefined) {
      this.downlinkOutcome = outcome;
      return;
    }
    const device = this.requireDevice(deviceId);
    device.outcome = outcome;
  }

  /** Creates or replaces a webhook as the Console would; returns it. */
  configureWebhook(target: SimWebhookTarget): ApplicationWebhook {
    const webhookId = target.webhookId ?? 'node-red';
    const headers: Record<string, string> = { ...(target.headers ?? {}) };
    if (target.token) headers.Authorization = `Bearer ${target.token}`;
    const types = target.messageTypes ?? MESSAGE_TYPES.filter((t) => t !== 'uplink_normalized');
    const webhook: ApplicationWebhook = {
      ids: { application_ids: { application_id: this.applicationId }, webhook_id: webhookId },
      base_url: target.url,
      format: 'json',
      headers,
    };
    for (const type of types) webhook[type] = target.paths?.[type] ? { path: target.paths[type] } : {};
    const paths = ['base_url', 'format', 'headers', ...MESSAGE_TYPES];
    if (target.downlinkKey !== false) {
      webhook.downlink_api_key = this.apiKeys.create(this.applicationId, `downlink ${webhookId}`, ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE'], this.options.downlinkApiKey).key;
      paths.push('downlink_api_key');
    }
    const request: SetApplicationWebhookRequest = { webhook, field_mask: { paths } };
    return this.webhooks.set(this.applicationId, request);
  }

  /** Activates or deactivates TTS's Storage Integration for the application (Console: Integrations › Storage Integration). */
  setStorageIntegration(enabled: boolean, limit?: number): void {
    this.storage.configure(this.applicationId, enabled, limit);
  }

  // ---- traffic ---------------------------------------------------------------------------

  /** Posts the next uplink of a device (and location_solved when TTS would); resolves when delivered. */
  async sendUplink(deviceId?: string): Promise<WebhookPostResult[]> {
    const device = deviceId ? this.requireDevice(deviceId) : this.nextTrafficDevice();
    if (!device.sessionKeyId) {
      this.log(`${device.deviceId}: not joined, sending a join accept first`);
      await this.sendJoinAccept(device.deviceId);
    }
    const up = buildUplink(device, this.applicationId);
    const results = await this.deliver(up, device.deviceId);
    const located = buildLocationSolved(up);
    if (located) results.push(...(await this.deliver(located, device.deviceId)));
    return results;
  }

  /** A (re)join: new session, downlink queue dropped, join_accept posted. */
  async sendJoinAccept(deviceId: string): Promise<WebhookPostResult[]> {
    const device = this.requireDevice(deviceId);
    startSession(device);
    this.engine.clearDevice(deviceId);
    return this.deliver(buildJoinAccept(device, this.applicationId), deviceId);
  }

  /** Posts an arbitrary ApplicationUp to the application's webhooks (tests, demos). */
  sendRaw(up: ApplicationUp): Promise<WebhookPostResult[]> {
    return this.deliver(up, up.end_device_ids?.device_id ?? '');
  }

  /** Every device sends an uplink once per uplinkIntervalMs, spread over the interval. */
  startTraffic(intervalMs = this.options.uplinkIntervalMs ?? 10_000): void {
    this.stopTraffic();
    const count = Math.max(1, this.devices.size);
    const tick = Math.max(10, Math.floor(intervalMs / count));
    this.traffic = setInterval(() => {
      this.sendUplink().catch((err: unknown) => this.log(`uplink failed: ${err instanceof Error ? err.message : String(err)}`));
    }, tick);
  }

  stopTraffic(): void {
    if (this.traffic) clearInterval(this.traffic);
    this.traffic = undefined;
  }

  /** Downlinks queued and not yet transmitted for a device. */
  pendingDownlinks(deviceId: string): ApplicationDownlink[] {
    return this.engine.pending(deviceId);
  }

  /**
   * Makes the next API requests fail as given, in order (scope `downlink`: only push/replace
   * requests; `all`: any API request).
   */
  queueFaults(faults: SimFault[], scope: 'downlink' | 'all' = 'downlink'): void {
    for (const fault of faults) this.faults.push({ fault, scope });
  }

  /** Resolves with the next webhook post matching the predicate (only posts after the call). */
  waitForWebhook(predicate: (post: WebhookPostResult) => boolean = () => true, timeoutMs = 10_000): Promise<WebhookPostResult> {
    return this.waitFor('webhook', predicate, timeoutMs);
  }

  /** Resolves with the next accepted downlink request matching the predicate. */
  waitForDownlinkRequest(predicate: (req: ReceivedDownlinkRequest) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedDownlinkRequest> {
    return this.waitFor('downlink-request', predicate, timeoutMs);
  }

  private waitFor<E extends 'webhook' | 'downlink-request'>(
    event: E,
    predicate: (value: SimulatorEvents[E][0]) => boolean,
    timeoutMs: number,
  ): Promise<SimulatorEvents[E][0]> {
    return new Promise((resolve, reject) => {
      const listener = (value: SimulatorEvents[E][0]): void => {
        if (!predicate(value)) return;
        clearTimeout(timer);
        this.off(event, listener as never);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.off(event, listener as never);
        reject(new Error(`no matching ${event} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on(event, listener as never);
    });
  }

  // ---- webhook delivery ------------------------------------------------------------------

  /**
   * Posts a message to every webhook of the application that enables its type. Posts for one
   * device go out one after the other, so a test sees queued before sent before ack.
   */
  private deliver(up: ApplicationUp, deviceId: string): Promise<WebhookPostResult[]> {
    const type = MESSAGE_TYPES.find((t) => up[t] !== undefined);
    if (!type) return Promise.resolve([]);
    // TTS stores what the application server handled, whether or not a webhook got it.
    if (this.storageDelayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.storage.record(up);
      }, this.storageDelayMs);
      this.timers.add(timer);
    } else {
      this.storage.record(up);
    }
    const previous = this.chains.get(deviceId) ?? Promise.resolve();
    const run = previous.then(async () => {
      const results: WebhookPostResult[] = [];
      for (const hook of this.webhooks.list(this.applicationId)) {
        if (hook.paused || !enabledTypes(hook).includes(type)) continue;
        if (hook.format !== 'json') {
          this.log(`webhook ${hook.ids.webhook_id}: format ${hook.format} is not simulated, nothing sent`);
          continue;
        }
        const result = await postWebhook(hook, type, up, {
          publicApiAddress: this.apiBaseUrl,
          domain: new URL(this.baseUrl).host,
          timeoutMs: this.options.webhookTimeoutMs ?? 5000,
        });
        this.record(this.sentWebhooks, result);
        this.log(`→ ${type} ${deviceId} → ${result.url}: ${result.status ?? result.error}`);
        this.emit('webhook', result);
        results.push(result);
      }
      return results;
    });
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(deviceId, settled);
    void settled.then(() => {
      if (this.chains.get(deviceId) === settled) this.chains.delete(deviceId);
    });
    return run;
  }

  // ---- HTTP API --------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const record = (status: number, error?: string): void => {
      const entry = { method, path: url.pathname, status, error };
      this.record(this.apiRequests, entry);
      this.emit('api-request', entry);
    };
    const match = matchRoute(this.routes, method, url.pathname);
    try {
      if (!match) throw errors.routeNotFound(url.pathname);
      const faultIndex = this.faults.findIndex((f) => f.scope === 'all' || match.route.kind === 'downlink');
      let cutAfter: number | undefined;
      if (faultIndex >= 0) {
        const [{ fault }] = this.faults.splice(faultIndex, 1);
        if ('cutAfter' in fault) {
          cutAfter = fault.cutAfter;
        } else {
          await this.applyFault(fault, req, res, record);
          return;
        }
      }
      const body = parseJsonBody(await readBody(req));
      const answer = await match.route.handler({ method, path: url.pathname, query: url.searchParams, headers: req.headers, body, params: match.params });
      if (answer.results) {
        const complete = await sendStream(res, answer.results, cutAfter);
        record(complete ? 200 : 0, complete ? undefined : 'fault: cut');
        return;
      }
      sendJson(res, answer.status ?? 200, answer.body, answer.headers);
      record(answer.status ?? 200);
    } catch (err) {
      const sent = sendError(res, err);
      record(sent.status, sent.name);
    }
  }

  private async applyFault(fault: Exclude<SimFault, { cutAfter: number }>, req: IncomingMessage, res: ServerResponse, record: (status: number, error?: string) => void): Promise<void> {
    req.resume();
    if ('reset' in fault) {
      req.socket.destroy();
      record(0, 'fault: reset');
      return;
    }
    if ('hangMs' in fault) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, fault.hangMs);
        this.timers.add(timer);
        req.socket.once('close', () => {
          clearTimeout(timer);
          this.timers.delete(timer);
          resolve();
        });
      });
      req.socket.destroy();
      record(0, 'fault: hang');
      return;
    }
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) {
      headers['Retry-After'] = String(fault.retryAfterSeconds);
      if (fault.status === 429) headers['x-rate-limit-retry'] = String(fault.retryAfterSeconds);
    }
    if (fault.body === 'html') {
      const html = `<html><body><h1>${fault.status} Bad Gateway</h1></body></html>`;
      res.writeHead(fault.status, { ...headers, 'Content-Type': 'text/html' });
      res.end(html);
    } else if (fault.body === 'empty') {
      res.writeHead(fault.status, headers);
      res.end();
    } else {
      const err = fault.status === 429 ? errors.rateLimited(fault.retryAfterSeconds ?? 1, 10) : fault.status >= 500 && fault.status !== 503 ? errors.internal() : errors.unavailable();
      sendJson(res, fault.status, err.body, { ...err.headers, ...headers });
    }
    record(fault.status, 'fault');
  }

  private buildRoutes(): Route[] {
    const seg = '([^/]+)';
    const r = (method: string, path: string, kind: Route['kind'], handler: (req: ApiRequest) => ApiAnswer | Promise<ApiAnswer>): Route => ({
      method,
      pattern: new RegExp(`^/api/v3${path}$`),
      kind,
      handler,
    });
    return [
      r('POST', `/as/applications/${seg}/webhooks/${seg}/devices/${seg}/down/(push|replace)`, 'downlink', (req) =>
        this.downlink(req, req.params[0], req.params[1], req.params[2], req.params[3] as 'push' | 'replace'),
      ),
      r('POST', `/as/applications/${seg}/devices/${seg}/down/(push|replace)`, 'downlink', (req) =>
        this.downlink(req, req.params[0], undefined, req.params[1], req.params[2] as 'push' | 'replace'),
      ),
      r('GET', '/as/webhook-formats', 'management', () => ({ body: { formats: { json: 'JSON', protobuf: 'Protocol Buffers' } } })),
      r('GET', `/as/webhooks/${seg}`, 'management', (req) => {
        this.authorize(req, req.params[0], ['RIGHT_APPLICATION_TRAFFIC_READ']);
        const mask = fieldMaskFrom(req.query);
        return { body: { webhooks: this.webhooks.list(req.params[0]).map((h) => maskWebhook(h, mask)) } };
      }),
      r('GET', `/as/webhooks/${seg}/${seg}`, 'management', (req) => {
        this.authorize(req, req.params[0], ['RIGHT_APPLICATION_TRAFFIC_READ']);
        const hook = this.webhooks.get(req.params[0], req.params[1]);
        if (!hook) throw errors.webhookNotFound();
        return { body: maskWebhook(hook, fieldMaskFrom(req.query)) };
      }),
      r('POST', `/as/webhooks/${seg}`, 'management', (req) => {
        this.authorize(req, req.params[0], WEBHOOK_WRITE_RIGHTS);
        return { body: this.webhooks.set(req.params[0], req.body) };
      }),
      r('PUT', `/as/webhooks/${seg}/${seg}`, 'management', (req) => {
        this.authorize(req, req.params[0], WEBHOOK_WRITE_RIGHTS);
        return { body: this.webhooks.set(req.params[0], req.body, req.params[1]) };
      }),
      r('DELETE', `/as/webhooks/${seg}/${seg}`, 'management', (req) => {
        this.authorize(req, req.params[0], WEBHOOK_WRITE_RIGHTS);
        if (!this.webhooks.delete(req.params[0], req.params[1])) throw errors.webhookNotFound();
        return { body: {} };
      }),
      r('POST', `/applications/${seg}/api-keys`, 'management', (req) => this.createApiKey(req)),
      r('GET', `/as/applications/${seg}/packages/storage/?([^/]*)`, 'management', (req) => this.storedUp(req, req.params[0], undefined, req.params[1])),
      r('GET', `/as/applications/${seg}/devices/${seg}/packages/storage/?([^/]*)`, 'management', (req) =>
        this.storedUp(req, req.params[0], req.params[1], req.params[2]),
      ),
    ];
  }

  /** Checks the bearer key and its rights on the application; returns the key. */
  private authorize(req: ApiRequest, applicationId: string, rights: readonly string[]): StoredApiKey {
    const header = req.headers.authorization;
    if (!header) throw errors.unauthenticated();
    const m = /^Bearer (\S+)$/i.exec(header);
    if (!m) throw errors.invalidAuthorization();
    const key = this.apiKeys.find(m[1]);
    if (!key) throw errors.apiKeyNotFound();
    if (key.applicationId !== applicationId) throw errors.noApplicationRights(applicationId);
    const missing = this.apiKeys.missing(key, rights);
    if (missing.length > 0) throw errors.insufficientRights(missing);
    return key;
  }

  private downlink(req: ApiRequest, applicationId: string, webhookId: string | undefined, deviceId: string, operation: 'push' | 'replace'): ApiAnswer {
    const key = this.authorize(req, applicationId, ['RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE']);
    if (webhookId !== undefined) {
      const hook = this.webhooks.get(applicationId, webhookId);
      if (!hook) throw errors.webhookNotFound();
      if (hook.paused) throw new SimApiError(406, { code: 9, message: 'webhook paused', details: [] });
    }
    this.checkRateLimit();
    const items = parseDownlinkBody(req.body);
    const device = this.devices.get(deviceId);
    if (!device) throw errors.deviceNotFound(deviceId);
    const downlinks = this.engine.enqueue(device, operation, items);
    const received: ReceivedDownlinkRequest = { applicationId, deviceId, webhookId, operation, downlinks, body: req.body, apiKeyId: key.id, receivedAt: timestamp() };
    this.receivedDownlinks.push(received);
    this.log(`← ${operation} ${deviceId}: ${downlinks.length} downlink(s)`);
    this.emit('downlink-request', received);
    return { status: 200 };
  }

  /** GetStoredApplicationUp: one `{"result": ApplicationUp}` line per stored message. */
  private storedUp(req: ApiRequest, applicationId: string, deviceId: string | undefined, type: string): ApiAnswer {
    this.authorize(req, applicationId, ['RIGHT_APPLICATION_TRAFFIC_READ']);
    const q = req.query;
    const one = (name: string): string | undefined => q.get(name) ?? undefined;
    const results = this.storage.query(applicationId, {
      type,
      deviceId,
      after: one('after'),
      before: one('before'),
      last: one('last'),
      limit: one('limit'),
      order: one('order'),
      fPort: one('f_port'),
      fieldMask: fieldMaskFrom(q),
    });
    return { results };
  }

  private checkRateLimit(): void {
    const limit = this.options.rateLimit;
    if (!limit) return;
    const now = Date.now();
    const windowMs = limit.windowSeconds * 1000;
    if (now - this.rateWindow.start >= windowMs) this.rateWindow = { start: now, count: 0 };
    this.rateWindow.count += 1;
    if (this.rateWindow.count > limit.limit) {
      throw errors.rateLimited(Math.max(1, Math.ceil((this.rateWindow.start + windowMs - now) / 1000)), limit.limit);
    }
  }

  private createApiKey(req: ApiRequest): ApiAnswer {
    const applicationId = req.params[0];
    const caller = this.authorize(req, applicationId, ['RIGHT_APPLICATION_SETTINGS_API_KEYS']);
    const body = req.body as { name?: unknown; rights?: unknown; expires_at?: unknown } | undefined;
    if (!body || typeof body !== 'object') throw errors.decodeBody('expected a JSON object');
    const name = body.name ?? '';
    if (typeof name !== 'string' || name.length > 50) throw errors.validateBody('name', 'at most 50 characters');
    const rights = body.rights;
    if (!Array.isArray(rights) || rights.length === 0) throw errors.validateBody('rights', 'at least one right');
    for (const right of rights) if (typeof right !== 'string' || !APPLICATION_RIGHTS.includes(right)) throw errors.decodeBody(`invalid value for enum field \`rights\`: ${String(right)}`);
    const missing = this.apiKeys.missing(caller, rights as string[]);
    if (missing.length > 0) throw errors.insufficientRights(missing);
    const stored = this.apiKeys.create(applicationId, name, rights as string[]);
    return { body: { id: stored.id, key: stored.key, name: stored.name || undefined, rights: stored.rights, created_at: stored.created_at, updated_at: stored.created_at } };
  }

  // ---- helpers ---------------------------------------------------------------------------

  private requireDevice(deviceId: string): SimDevice {
    const device = this.devices.get(deviceId);
    if (!device) throw new Error(`no simulated device "${deviceId}"`);
    return device;
  }

  private nextTrafficDevice(): SimDevice {
    const all = [...this.devices.values()];
    if (all.length === 0) throw new Error('the simulator has no devices');
    return all[this.trafficIndex++ % all.length];
  }

  private record<T>(list: T[], entry: T): void {
    list.push(entry);
    if (list.length > LOG_LIMIT) list.splice(0, list.length - LOG_LIMIT);
  }

  private log(line: string): void {
    this.emit('log', line);
  }
}

const WEBHOOK_WRITE_RIGHTS = ['RIGHT_APPLICATION_SETTINGS_BASIC', 'RIGHT_APPLICATION_TRAFFIC_READ', 'RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE'];

/** `?field_mask=a,b` or repeated `field_mask.paths=a`. */
function fieldMaskFrom(query: URLSearchParams): string[] | undefined {
  const paths = [...query.getAll('field_mask'), ...query.getAll('field_mask.paths')].flatMap((v) => v.split(',')).map((p) => p.trim()).filter(Boolean);
  return paths.length > 0 ? paths : undefined;
}
