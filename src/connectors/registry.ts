/**
 * Builds connectors from stored integrations (secrets decrypted only here, in memory) and caches
 * them per integration version so every grant does not open new connection pools.
 */
import type { Database } from '../store/db.js';
import type { SecretBox } from '../store/secrets.js';
import type { Connector, ConnectorFactory, ConnectorValidator, SettingsIssue } from './types.js';
import type { ConnectorSource } from '../lifecycle/context.js';

export class ConnectorRegistry implements ConnectorSource {
  private readonly cache = new Map<string, { stamp: number; connector: Connector; checkedAt: number }>();

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly factories: Record<string, ConnectorFactory>,
    /** Settings checks by type; a type without one accepts any settings until its connector is built. */
    private readonly validators: Record<string, ConnectorValidator> = {},
    /** How long a cached connector is trusted before the integration's updatedAt is checked again. */
    private readonly recheckMs = 5_000,
  ) {}

  types(): string[] {
    return Object.keys(this.factories);
  }

  /** For each known type, its settings check (one that accepts anything when the type has none). */
  settingsValidators(): Record<string, ConnectorValidator> {
    return Object.fromEntries(
      this.types().map((t) => [
        t,
        (Object.hasOwn(this.validators, t) ? this.validators[t] : undefined) ?? (() => []),
      ]),
    );
  }

  /**
   * What is wrong with these settings for an integration of `type`, without building a connector
   * or connecting anywhere. An unknown type is an issue at path `['type']`.
   */
  validate(type: string, config: Record<string, unknown>, secrets: Record<string, string>): SettingsIssue[] {
    if (!Object.hasOwn(this.factories, type))
      return [
        { path: ['type'], message: `unknown integration type "${type}"; known: ${this.types().join(', ')}` },
      ];
    const check = Object.hasOwn(this.validators, type) ? this.validators[type] : undefined;
    return check?.(config, secrets) ?? [];
  }

  async get(name: string): Promise<Connector> {
    const cached = this.cache.get(name);
    if (cached && Date.now() - cached.checkedAt < this.recheckMs) return cached.connector;
    const doc = await this.db.models.Integration.findOne({ name }).lean();
    if (!doc) throw new Error(`integration ${name} does not exist`);
    const stamp = (doc as { updatedAt?: Date }).updatedAt?.getTime() ?? 0;
    if (cached && cached.stamp === stamp) {
      cached.checkedAt = Date.now();
      return cached.connector;
    }
    const factory = this.factories[doc.type];
    if (!factory) throw new Error(`no connector for integration type ${doc.type}`);
    const connector = factory({
      name: doc.name,
      type: doc.type,
      config: (doc.config ?? {}) as Record<string, unknown>,
      secrets: this.box.openRecord((doc.secrets ?? {}) as Record<string, string>),
    });
    if (cached) void cached.connector.close().catch(() => {});
    this.cache.set(name, { stamp, connector, checkedAt: Date.now() });
    return connector;
  }

  async closeAll(): Promise<void> {
    const all = [...this.cache.values()];
    this.cache.clear();
    await Promise.all(all.map((c) => c.connector.close().catch(() => {})));
  }
}
