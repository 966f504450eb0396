/**
 * Where to send downlinks for an application, as TTS announced it in the `X-Downlink-*` headers
 * of its last webhook request. Held in runtime memory only: the API key is a secret and must
 * never reach flow context, messages, logs or status.
 */
export interface DownlinkTarget {
  apiKey?: string;
  pushUrl?: string;
  replaceUrl?: string;
  domain?: string;
  seenAt: number;
}

export class DownlinkTargets {
  private readonly byApplication = new Map<string, DownlinkTarget>();

  remember(applicationId: string, headers: Record<string, string | string[] | undefined>, now = Date.now()): void {
    const header = (name: string): string | undefined => {
      const value = headers[name];
      const text = Array.isArray(value) ? value[0] : value;
      return text && text.trim() !== '' ? text.trim() : undefined;
    };
    const target: DownlinkTarget = {
      apiKey: header('x-downlink-apikey'),
      pushUrl: header('x-downlink-push'),
      replaceUrl: header('x-downlink-replace'),
      domain: header('x-tts-domain'),
      seenAt: now,
    };
    if (!target.apiKey && !target.pushUrl && !target.replaceUrl && !target.domain) return;
    this.byApplication.set(applicationId, target);
  }

  get(applicationId: string): DownlinkTarget | undefined {
    return this.byApplication.get(applicationId);
  }

  forget(applicationId?: string): void {
    if (applicationId === undefined) this.byApplication.clear();
    else this.byApplication.delete(applicationId);
  }
}

