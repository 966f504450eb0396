import type { Node, NodeMessage } from 'node-red';
import type { TtsWebhookInDef } from './types';
import type { Request, Response } from 'express';
import cors from 'cors';
import { routerOf, type Handler, type NodeAPI, registerNode } from '../shared/red-types';
import { onClose } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { profileRegistry } from '../../src/profile/profile-registry';
import { receiveWebhook, type Rejected } from '../../src/webhook/webhook-receiver';
import { DEFAULT_BODY_LIMIT, type WebhookRequest } from '../../src/webhook/request-body';
import { routeMessage, type RoutingMode } from '../../src/webhook/output-routing';
import { normaliseWebhookPath, validateWebhookPath, webhookRoutePattern } from '../../src/webhook/webhook-path';
import { payloadOf, topicOf } from '../../src/tts/envelope';
import { downlinkTargets } from '../../src/tts/downlink-targets';
import { ttsMessageBus } from '../../src/tts/message-bus';
import { RateLimitedReporter } from '../../src/util/rate-limited';
import { logWebhookAccepted, logWebhookRefused } from '../../src/monitor/log-entries';


const WARNING_INTERVAL_MS = 60_000;

function bodyLimit(value: string | number | undefined): number {
  const kib = Number(value);
  return Number.isFinite(kib) && kib > 0 ? Math.floor(kib * 1024) : DEFAULT_BODY_LIMIT;
}

/** httpNodeMiddleware may be one function or an array of them, like core http in accepts. */
function nodeMiddleware(setting: unknown): Handler[] {
  if (typeof setting === 'function') return [setting as Handler];
  if (Array.isArray(setting)) return setting.filter((m): m is Handler => typeof m === 'function');
  return [];
}

export = (RED: NodeAPI): void => {
  function TtsWebhookIn(this: Node, config: TtsWebhookInDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    const warnings = new RateLimitedReporter(WARNING_INTERVAL_MS);
    const routing: RoutingMode = config.routing === 'by-type' ? 'by-type' : 'single';
    const maxBodyBytes = bodyLimit(config.maxBody);
    const path = normaliseWebhookPath(config.path);
    let received = 0;

    if (RED.settings.httpNodeRoot === false) {
      this.warn(RED._('tts-webhook-in.errors.not-created'));
      status.error(RED._('tts-webhook-in.status.disabled'));
      return;
    }
    const pathError = validateWebhookPath(path);
    if (pathError) {
      this.error(RED._('tts-webhook-in.errors.path', { error: pathError }));
      status.error(RED._('tts-webhook-in.status.bad-path'));
      return;
    }

    const rejected = (res: Response, outcome: Rejected): void => {
      res.status(outcome.status).set(outcome.headers ?? {}).json({ error: { code: outcome.code, message: outcome.message } });
      status.error(`${outcome.status} ${outcome.code}`);
      logWebhookRefused(outcome, config.profile || undefined, path);
      warnings.report(outcome.code, (suppressed) =>
        this.warn(RED._('tts-webhook-in.warn.rejected', { status: outcome.status, message: outcome.message, suppressed })),
      );
    };

    const handle = (req: Request, res: Response): void => {
      receiveWebhook(req as WebhookRequest, { registry: profileRegistry, fallbackProfileId: config.profile, maxBodyBytes })
        .then((outcome) => {
          if (!outcome.accepted) {
            rejected(res, outcome);
            return;
          }
          const { envelope } = outcome;
          downlinkTargets.remember(envelope.application_id, req.headers);
          const msg: NodeMessage & { tts: typeof envelope } = {
            topic: topicOf(envelope),
            payload: payloadOf(envelope),
            tts: envelope,
          };
          this.send(routeMessage(routing, envelope.type, msg) as NodeMessage);
          ttsMessageBus.publish(envelope);
          logWebhookAccepted(envelope, outcome.profile.settings.id);
          received += 1;
          status.ok(RED._('tts-webhook-in.status.received', { count: received, type: envelope.type }));
          res.status(200).json({});
        })
        .catch((err: Error) => {
          // Unexpected: never leave TTS waiting, never crash the runtime.
          if (!res.headersSent) res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
          status.error('500 internal');
          this.error(RED._('tts-webhook-in.errors.internal', { error: err.message }));
        });
    };

    const routeErrorHandler = (err: Error & { status?: number; type?: string }, _req: Request, res: Response, next: (e?: Error) => void): void => {
      if (res.headersSent) return next(err);
      const statusCode = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
      res.status(statusCode).json({ error: { code: err.type ?? 'request_error', message: err.message } });
    };

    const pattern = webhookRoutePattern(path);
    const corsHandler: Handler = RED.settings.httpNodeCors ? (cors(RED.settings.httpNodeCors as cors.CorsOptions) as Handler) : (_q, _s, next) => next();
    const middleware = nodeMiddleware(RED.settings.httpNodeMiddleware);
    RED.httpNode.post(pattern, corsHandler, ...middleware, handle, routeErrorHandler);
    if (RED.settings.httpNodeCors) RED.httpNode.options(pattern, corsHandler);
    status.waiting(RED._('tts-webhook-in.status.listening', { path }));

    onClose(this, () => {
      status.close();
      const router = routerOf(RED.httpNode);
      if (!router) return;
      // Rebuild the stack rather than splicing while iterating.
      const kept = router.stack.filter((layer) => !(layer.route && (layer.route.path as unknown) === pattern));
      router.stack.length = 0;
      router.stack.push(...kept);
    });
  }

  registerNode(RED, 'tts-webhook-in', TtsWebhookIn);
};
