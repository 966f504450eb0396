import { BY_TYPE_OUTPUTS, outputIndexFor, type MessageType } from '../tts/protocol';

export { BY_TYPE_OUTPUTS, outputIndexFor };

export type RoutingMode = 'single' | 'by-type';

export function outputCount(mode: RoutingMode): number {
  return mode === 'by-type' ? BY_TYPE_OUTPUTS.length : 1;
}

/** The send() argument: the message on its output, null on the others. */
export function routeMessage<T>(mode: RoutingMode, type: MessageType, msg: T): T | Array<T | null> {
  if (mode !== 'by-type') return msg;
  const outputs: Array<T | null> = BY_TYPE_OUTPUTS.map(() => null);
  outputs[outputIndexFor(type)] = msg;
  return outputs;
}
