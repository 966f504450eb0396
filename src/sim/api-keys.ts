import { newApiKey, timestamp } from './ids';

export const APPLICATION_RIGHTS = [
  'RIGHT_APPLICATION_INFO',
  'RIGHT_APPLICATION_SETTINGS_BASIC',
  'RIGHT_APPLICATION_SETTINGS_API_KEYS',
  'RIGHT_APPLICATION_SETTINGS_COLLABORATORS',
  'RIGHT_APPLICATION_SETTINGS_PACKAGES',
  'RIGHT_APPLICATION_DELETE',
  'RIGHT_APPLICATION_DEVICES_READ',
  'RIGHT_APPLICATION_DEVICES_READ_KEYS',
  'RIGHT_APPLICATION_DEVICES_WRITE',
  'RIGHT_APPLICATION_DEVICES_WRITE_KEYS',
  'RIGHT_APPLICATION_TRAFFIC_READ',
  'RIGHT_APPLICATION_TRAFFIC_UP_WRITE',
  'RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE',
  'RIGHT_APPLICATION_LINK',
  'RIGHT_APPLICATION_ALL',
];

export interface StoredApiKey {
  id: string;
  key: string;
  name: string;
  applicationId: string;
  rights: string[];
  created_at: string;
}

/** Application API keys known to the simulator. */
export class ApiKeyStore {
  private readonly byKey = new Map<string, StoredApiKey>();

  create(applicationId: string, name: string, rights: string[], key?: string): StoredApiKey {
    const generated = newApiKey();
    const full = key ?? generated.key;
    const id = key ? (key.split('.')[1] ?? key.slice(0, 16)) : generated.id;
    const stored: StoredApiKey = { id, key: full, name, applicationId, rights: [...rights], created_at: timestamp() };
    this.byKey.set(full, stored);
    return stored;
  }

  find(key: string): StoredApiKey | undefined {
    return this.byKey.get(key);
  }

  /** Rights of `requested` the key does not have (RIGHT_APPLICATION_ALL implies every right). */
  missing(key: StoredApiKey, requested: readonly string[]): string[] {
    if (key.rights.includes('RIGHT_APPLICATION_ALL')) return [];
    return requested.filter((r) => !key.rights.includes(r));
  }
}
