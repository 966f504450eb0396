import type { Node, NodeMessage } from 'node-red';
import { type NodeAPI, registerNode } from '../shared/red-types';
import { onClose, onInput } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { logLifecycle, logProvisionProblem } from '../../src/monitor/log-entries';
import { profileRegistry } from '../../src/profile/profile-registry';
import type { LifecycleEvent } from '../../src/registry/registry';
import { describeError } from '../../src/store/errors';
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
  } as NodeMessage;
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

    if (!registry) {
      status.error(RED._(storeNode ? 'tts-provision.status.store-invalid' : 'tts-provision.status.no-store'));
    } else {
      status.waiting(RED._('tts-provision.status.waiting'));
    }

    const onState = (state: StoreState): void => {
      if (state.status === 'unavailable') status.error(RED._('tts-provision.status.unavailable'));
      else if (state.status === 'ready') status.ok(counts());
    };
    storeNode?.store?.on('state', onState);

    // Offline events come from the store's sweeper; report those of applications this node serves.
    const onLifecycle = (e: LifecycleEvent): void => {
      if (!profileRegistry.select(e.device.applicationId, config.profile)) return;
      logLifecycle([e], config.profile);
      this.send([null, eventMessage(e)]);
    };
    registry?.on('lifecycle', onLifecycle);

    onInput(this, async (msg, send) => {
      if (!registry) {
        throw new Error(RED._('tts-provision.errors.no-store', { error: storeNode?.configError ?? '' }));
      }
      const envelope = (msg as { tts?: unknown }).tts;
      if (!isEnvelope(envelope)) throw new Error(RED._('tts-provision.errors.no-envelope'));
      const profile = profileRegistry.select(envelope.application_id, config.profile);
      if (!profile) throw new Error(RED._('tts-provision.errors.no-profile', { applicationId: envelope.application_id }));
      let result;
      try {
        result = await registry.process(envelope, profile.settings);
      } catch (err) {
        status.error(RED._('tts-provision.status.failed'));
        logProvisionProblem(envelope, config.profile, 'failed', describeError(err));
        throw new Error(RED._('tts-provision.errors.store', { error: describeError(err) }));
      }
      const out = msg as NodeMessage & { device?: unknown; bucket?: string };
      if (result.device) {
        out.device = result.device;
        out.bucket = result.device.bucket;
        if (result.created) devices += 1;
      } else {
        delete out.device;
        delete out.bucket;
        if (result.skipped === 'auto-provision-off') {
          unknown += 1;
          logProvisionProblem(envelope, config.profile, 'skipped', 'unknown device and auto provision is off in the profile');
        }
      }
      if (result.events.length > 0) logLifecycle(result.events, config.profile);
      status.ok(counts());
      send([out, result.events.length > 0 ? result.events.map(eventMessage) : null]);
    });

    onClose(this, () => {
      status.close();
      registry?.off('lifecycle', onLifecycle);
      storeNode?.store?.off('state', onState);
    });
  }

  registerNode(RED, 'tts-provision', TtsProvision);
};
