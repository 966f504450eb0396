import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Node, NodeMessage } from 'node-red';
import type { TtsWebhookInDef } from './types';
import cors from 'cors';
import { routerOf, type Handler, type NodeAPI, registerNode } from '../shared/red-types';
import { onClose } from '../shared/input';
import { StatusReporter } from '../shared/status';
import { codeOf, errorBody, httpStatusOf } from '../shared/errors';
import { acquireInbox, releaseInbox } from '../shared/inbox-runtime';
import { setting } from '../shared/settings';
import { envelopeOf, receiveWebhook, type Rejected } from '../../src/webhook/webhook-receiver';
import { DEFAULT_BODY_LIMIT, type WebhookRequest } from '../../src/webhook/request-body';
import { routeMessage, type RoutingMode } from '../../src/webhook/output-routing';
import { normaliseWebhookPath, validateWebhookPath, webhookRoutePattern } from '../../src/webhook/webhook-path';
import { interceptPost, sendJson } from '../../src/webhook/request-interceptor';
import { parseApplicationUp, payloadOf, topicOf, type TtsEnvelope } from '../../src/tts/envelope';
import { downlinkTargets, profileRegistry, ttsMessageBus, webhookInputs } from '../../src/runtime';
import { RateLimitedReporter } from '../../src/util/rate-limited';
import { InboxUnavailableError, newMessageId, type Inbox } from '../../src/inbox/inbox';
import type { LogEntry } from '../../src/inbox/durable-log';
import { logWebhookAccepted, logWebhookRefused } from '../../src/monitor/log-entries';
import { ChurnSet } from '../../src/util/churn-map';

const WARNING_INTERVAL_MS = 60_000;
/** What a 503 asks TTS (or a proxy) to wait before trying again. */
const RETRY_AFTER_SECONDS = '5';

/** The warning's key with the count of the ones held back since the last, when there were any ("0 more" reads as noise). */
function more(key: string, suppressed: number): string {
  return suppressed > 0 ? `${key}-more` : key;
}

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

/** httpNodeRoot as a prefix: '/' → '', '/api/' → '/api'. */
function rootPrefix(root: unknown): string {
  return typeof root === 'string' ? normaliseWebhookPath(root).replace(/\/$/, '') : '';
}

type TtsMessage = NodeMessage & { _msgid: string; tts: TtsEnvelope };

export = (RED: NodeAPI): void => {
  function TtsWebhookIn(this: Node, config: TtsWebhookInDef): void {
    RED.nodes.createNode(this, config);
    const status = new StatusReporter(this);
    const warnings = new RateLimitedReporter(WARNING_INTERVAL_MS);
    const routing: RoutingMode = config.routing === 'by-type' ? 'by-type' : 'single';
    const maxBodyBytes = bodyLimit(config.maxBody);
    const path = normaliseWebhookPath(config.path);
    let received = 0;
    let lastType = '';

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

    // Durable acceptance (settings.js `ttsInbox`, on unless false): a 2xx only once on disk.
    const inboxReady = acquireInbox(RED);
    let inbox: Inbox | undefined;
    let closing = false;
    const accepting = new ChurnSet<Promise<void>>();

    const statusText = (): string => {
      const held = inbox?.heldFor(this.id) ?? 0;
      const queued = inbox?.queuedFor(this.id) ?? 0;
      if (held > 0 || queued > 0) return RED._('tts-webhook-in.status.received-held', { count: received, held, queued });
      return RED._('tts-webhook-in.status.received', { count: received, type: lastType });
    };

    const warn = (key: string, text: string): void => {
      warnings.report(key, (suppressed) => this.warn(RED._(more('tts-webhook-in.warn.rejected', suppressed), { status: key, message: text, suppressed })));
    };

    const rejected = (res: ServerResponse, outcome: Rejected): void => {
      sendJson(res, outcome.status, errorBody(outcome.code, outcome.message), outcome.headers);
      status.error(`${outcome.status} ${outcome.code}`);
      logWebhookRefused(outcome, config.profile || undefined, path);
      warnings.report(outcome.code, (suppressed) =>
        this.warn(RED._(more('tts-webhook-in.warn.rejected', suppressed), { status: outcome.status, message: outcome.message, suppressed })),
      );
    };

    const unavailable = (res: ServerResponse, cause: unknown): void => {
      const err = cause instanceof InboxUnavailableError ? cause : new InboxUnavailableError((cause as Error).message);
      sendJson(res, httpStatusOf(err), errorBody(codeOf(err), err.message), { 'Retry-After': RETRY_AFTER_SECONDS });
      status.error(`503 ${RED._('tts-webhook-in.status.inbox-unavailable')}`);
      logWebhookRefused({ status: 503, code: 'inbox_unavailable', message: err.message }, config.profile || undefined, path);
      warn('503', err.message);
    };

    /** Sends one message into the flow, tracked by the inbox when it is stored there. */
    const emit = (envelope: TtsEnvelope, seq: number | undefined): string => {
      const msg: TtsMessage = { _msgid: newMessageId(), topic: topicOf(envelope), payload: payloadOf(envelope), tts: envelope };
      if (inbox && seq !== undefined) inbox.track(msg._msgid, seq);
      this.send(routeMessage(routing, envelope.type, msg) as NodeMessage);
      if (inbox && seq !== undefined) inbox.sent(msg._msgid);
      lastType = envelope.type;
      status.ok(statusText);
      return msg._msgid;
    };

    const accept = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const now = Date.now();
      const outcome = await receiveWebhook(req as WebhookRequest, { registry: profileRegistry, fallbackProfileId: config.profile, maxBodyBytes, now });
      if (!outcome.accepted) {
        rejected(res, outcome);
        return;
      }
      const { envelope } = outcome;
      let seq: number | undefined;
      let synced: Promise<void> | undefined;
      if (inboxReady) {
        try {
          inbox ??= await inboxReady;
          ({ seq, synced } = inbox.acceptNow(outcome.text, { node: this.id }, now));
        } catch (err) {
          unavailable(res, err);
          return;
        }
      }
      // Into the flow while the disk write runs, so that the flow's work and the disk's overlap;
      // the answer still waits for the write. (Should the disk fail now, TTS gets a 503 for a
      // message the flow already has: at worst a message processed and reported as failed.)
      downlinkTargets.remember(envelope.application_id, req.headers);
      received += 1;
      emit(envelope, seq);
      ttsMessageBus.publish(envelope);
      if (synced) {
        try {
          await synced;
        } catch (err) {
          unavailable(res, err);
          return;
        }
      }
      sendJson(res, 200, {});
      logWebhookAccepted(envelope, outcome.profile.settings.id);
    };

    const handle = (req: IncomingMessage, res: ServerResponse): void => {
      if (closing) {
        unavailable(res, new InboxUnavailableError('the webhook node is stopping'));
        return;
      }
      const done = accept(req, res)
        .catch((err: Error) => {
          // Unexpected: never leave TTS waiting, never crash the runtime.
          sendJson(res, 500, errorBody('internal', 'internal error'));
          status.error('500 internal');
          this.error(RED._('tts-webhook-in.errors.internal', { error: err.message }));
        })
        .finally(() => accepting.delete(done));
      accepting.add(done);
    };

    /** A stored message fed again (restart, redeploy, held by a node) with `msg.tts.replay`. */
    const replay = (entry: LogEntry, body: string): string | undefined => {
      let envelope: TtsEnvelope;
      try {
        envelope = parseApplicationUp(JSON.parse(body), entry.acceptedAt);
      } catch (err) {
        this.warn(RED._('tts-webhook-in.warn.replay-invalid', { seq: entry.seq, error: (err as Error).message }));
        return undefined;
      }
      envelope.replay = true;
      return emit(envelope, entry.seq);
    };

    const unregisterInput = webhookInputs.register({
      nodeId: this.id,
      serves: (applicationId) => profileRegistry.select(applicationId, config.profile) !== undefined,
      inject: async (body) => {
        const now = Date.now();
        const envelope = envelopeOf(JSON.parse(body) as unknown, now);
        envelope.replay = true;
        let seq: number | undefined;
        if (inboxReady) {
          inbox ??= await inboxReady;
          seq = await inbox.accept(body, { node: this.id, source: 'backfill' }, now);
        }
        emit(envelope, seq);
      },
    });

    const startReplay = (): void => {
      if (!inboxReady || closing) return;
      inboxReady.then(
        (box) => {
          inbox = box;
          if (closing) return;
          box.attach(
            this.id,
            replay,
            (err) => this.warn(RED._('tts-webhook-in.warn.replay-failed', { error: err.message })),
            (reason) => {
              status.ok(statusText);
              warnings.report('held', (suppressed) => this.warn(RED._(more('tts-webhook-in.warn.held', suppressed), { reason, suppressed })));
            },
          );
          if (box.queuedFor(this.id) > 0) status.working(statusText);
        },
        (err: Error) => {
          status.error(RED._('tts-webhook-in.status.inbox-unavailable'));
          this.error(RED._('tts-webhook-in.errors.inbox', { error: err.message }));
        },
      );
    };
    // Replays start once the whole flow is running, so they reach every node.
    RED.events.once('flows:started', startReplay);

    // The short path skips the editor's app and its parsers; settings that ask for express
    // middleware on node routes get the ordinary route.
    const pattern = webhookRoutePattern(path);
    const server = (RED as unknown as { server?: Server }).server;
    const middleware = nodeMiddleware(RED.settings.httpNodeMiddleware);
    const ordinary = !server || RED.settings.httpNodeAuth || RED.settings.httpNodeCors || middleware.length > 0;
    let removeRoute: () => void;
    if (ordinary) {
      const routeErrorHandler = (err: Error & { status?: number; type?: string }, _req: unknown, res: ServerResponse, next: (e?: Error) => void): void => {
        if (res.headersSent) return next(err);
        const statusCode = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
        sendJson(res, statusCode, errorBody(err.type ?? 'request_error', err.message));
      };
      const corsHandler: Handler = RED.settings.httpNodeCors ? (cors(RED.settings.httpNodeCors as cors.CorsOptions) as Handler) : (_q, _s, next) => next();
      RED.httpNode.post(pattern, corsHandler, ...middleware, handle as unknown as Handler, routeErrorHandler as unknown as Handler);
      if (RED.settings.httpNodeCors) RED.httpNode.options(pattern, corsHandler);
      removeRoute = () => {
        const router = routerOf(RED.httpNode);
        if (!router) return;
        // Rebuild the stack rather than splicing while iterating.
        const kept = router.stack.filter((layer) => !(layer.route && (layer.route.path as unknown) === pattern));
        router.stack.length = 0;
        router.stack.push(...kept);
      };
    } else {
      const prefix = rootPrefix(RED.settings.httpNodeRoot);
      removeRoute = interceptPost(
        server,
        { matches: (pathname) => pathname.startsWith(prefix) && pattern.test(pathname.slice(prefix.length) || '/'), handle },
        { headersTimeout: setting(RED, 'ttsHeadersTimeout') },
      );
    }
    status.waiting(RED._('tts-webhook-in.status.listening', { path }));

    onClose(this, async () => {
      RED.events.off('flows:started', startReplay);
      removeRoute();
      unregisterInput();
      closing = true;
      // Requests already being recorded get their answer (and are on disk) before we go.
      await Promise.allSettled([...accepting]);
      status.close();
      if (inboxReady) {
        inbox?.detach(this.id);
        await releaseInbox();
      }
    });
  }

  registerNode(RED, 'tts-webhook-in', TtsWebhookIn);
};
