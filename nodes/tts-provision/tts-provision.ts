import type { Node, NodeMessage } from 'node-red';
import { type NodeAPI, registerNode } from '../shared/red-types';
import { reportFailure } from '../shared/errors';
import { HandBack } from '../shared/hand-back';
import { onClose, onInput } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { profileRegistry } from '../../src/runtime';
import { logLifecycle, logProvisionProblem } from '../../src/monitor/log-entries';
import type { LifecycleEvent } from '../../src/registry/registry';
import { StoreUnavailableError, describeError } from '../../src/store/errors';
import type { StoreState } from '../../src/store/store';
import type { TtsEnvelope } from '../../src/tts/envelope-types';
import type { TtsStoreNode } from '../tts-store/types';
import type { TtsProvisionDef } from './types';

function isEnvelope(value: unknown): value is TtsEnvelope {
  const v = value as Partial<TtsEnvelope> | undefined;
  return !!v && typeof v === 'object' && typeof v.type === 'string' && typeof v.application_id === 'string' && typeof v.device_id === 'string';
}

/** The second output's message for one lifecycle event. */
function eventMessage(e: LifecycleEvent): NodeMessage {
  const payload: Record<string, unknown> = {
    event: e.event,
    device: e.device.id,
    applicationId: e.device.applicationId,
    deviceId: e.device.deviceId,
    at: new Date(e.at).toISOString(),
    online: e.device.online,
  };
  if (e.device.lastSeen !== undefined) payload.lastSeen = new Date(e.device.lastSeen).toISOString();
  if (e.location) payload.location = e.location;
  return {
    topic: `${e.device.applicationId}/${e.device.deviceId}/${e.event}`,
    payload,
    device: e.device,
    bucket: e.device.bucket,
  };
}

export = (RED: NodeAPI): void => {
  function TtsProvision(this: Node, config: TtsProvisionDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    const storeNode = RED.nodes.getNode(config.store) as TtsStoreNode | null;
    const registry = storeNode?.registry;
    let devices = 0;
    let unknown = 0;

    const counts = (): string => RED._('tts-provision.status.counts', { devices, unknown });
    const handBack = new HandBack(this, status, {
      status: (count, reason) => RED._('tts-provision.status.held', { count, reason }),
      warn: (reason) => RED._('tts-provision.warn.held', { reason }),
    });

    if (!registry) {
      status.error(RED._(storeNode ? 'tts-provision.status.store-invalid' : 'tts-provision.status.no-store'));
    } else {
      status.waiting(RED._('tts-provision.status.waiting'));
    }

    const onState = (state: StoreState): void => {
      if (state.status === 'unavailable') status.error(RED._('tts-provision.status.unavailable'));
      else if (state.status === 'ready') {
        handBack.reset();
        status.ok(counts);
      }
    };
    storeNode?.store?.on('state', onState);

    // Offline events come from the store's sweeper; report those of applications this node serves.
    const onLifecycle = (e: LifecycleEvent): void => {
      if (!profileRegistry.select(e.device.applicationId, config.profile)) return;
      logLifecycle([e], config.profile);
      this.send([null, eventMessage(e)]);
    };
    registry?.on('lifecycle', onLifecycle);

    // The message goes on at once, with its device from memory; it is done (may leave the inbox)
    // only once its creation or sighting is committed, and its lifecycle events follow then.
    onInput(this, async (msg, send) => {
      if (!registry) {
        throw new Error(RED._('tts-provision.errors.no-store', { error: storeNode?.configError ?? '' }));
      }
      const envelope = (msg as { tts?: unknown }).tts;
      if (!isEnvelope(envelope)) throw new Error(RED._('tts-provision.errors.no-envelope'));
      const profile = profileRegistry.select(envelope.application_id, config.profile);
      if (!profile) throw new Error(RED._('tts-provision.errors.no-profile', { applicationId: envelope.application_id }));
      const storeError = (err: unknown): Error => {
        logProvisionProblem(envelope, config.profile, 'failed', describeError(err));
        return reportFailure(RED, 'tts-provision', status, err, 'store');
      };
      let accepted;
      try {
        const refusal = registry.store.refusal;
        if (refusal !== undefined) throw new StoreUnavailableError(refusal);
        accepted = await registry.accept(envelope, profile.settings);
      } catch (err) {
        if (handBack.tryHold(msg, err)) return;
        throw storeError(err);
      }
      const out = msg as NodeMessage & { device?: unknown; bucket?: string };
      if (accepted.device) {
        out.device = accepted.device;
        out.bucket = accepted.device.bucket;
        if (accepted.created) devices += 1;
      } else {
        delete out.device;
        delete out.bucket;
        if (accepted.skipped === 'auto-provision-off') {
          unknown += 1;
          logProvisionProblem(envelope, config.profile, 'skipped', 'unknown device and auto provision is off in the profile');
        }
      }
      status.ok(counts);
      send([out, null]);
      let events;
      try {
        events = await accepted.committed;
      } catch (err) {
        // Already sent on: the inbox feeds it again later, and the replay is not counted twice.
        if (handBack.tryHold(msg, err)) return;
        throw storeError(err);
      }
      if (events.length > 0) {
        logLifecycle(events, config.profile);
        send([null, events.map(eventMessage)]);
      }
    });

    onClose(this, () => {
      status.close();
      registry?.off('lifecycle', onLifecycle);
      storeNode?.store?.off('state', onState);
    });
  }

  registerNode(RED, 'tts-provision', TtsProvision);
};
