import type { Node, NodeMessage } from 'node-red';
import { needsPermission, registerNode, type NodeAPI } from '../shared/red-types';
import { onClose, onInput } from '../shared/input';
import { currentInbox } from '../shared/inbox-runtime';
import { StatusReporter } from '../shared/status';
import { reportFailure, sendError } from '../shared/errors';
import {
  DownlinkEncoder,
  DownlinkLifecycleTracker,
  DownlinkSender,
  previewEncode,
  storeDownlinkOnly,
  triggersDownlink,
  type DownlinkMessage,
  type LifecycleReport,
} from '../../src/downlink';
import { downlinkTargets, profileRegistry, ttsMessageBus } from '../../src/runtime';
import { logDownlinkOutcome, logDownlinkRefused, logDownlinkRequested } from '../../src/monitor/log-entries';
import type { DownlinkChange } from '../../src/registry/registry';
import { editorSettings, positiveNumber, scriptTimeoutOf, setting } from '../shared/settings';
import { BAD_REQUEST, TtsError } from '../../src/util/errors';
import type { TtsStoreNode } from '../tts-store/types';
import type { TtsDownlinkDef } from './types';

const DEFAULT_OUTCOME_TIMEOUT_S = 600;

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** The second output's message for one lifecycle step. */
function outcomeMessage(r: LifecycleReport): NodeMessage {
  const d = r.downlink;
  const payload: Record<string, unknown> = {
    event: r.event,
    final: r.final,
    correlationId: d.correlationId,
    applicationId: d.applicationId,
    deviceId: d.deviceId,
    ...(d.device ? { device: d.device } : {}),
    fPort: d.fPort,
    confirmed: d.confirmed,
    priority: d.priority,
    queue: d.queue,
    ...(r.fCnt !== undefined ? { fCnt: r.fCnt } : {}),
    ...(r.attempt !== undefined ? { attempt: r.attempt } : {}),
    ...(r.error ? { error: r.error } : {}),
    requestedAt: new Date(d.requestedAt).toISOString(),
    at: new Date(r.at).toISOString(),
    elapsedMs: r.elapsedMs,
    timeline: r.timeline,
  };
  return {
    ...(d.msgid ? { _msgid: d.msgid } : {}),
    topic: `${d.applicationId}/${d.deviceId}/downlink_${r.event}`,
    payload,
    ...(r.envelope ? { tts: r.envelope } : {}),
  };
}

export = (RED: NodeAPI): void => {
  function TtsDownlink(this: Node, config: TtsDownlinkDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(this);
    const storeNode = config.store ? (RED.nodes.getNode(config.store) as TtsStoreNode | null) : null;
    const report = config.report === 'final' ? 'final' : 'all';
    const inFlight = new Set<AbortController>();

    const tracker = new DownlinkLifecycleTracker({
      timeoutMs: (positiveNumber(config.outcomeTimeout) ?? DEFAULT_OUTCOME_TIMEOUT_S) * 1000,
      onReport: (r) => {
        const where = r.downlink.deviceId;
        const text = RED._(`tts-downlink.status.${r.event}`, { device: where, time: seconds(r.elapsedMs) });
        if (r.event === 'failed') status.error(text);
        else if (r.event === 'nack' || r.event === 'unconfirmed') status.waiting(text);
        else if (r.final) status.ok(text);
        else status.working(text);
        if (report === 'all' || r.final) node.send([null, outcomeMessage(r)]);
        logDownlinkOutcome(r, config.profile || undefined);
      },
    });
    const unsubscribe = ttsMessageBus.subscribe((envelope) => {
      tracker.handle(envelope);
    });

    let encoder: DownlinkEncoder | undefined;
    let configError: string | undefined;
    try {
      encoder = new DownlinkEncoder({
        codec: config.codec ?? 'script',
        script: config.script ?? '',
        rawFormat: (config.rawFormat ?? 'auto'),
        timeout: scriptTimeoutOf(config.timeout, setting(RED, 'ttsDownlinkEncodeTimeout')),
        filename: `tts-downlink-${this.id}.js`,
      });
    } catch (err) {
      configError = (err as Error).message;
    }
    if (config.store && !storeNode?.registry) {
      configError ??= RED._('tts-downlink.errors.store', { error: storeNode?.configError ?? RED._('tts-downlink.errors.store-missing') });
    }
    if (configError) {
      this.error(RED._('tts-downlink.errors.config', { error: configError }));
      status.error(RED._('tts-downlink.status.config'));
    }

    const sender = encoder
      ? new DownlinkSender({
          profiles: profileRegistry,
          targets: downlinkTargets,
          ...(storeNode?.registry ? { registry: storeNode.registry } : {}),
          encoder,
          tracker,
          fallbackProfileId: config.profile || undefined,
          configuredDevice: config.device,
          requestTimeoutMs: setting(RED, 'ttsDownlinkRequestTimeout'),
          retry: setting(RED, 'ttsDownlinkRetry'),
          onRetry: (info) => status.waiting(RED._('tts-downlink.status.retry', { attempt: info.attempt + 1, reason: info.reason })),
        })
      : undefined;

    onInput(this, async (msg, send) => {
      if (!sender) throw new Error(RED._('tts-downlink.errors.config', { error: configError ?? '' }));
      if ((msg as DownlinkMessage).storeOnly === true) {
        (msg as NodeMessage & { downlink?: unknown }).downlink = await storeDownlinkOnly(msg as DownlinkMessage, storeNode?.registry, config.device);
        send([msg as NodeMessage, null]);
        return;
      }
      // A replayed message (restart, redeploy, held by a node) never sends a downlink twice: it
      // is sent only when the inbox knows it was not sent the first time.
      const inbox = await currentInbox();
      const effect = `downlink:${node.id}`;
      if ((msg as { tts?: { replay?: unknown } }).tts?.replay === true && inbox?.hasEffect(msg, effect) !== false) {
        status.waiting(RED._('tts-downlink.status.replay-skipped'));
        return;
      }
      const controller = new AbortController();
      inFlight.add(controller);
      status.working(RED._('tts-downlink.status.sending'));
      try {
        const result = await sender.send(msg, controller.signal);
        for (const warning of result.warnings) node.warn(RED._('tts-downlink.warn.script', { warning }));
        if (result.storeError) node.warn(RED._('tts-downlink.warn.store', { error: result.storeError }));
        status.working(RED._('tts-downlink.status.accepted', { device: result.deviceId, queue: result.queue }));
        (msg as NodeMessage & { downlink?: unknown }).downlink = result;
        await inbox?.recordEffect(msg, effect);
        logDownlinkRequested(result, config.profile || undefined);
        send([msg, null]);
      } catch (err) {
        logDownlinkRefused(msg, config.profile || undefined, (err as Error).message);
        throw reportFailure(RED, 'tts-downlink', status, err);
      } finally {
        inFlight.delete(controller);
      }
    });

    // Downlink on property change: a stored `downlink` changed elsewhere is sent through this
    // node's own input, as a message without payload (so the stored value is what goes out).
    const registry = storeNode?.registry;
    const onDownlinkChange = (change: DownlinkChange): void => {
      registry!
        .getDevice(change.id)
        .then((device) => {
          const rule = { configuredDevice: config.device, serves: (app: string) => !!profileRegistry.select(app, config.profile || undefined) };
          if (!device || !triggersDownlink(change, device, rule)) return;
          node.receive({ topic: `${device.applicationId}/${device.deviceId}/downlink_property`, device: device.id, trigger: `property-change:${change.origin}` } as NodeMessage);
        })
        .catch((err: unknown) => node.warn(RED._('tts-downlink.warn.property', { error: (err as Error).message })));
    };
    const onPropertyChange = config.onPropertyChange === true || (config.onPropertyChange as unknown) === 'true';
    if (onPropertyChange && registry) registry.on('downlink', onDownlinkChange);

    onClose(this, () => {
      registry?.off('downlink', onDownlinkChange);
      unsubscribe();
      tracker.close();
      for (const controller of inFlight) controller.abort();
      inFlight.clear();
      status.close();
    });
  }

  registerNode(RED, 'tts-downlink', TtsDownlink, {
    settings: editorSettings('ttsDownlinkEncodeTimeout'),
  });

  // The edit dialog's test tool: runs the encoder on sample data. It runs user code, hence .write.
  RED.httpAdmin.post('/tts/downlink/encode', needsPermission(RED, 'tts-downlink.write'), (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    // An empty time limit in the dialog means the setting, as it does for the deployed node.
    const result = previewEncode({ ...body, timeout: scriptTimeoutOf(body.timeout, setting(RED, 'ttsDownlinkEncodeTimeout')) });
    // Encoder failures are an answer to show; only a malformed request is an HTTP error.
    if (!result.ok && result.badRequest) sendError(res, new TtsError(result.error, BAD_REQUEST));
    else res.json(result);
  });
};
