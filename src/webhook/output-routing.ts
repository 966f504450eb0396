import type { MessageType } from '../tts/types';

export type RoutingMode = 'single' | 'by-type';

/** Output labels for `routing: by-type`, in output order. */
export const BY_TYPE_OUTPUTS = ['uplink', 'join', 'downlink events', 'location & service', 'other'] as const;

export function outputCount(mode: RoutingMode): number {
  return mode === 'by-type' ? BY_TYPE_OUTPUTS.length : 1;
}

/** Which output a message type leaves on with `routing: by-type`. */
export function outputIndexFor(type: MessageType): number {
  switch (type) {
    case 'uplink_message':
      return 0;
    case 'join_accept':
      return 1;
    case 'downlink_queued':
    case 'downlink_sent':
    case 'downlink_ack':
    case 'downlink_nack':
    case 'downlink_failed':
    case 'downlink_queue_invalidated':
      return 2;
    case 'location_solved':
    case 'service_data':
      return 3;
    default:
      return 4;
  }
}

/** The send() argument: the message on its output, null on the others. */
export function routeMessage<T>(mode: RoutingMode, type: MessageType, msg: T): T | Array<T | null> {
  if (mode !== 'by-type') return msg;
  const outputs: Array<T | null> = BY_TYPE_OUTPUTS.map(() => null);
  outputs[outputIndexFor(type)] = msg;
  return outputs;
}
