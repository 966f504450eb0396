import type { Node } from 'node-red';
import { Inbox, type InboxLimits } from '../../src/inbox/inbox';
import { registerHolder, registerRuntimeState } from '../../src/runtime';
import type { Holder } from '../../src/inbox/completion-tracker';
import type { NodeAPI } from './red-types';
import { setting } from './settings';

interface HookEvent {
  msg?: { _msgid?: unknown };
  error?: unknown;
  destination?: { id: string; node?: Holder & { _expectedDoneCount?: number } };
  node?: { id: string; node?: Holder };
}

interface Hooks {
  add(id: string, fn: (event: HookEvent) => void): void;
  remove(id: string): void;
}

const HOOK_SUFFIX = 'tts-inbox';

function inboxSetting(RED: NodeAPI): { enabled: false } | { enabled: true; directory: string; limits: InboxLimits } {
  const value = setting(RED, 'ttsInbox');
  if (value === false) return { enabled: false };
  const { directory, ...limits } = value;
  return { enabled: true, directory, limits };
}

let shared: { inbox: Promise<Inbox>; users: number; release: () => void } | undefined;
let closing: Promise<void> = Promise.resolve();
// Forgets the inbox of flows that are gone (their nodes released it on close); a close still
// under way is still waited for before the next open.
registerRuntimeState('shared inbox', () => {
  shared = undefined;
});

/**
 * The instance's inbox, opened by the first tts-webhook-in node that starts and closed when the
 * last one closes. While it is open, Node-RED's message hooks tell it when the flow has finished
 * with each message it accepted.
 */
export function acquireInbox(RED: NodeAPI): Promise<Inbox> | undefined {
  const setting = inboxSetting(RED);
  if (!setting.enabled) return undefined;
  const hooks = (RED as unknown as { hooks?: Hooks }).hooks;
  // Message hooks exist since Node-RED 2; without them nothing could tell when a flow is done.
  if (!hooks) return Promise.reject(new Error('this Node-RED has no message hooks (RED.hooks); set ttsInbox: false'));
  if (shared) {
    shared.users += 1;
    return shared.inbox;
  }
  const inbox = closing.then(() => Inbox.open(setting.directory, setting.limits));
  const opened = { inbox, users: 1, release: () => undefined as void };
  shared = opened;
  void inbox.then(
    (box) => {
      const tracker = box.tracker;
      // While flows stop, Node-RED drops a message sent to a node that is already stopped, and
      // nothing says so: whatever is still moving then is kept to be fed again.
      hooks.add(`onSend.${HOOK_SUFFIX}`, (events) => {
        if (!tracker.stopping) return;
        for (const e of events as unknown as HookEvent[]) tracker.hold(e.msg?._msgid);
      });
      hooks.add(`preDeliver.${HOOK_SUFFIX}`, (e) => {
        if (e.destination?.node) tracker.delivered(e.msg?._msgid, e.destination.node);
      });
      hooks.add(`onReceive.${HOOK_SUFFIX}`, (e) => {
        if (e.destination?.node) tracker.received(e.msg?._msgid, e.destination.node);
      });
      hooks.add(`postReceive.${HOOK_SUFFIX}`, (e) => {
        const node = e.destination?.node;
        // A node whose input handlers take no `done` is finished once they have returned.
        if (node) tracker.returned(e.msg?._msgid, node, (node._expectedDoneCount ?? 1) > 0);
      });
      hooks.add(`onComplete.${HOOK_SUFFIX}`, (e) => {
        if (e.node?.node) tracker.completed(e.msg?._msgid, e.node.node, e.error !== undefined && e.error !== null);
      });
      const unregister = registerHolder({ hold: (msg, reason) => box.hold(msg, reason) });
      // After a partial deploy, what a restarted node held is lost in it: feed it again.
      const onStarted = (): void => {
        tracker.stopping = false;
        box.replayOrphans((node) => RED.nodes.getNode(node.id) === (node as unknown as Node));
      };
      const onStopping = (): void => {
        tracker.stopping = true;
      };
      RED.events.on('flows:started', onStarted);
      RED.events.on('flows:stopping', onStopping);
      opened.release = () => {
        hooks.remove(`*.${HOOK_SUFFIX}`);
        unregister();
        RED.events.off('flows:started', onStarted);
        RED.events.off('flows:stopping', onStopping);
      };
    },
    () => {
      if (shared === opened) shared = undefined;
    },
  );
  return inbox;
}

/** Releases one user; the last one closes the inbox (after every pending write is synced). */
export async function releaseInbox(): Promise<void> {
  const current = shared;
  if (!current) return;
  current.users -= 1;
  if (current.users > 0) return;
  shared = undefined;
  closing = current.inbox.then(
    async (box) => {
      current.release();
      await box.close();
    },
    () => undefined,
  );
  await closing;
}

/** The open inbox, if any (for nodes that record effects such as a sent downlink). */
export async function currentInbox(): Promise<Inbox | undefined> {
  return shared ? shared.inbox.catch(() => undefined) : undefined;
}
