// The editor sidebar "The Things Stack" (a Node-RED plugin): admin routes for devices, buckets
// and the event log, and live updates over Node-RED's comms. No route answers with a secret:
// stores are described by id, name and backend, profiles by id, name and application ID.
import type { Request, Response } from 'express';
import { needsPermission, type NodeAPI } from '../shared/red-types';
import { eventLog, LOG_KINDS, type LogEvent } from '../../src/monitor/event-log';
import { bucketSummaries, chartSeries, deviceDetail, listDeviceSummaries, newestRows } from '../../src/monitor/fleet-view';
import { profileRegistry } from '../../src/runtime';
import type { DeviceRegistry } from '../../src/registry/registry';
import { asStoreError } from '../../src/store/errors';
import { BAD_REQUEST, NOT_FOUND, TtsError } from '../../src/util/errors';
import type { TtsStore } from '../../src/store/store';
import type { TtsStoreNode } from '../tts-store/types';
import { parseCount, parseTime } from '../../src/bucket/bucket-input';
import { sendError } from '../shared/errors';

/** Comms topics the sidebar subscribes to. */
const LOG_TOPIC = 'tts-monitor/log';
const DEVICES_TOPIC = 'tts-monitor/devices';
/** Live updates are batched: at most one comms message per topic in this time. */
const PUBLISH_INTERVAL_MS = 500;
const LIVE_BATCH_MAX = 300;

interface StoreInfo {
  id: string;
  name: string;
  backend: string;
  store?: TtsStore;
  registry?: DeviceRegistry;
  status: string;
}

/** The parts of a plugin's RED that @types/node-red leaves out (absent in the permission-test stub). */
interface PluginExtras {
  comms?: { publish(topic: string, data: unknown, retain?: boolean): void };
  events?: { on(event: string, listener: (event?: { session?: string }) => void): void };
}

export = (RED: NodeAPI): void => {
  const extras = RED as unknown as PluginExtras;
  // The editor half registers itself in tts-monitor.html; this names the runtime half.
  (RED.plugins as NodeAPI['plugins'] | undefined)?.registerPlugin('tts-monitor', { type: 'tts-monitor' });
  const read = needsPermission(RED, 'tts-monitor.read');
  const write = needsPermission(RED, 'tts-monitor.write');

  const deployedStores = (): StoreInfo[] => {
    const out: StoreInfo[] = [];
    RED.nodes.eachNode((n: { id: string; type: string; name?: string; backend?: string }) => {
      if (n.type !== 'tts-store') return;
      const live = RED.nodes.getNode(n.id) as TtsStoreNode | null;
      out.push({
        id: n.id,
        name: n.name ?? '',
        backend: n.backend === 'postgres' ? 'postgres' : 'sqlite',
        ...(live?.store ? { store: live.store } : {}),
        ...(live?.registry ? { registry: live.registry } : {}),
        status: live?.store ? live.store.state.status : live?.configError ? 'invalid' : 'not deployed',
      });
    });
    return out;
  };

  const storeOf = (req: Request, res: Response): StoreInfo | undefined => {
    const info = deployedStores().find((s) => s.id === String(req.params.store));
    if (!info?.store || !info.registry) {
      sendError(res, new TtsError('no deployed tts-store with this id', NOT_FOUND('not_deployed')));
      return undefined;
    }
    return info;
  };

  const fail = (res: Response) => (err: unknown): void => {
    if (res.headersSent) return;
    sendError(res, asStoreError(err));
  };

  RED.httpAdmin.get('/tts/monitor/overview', read, (_req, res) => {
    editorOpened();
    res.json({
      stores: deployedStores().map(({ id, name, backend, status }) => ({ id, name, backend, status })),
      profiles: profileRegistry.all().map((p) => ({ id: p.settings.id, name: p.settings.name, applicationId: p.settings.applicationId })),
      logProfiles: eventLog.profiles(),
      logKinds: LOG_KINDS,
    });
  });

  RED.httpAdmin.get('/tts/monitor/stores/:store/devices', read, (req, res) => {
    const info = storeOf(req, res);
    if (info) listDeviceSummaries(info.store!).then((list) => res.json(list), fail(res));
  });

  RED.httpAdmin.get('/tts/monitor/stores/:store/devices/:id', read, (req, res) => {
    const info = storeOf(req, res);
    if (!info) return;
    deviceDetail(info.store!, String(req.params.id)).then((device) => {
      if (device) res.json({ device });
      else sendError(res, new TtsError(`no device "${String(req.params.id)}"`, NOT_FOUND('not_found')));
    }, fail(res));
  });

  // Changes state (and may send a downlink through nodes with "on change"): write permission.
  RED.httpAdmin.put('/tts/monitor/stores/:store/devices/:id/downlink', write, (req, res) => {
    const info = storeOf(req, res);
    if (!info) return;
    const body = req.body as { value?: unknown } | undefined;
    if (!body || typeof body !== 'object' || !('value' in body)) {
      sendError(res, new TtsError('send {"value": <the new downlink property>} as JSON', BAD_REQUEST));
      return;
    }
    const id = String(req.params.id);
    info.registry!.setDownlink(id, body.value, 'admin').then((found) => {
      if (found) res.json({ device: id, downlink: body.value ?? null });
      else sendError(res, new TtsError(`no device "${id}"`, NOT_FOUND('not_found')));
    }, fail(res));
  });

  RED.httpAdmin.get('/tts/monitor/stores/:store/buckets', read, (req, res) => {
    const info = storeOf(req, res);
    if (info) bucketSummaries(info.store!).then((buckets) => res.json({ buckets }), fail(res));
  });

  RED.httpAdmin.get('/tts/monitor/stores/:store/buckets/:bucket/rows', read, (req, res) => {
    const info = storeOf(req, res);
    if (!info) return;
    Promise.resolve()
      .then(() => newestRows(info.store!, String(req.params.bucket), parseCount(req.query.limit, 'limit') ?? 20))
      .then((rows) => res.json({ rows }), fail(res));
  });

  RED.httpAdmin.get('/tts/monitor/stores/:store/buckets/:bucket/chart', read, (req, res) => {
    const info = storeOf(req, res);
    if (!info) return;
    Promise.resolve()
      .then(() => {
        const from = parseTime(req.query.from, 'from');
        const to = parseTime(req.query.to, 'to');
        const range = { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
        return chartSeries(info.store!, String(req.params.bucket), typeof req.query.field === 'string' ? req.query.field : '', range);
      })
      .then((series) => res.json(series), fail(res));
  });

  RED.httpAdmin.get('/tts/monitor/log', read, (req, res) => {
    const q = req.query;
    const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
    try {
      const limit = parseCount(q.limit, 'limit');
      const after = parseCount(q.after, 'after');
      res.json({
        events: eventLog.list({
          ...(typeof q.profile === 'string' && q.profile !== '*' ? { profile: q.profile } : {}),
          ...(text(q.kind) ? { kind: text(q.kind) } : {}),
          ...(text(q.device) ? { device: text(q.device) } : {}),
          ...(after !== undefined ? { after } : {}),
          limit: limit ?? 300,
        }),
      });
    } catch (err) {
      fail(res)(err);
    }
  });

  // ---- live updates ----------------------------------------------------------------------
  const publish = (topic: string, data: unknown): void => extras.comms?.publish(topic, data, false);

  // Updates are batched only while an editor is connected: with none, nothing is kept for it
  // (an editor that connects reads the log and the devices when its sidebar opens).
  const editors = new Set<string>();
  // An editor connected before this plugin was loaded (installed from the palette) was never
  // counted: its sidebar asking for the overview shows it is there, its leaving is a session
  // never added.
  let uncounted = false;
  const listening = (): boolean => editors.size > 0 || uncounted;
  extras.events?.on('comms:connection-added', (e) => {
    editors.add(String(e?.session));
  });
  extras.events?.on('comms:connection-removed', (e) => {
    if (!editors.delete(String(e?.session))) uncounted = false;
    if (!listening()) dropPending();
  });
  function editorOpened(): void {
    if (editors.size === 0) uncounted = true;
  }

  let pendingEvents: LogEvent[] = [];
  let logTimer: NodeJS.Timeout | undefined;
  eventLog.on('event', (event: LogEvent) => {
    if (!listening()) return;
    // The sidebar shows the newest few hundred: a burst sends only those.
    if (pendingEvents.length >= LIVE_BATCH_MAX) pendingEvents.shift();
    pendingEvents.push(event);
    logTimer ??= setTimeout(() => {
      logTimer = undefined;
      const events = pendingEvents;
      pendingEvents = [];
      publish(LOG_TOPIC, { events });
    }, PUBLISH_INTERVAL_MS);
    logTimer.unref?.();
  });

  const changedDevices = new Map<string, Set<string>>();
  let devicesTimer: NodeJS.Timeout | undefined;
  const deviceChanged = (store: string, id: string): void => {
    if (!listening()) return;
    let ids = changedDevices.get(store);
    if (!ids) changedDevices.set(store, (ids = new Set()));
    ids.add(id);
    devicesTimer ??= setTimeout(() => {
      devicesTimer = undefined;
      for (const [s, set] of changedDevices) publish(DEVICES_TOPIC, { store: s, devices: [...set] });
      changedDevices.clear();
    }, PUBLISH_INTERVAL_MS);
    devicesTimer.unref?.();
  };

  function dropPending(): void {
    clearTimeout(logTimer);
    clearTimeout(devicesTimer);
    logTimer = undefined;
    devicesTimer = undefined;
    pendingEvents = [];
    changedDevices.clear();
  }

  // Registries live as long as their store node: a redeploy makes new ones (the old ones drop
  // their listeners on close), so each start of the flows attaches to the current ones.
  const watched = new WeakSet<DeviceRegistry>();
  extras.events?.on('flows:started', () => {
    for (const info of deployedStores()) {
      const registry = info.registry;
      if (!registry || watched.has(registry)) continue;
      watched.add(registry);
      registry.on('changed', (id: string) => deviceChanged(info.id, id));
      registry.on('downlink', (c: { id: string }) => deviceChanged(info.id, c.id));
      registry.on('lifecycle', (e: { device: { id: string } }) => deviceChanged(info.id, e.device.id));
    }
  });
};
