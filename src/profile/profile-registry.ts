import type { ProfileSettings } from './profile-settings';

/** A deployed profile: its settings plus resolved credentials (kept in memory only). */
export interface ActiveProfile {
  settings: ProfileSettings;
  webhookToken: string;
  apiKey: string;
}

/**
 * The profiles deployed in this Node-RED runtime. tts-profile nodes add themselves on start and
 * remove themselves on close; webhook-in, provision and downlink select from here by
 * application ID.
 */
export class ProfileRegistry {
  private readonly profiles = new Map<string, ActiveProfile>();

  add(profile: ActiveProfile): void {
    this.profiles.set(profile.settings.id, profile);
  }

  remove(id: string, profile?: ActiveProfile): void {
    // On a redeploy the new node may register before the old one closes: only remove our own entry.
    if (profile && this.profiles.get(id) !== profile) return;
    this.profiles.delete(id);
  }

  clear(): void {
    this.profiles.clear();
  }

  get(id: string | undefined): ActiveProfile | undefined {
    return id ? this.profiles.get(id) : undefined;
  }

  all(): ActiveProfile[] {
    return [...this.profiles.values()];
  }

  /**
   * The profile that serves an application: the one with that application ID, else the
   * fallback (a node's configured profile) when it is a Default profile, else the deployed
   * Default profile. Conflicting profiles (same application ID twice, two Defaults) select
   * nothing: serving one of them at random would hide the configuration error.
   */
  select(applicationId: string, fallbackId?: string): ActiveProfile | undefined {
    const own = this.all().filter((p) => p.settings.applicationId === applicationId && applicationId !== '');
    if (own.length === 1) return own[0];
    if (own.length > 1) return undefined;
    const fallback = this.get(fallbackId);
    if (fallback && fallback.settings.applicationId === '') return this.conflictFor(fallback) ? undefined : fallback;
    const defaults = this.all().filter((p) => p.settings.applicationId === '');
    return defaults.length === 1 ? defaults[0] : undefined;
  }

  /** A description of the conflict this profile is part of, or undefined. */
  conflictFor(profile: ActiveProfile): string | undefined {
    const appId = profile.settings.applicationId;
    const clash = this.all().filter((p) => p !== profile && p.settings.applicationId === appId);
    if (clash.length === 0) return undefined;
    return appId === ''
      ? 'more than one Default profile (empty application ID) is deployed'
      : `more than one profile is deployed for application "${appId}"`;
  }
}

/** One registry per runtime: every node module of this package loads this same module instance. */
