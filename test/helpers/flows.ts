import type { TtsProfileDef } from '../../nodes/tts-profile/types';
import type { TtsWebhookInDef } from '../../nodes/tts-webhook-in/types';

/** Flow factories: every node gets a unique id so tests never collide across loads. */
let counter = 0;
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

export type FlowNode = { id: string; type: string; z?: string; wires?: string[][] } & Record<string, unknown>;

export function profileNode(overrides: Partial<TtsProfileDef> = {}): TtsProfileDef {
  return {
    id: uid('profile'),
    type: 'tts-profile',
    name: '',
    applicationId: '',
    server: '',
    webhookId: '',
    ...overrides,
  } as TtsProfileDef;
}

export function webhookInNode(overrides: Partial<TtsWebhookInDef> & { wires?: string[][] } = {}): TtsWebhookInDef & { wires: string[][] } {
  return {
    id: uid('webhook'),
    type: 'tts-webhook-in',
    name: '',
    path: '/tts',
    routing: 'single',
    wires: [[]],
    ...overrides,
  } as TtsWebhookInDef & { wires: string[][] };
}

export function helperNode(id = uid('helper')): FlowNode {
  return { id, type: 'helper' };
}

export function catchNode(wires: string[][], scope: string[] | null = null): FlowNode {
  return { id: uid('catch'), type: 'catch', scope, uncaught: false, wires };
}
