import type { Node, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import type { TtsUplinkDecodeDef } from './types';
import { needsPermission, type NodeAPI, registerNode } from '../shared/red-types';
import { onClose, onInput } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { editorSettings, scriptTimeoutOf, setting } from '../shared/settings';
import { runCodecTest } from '../../src/codec/test-tool';
import { previewEncode } from '../../src/downlink/encode-preview';
import { sendError, statusKeyOf } from '../shared/errors';
import { NOT_FOUND, TtsError, errorMessage } from '../../src/util/errors';
import { isDecoderMode, UplinkDecoder, uplinkInputFromMessage, type DecodableMessage } from '../../src/codec/uplink-decoder';
import type { UplinkInput } from '../../src/codec/types';
import { logDecodeError } from '../../src/monitor/log-entries';

/** What the "last uplink received by this node" button gets. */
interface LastUplink {
  base64: string;
  fPort: number;
  receivedAt?: string;
  decodedPayload?: Record<string, unknown>;
  message?: unknown;
}


function lastUplinkOf(input: UplinkInput): LastUplink {
  return {
    base64: Buffer.from(input.bytes as number[]).toString('base64'),
    fPort: input.fPort ?? 0,
    ...(input.recvTime ? { receivedAt: input.recvTime.toISOString() } : {}),
    ...(input.decodedPayload ? { decodedPayload: input.decodedPayload } : {}),
    ...(input.message ? { message: input.message } : {}),
  };
}

function describeLine(line: number | undefined): string {
  return line === undefined ? '' : ` @${line}`;
}

export = (RED: NodeAPI): void => {
  const lastUplinks = new Map<string, UplinkInput>();
  // Node setting → settings.js ttsUplinkDecodeTimeout → 100 ms (TTS's own limit).
  const settingTimeout = (): number => setting(RED, 'ttsUplinkDecodeTimeout');

  function TtsUplinkDecode(this: Node, config: TtsUplinkDecodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const status = new StatusReporter(node);
    const mode = isDecoderMode(config.codec) ? config.codec : 'auto';
    const timeout = scriptTimeoutOf(config.timeout, settingTimeout());
    const decoder = new UplinkDecoder({
      mode,
      script: typeof config.script === 'string' ? config.script : '',
      timeout,
      filename: `tts-uplink-decode-${node.id}.js`,
    });
    let decoded = 0;
    let failed = 0;

    if (decoder.loadError) {
      node.error(RED._('tts-uplink-decode.errors.load', { error: decoder.loadError.message }));
      status.error(RED._('tts-uplink-decode.status.script-error') + describeLine(decoder.loadError.codecError.line));
    }

    const counts = (): string => RED._('tts-uplink-decode.status.counts', { decoded, failed });

    onInput(node, async (msg: NodeMessageInFlow, send) => {
      const message = msg as NodeMessageInFlow & DecodableMessage & { decodeWarnings?: string[] };
      // `reason` is the engine's own text (with the script line); `text` wraps it for the log.
      const fail = (text: string, reason: string, detail: Record<string, unknown>): Error => {
        failed += 1;
        status.error(counts());
        // The second output gets a copy with the reason; Catch nodes get the message as it came.
        const copy = RED.util.cloneMessage(msg) as NodeMessage & { error?: unknown };
        copy.error = { message: reason, source: { id: node.id, type: 'tts-uplink-decode', name: config.name }, ...detail };
        send([null, copy]);
        logDecodeError((msg as { tts?: unknown }).tts, reason, { node: node.id, kind: String(detail.kind) });
        return new Error(text);
      };

      let input: UplinkInput;
      try {
        input = uplinkInputFromMessage(message);
      } catch (err) {
        // Bad input is this message's failure (counted, second output); anything else is unexpected.
        if (statusKeyOf(err) !== 'invalid') throw err;
        const reason = errorMessage(err);
        throw fail(RED._('tts-uplink-decode.errors.input', { error: reason }), reason, { kind: 'input' });
      }
      // Kept as it came; put into the dialog's form only when asked for.
      lastUplinks.set(node.id, input);

      const outcome = await decoder.decode(input);
      for (const line of outcome.logs) node.log(line);
      if (outcome.errors.length > 0 || !outcome.data) {
        const error = outcome.error ?? { kind: 'script', message: outcome.errors.join('; ') };
        const reason = outcome.errors.join('; ');
        // Which device sent it: the log and the debug sidebar show this text only, without the message.
        const tts = message.tts as { application_id?: unknown; device_id?: unknown } | undefined;
        const device = typeof tts?.device_id === 'string' ? `${String(tts.application_id ?? '')}/${tts.device_id}` : undefined;
        const text = device
          ? RED._('tts-uplink-decode.errors.decode-device', { error: reason, device, fPort: input.fPort ?? '-' })
          : RED._('tts-uplink-decode.errors.decode', { error: reason });
        throw fail(text, reason, {
          kind: error.kind,
          ...(error.line === undefined ? {} : { line: error.line }),
          ...(error.column === undefined ? {} : { column: error.column }),
          decoder: outcome.decoder,
        });
      }
      message.payload = outcome.data;
      if (message.tts && typeof message.tts === 'object') message.tts.decodeWarnings = outcome.warnings;
      else message.decodeWarnings = outcome.warnings;
      decoded += 1;
      // Built only when written (about once a second), not for every uplink.
      if (failed > 0) status.error(counts, true);
      else status.ok(counts);
      send([msg, null]);
    });

    onClose(node, (removed) => {
      status.close();
      decoder.close();
      if (removed) lastUplinks.delete(node.id);
    });
  }

  registerNode(RED, 'tts-uplink-decode', TtsUplinkDecode, {
    settings: editorSettings('ttsUplinkDecodeTimeout'),
  });

  // The edit dialog's test tool: runs the dialog's current settings through the node's own decode path.
  // It runs user code, so it needs write permission.
  RED.httpAdmin.post('/tts/codec/test', needsPermission(RED, 'tts-uplink-decode.write'), (req: Request, res: Response) => {
    runCodecTest((req.body ?? {}) as Record<string, unknown>, settingTimeout(), previewEncode).then(
      (result) => res.json(result),
      (err: unknown) => sendError(res, err),
    );
  });

  RED.httpAdmin.get('/tts/uplink-decode/:id/last-uplink', needsPermission(RED, 'tts-uplink-decode.read'), (req: Request, res: Response) => {
    const input = lastUplinks.get(String(req.params.id));
    if (!input) {
      sendError(res, new TtsError(RED._('tts-uplink-decode.test.no-uplink'), NOT_FOUND('no_uplink')));
      return;
    }
    res.json(lastUplinkOf(input));
  });
};
