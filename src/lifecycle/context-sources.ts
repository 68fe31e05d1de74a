/**
 * Admin use-cases of context sources (docs/ARCHITECTURE.md, "Context sources"): check, save,
 * delete, list with their sync status, and sync now. Settings are checked with the same schemas
 * as the flows file; secrets are sealed like an integration's and never leave the core.
 */
import { canonicalJson } from '../audit/canonical-json.js';
import { formatSettingsPath } from '../connectors/settings.js';
import { isStale } from '../context/directory.js';
import type { ContextSync, SourceState, SyncReport } from '../context/sync.js';
import { contextSourceSchema, type ContextSourceInput, type ContextSourceType } from '../context/types.js';
import type { SecretBox } from '../store/secrets.js';
import type { LifecycleContext } from './context.js';
import { invalid, notFound } from './errors.js';

/** A source as a console's editor gets it: secret names only. */
export interface ContextSourceForEdit {
  name: string;
  type: string;
  description: string;
  config: Record<string, unknown>;
  storedSecretNames: string[];
  syncEveryMinutes: number;
  maxAgeMinutes: number;
  origin: 'config' | 'console';
}

/** What the console shows of a source: never a secret, only the names of those stored. */
export interface ContextSourceStatus {
  name: string;
  type: string;
  description: string;
  config: Record<string, unknown>;
  storedSecretNames: string[];
  syncEveryMinutes: number;
  maxAgeMinutes: number;
  /** Who wrote it last: the flows file (`config`, which writes it again at start when it differs) or a console. */
  origin: 'config' | 'console';
  stale: boolean;
  staleSince?: Date;
  lastAttemptAt?: Date;
  lastSuccessAt?: Date;
  lastError?: string;
  lastErrorAt?: Date;
  groups: number;
  memberships: number;
  /** Requests and 429s of the last sync. */
  requests: number;
  rateLimited: number;
  durationMs?: number;
  mode?: 'full' | 'delta';
  warnings: string[];
}

export class ContextSourceAdmin {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly box: SecretBox,
    private readonly types: Record<string, ContextSourceType>,
    private readonly sync: ContextSync,
  ) {}

  typeNames(): string[] {
    return Object.keys(this.types);
  }

  /** Throws `invalid` naming the field when the source is not usable; returns the settings and new secrets. */
  async check(input: ContextSourceInput) {
    const parsed = contextSourceSchema.safeParse(input);
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      throw invalid(
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        String(first.path[0] ?? ''),
      );
    }
    const s = parsed.data;
    const type = Object.hasOwn(this.types, s.type) ? this.types[s.type] : undefined;
    if (!type)
      throw invalid(`Unknown context source type ${s.type}; known: ${this.typeNames().join(', ')}.`, 'type');
    const existing = await this.ctx.db.models.ContextSource.findOne({ name: s.name }).lean();
    const kept =
      existing && existing.type === s.type ? ((existing.secrets ?? {}) as Record<string, string>) : {};
    // Write-only secrets: one left blank keeps the stored value.
    const fresh = Object.fromEntries(Object.entries(s.secrets).filter(([, v]) => v !== ''));
    const merged: Record<string, string> = {};
    for (const [key, sealed] of Object.entries(kept)) {
      if (Object.hasOwn(fresh, key)) continue;
      try {
        merged[key] = this.box.open(sealed);
      } catch {
        throw invalid(
          `The stored secret ${key} cannot be decrypted (another LATCH_ENCRYPTION_KEY); enter it again.`,
          'secrets',
        );
      }
    }
    Object.assign(merged, fresh);
    const issues = type.validate(s.config, merged);
    if (issues.length > 0)
      throw invalid(
        `The ${s.type} settings are not valid: ${issues.map((i) => `${formatSettingsPath(i.path)}: ${i.message}`).join('; ')}.`,
        String(issues[0]!.path[0]),
      );
    return { settings: s, fresh, existing };
  }

  /**
   * Every problem of a source's settings, each on the field it concerns (`name`, `type`,
   * `config.orgUrl`, `secrets.apiToken`, `maxAgeMinutes`), checked as `check` does and writing
   * nothing: for a console form that shows each problem next to its field.
   */
  async issues(input: ContextSourceInput): Promise<Array<{ field: string; message: string }>> {
    const parsed = contextSourceSchema.safeParse(input);
    const out = parsed.success
      ? []
      : parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message }));
    // The type's own checks too, when its parts are well formed: every problem at once.
    const isRecord = (v: unknown): v is Record<string, unknown> | undefined =>
      v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v));
    if (!isRecord(input.config) || !isRecord(input.secrets) || typeof input.type !== 'string') return out;
    if (Object.values(input.secrets ?? {}).some((v) => typeof v !== 'string')) return out;
    const type = Object.hasOwn(this.types, input.type) ? this.types[input.type] : undefined;
    if (!type) {
      if (!out.some((i) => i.field === 'type'))
        out.push({ field: 'type', message: `choose one of ${this.typeNames().join(', ')}` });
      return out;
    }
    const existing =
      typeof input.name === 'string'
        ? await this.ctx.db.models.ContextSource.findOne({ name: input.name }).lean()
        : null;
    const kept =
      existing && existing.type === input.type ? ((existing.secrets ?? {}) as Record<string, string>) : {};
    const fresh = Object.fromEntries(Object.entries(input.secrets ?? {}).filter(([, v]) => v !== ''));
    const merged: Record<string, string> = {};
    for (const [key, sealed] of Object.entries(kept)) {
      if (Object.hasOwn(fresh, key)) continue;
      try {
        merged[key] = this.box.open(sealed);
      } catch {
        out.push({
          field: `secrets.${key}`,
          message: 'the stored value cannot be decrypted; enter it again',
        });
      }
    }
    Object.assign(merged, fresh);
    for (const i of type.validate(input.config ?? {}, merged))
      out.push({ field: i.path.map(String).join('.'), message: i.message });
    return out;
  }

  /** A source as a console's editor shows it: settings and the names of its stored secrets, never their values. */
  async forEdit(name: string): Promise<ContextSourceForEdit | null> {
    const d = await this.ctx.db.models.ContextSource.findOne({ name }).lean();
    if (!d) return null;
    return {
      name: d.name,
      type: d.type,
      description: d.description ?? '',
      config: (d.config ?? {}) as Record<string, unknown>,
      storedSecretNames: Object.keys((d.secrets ?? {}) as Record<string, string>),
      syncEveryMinutes: d.syncEveryMinutes,
      maxAgeMinutes: d.maxAgeMinutes,
      origin: d.origin === 'config' ? 'config' : 'console',
    };
  }

  /** Creates or replaces a source. A changed type or config starts its next sync afresh (no delta). */
  async save(
    input: ContextSourceInput,
    origin: 'config' | 'console' = 'console',
  ): Promise<{ created: boolean; changedSecrets: string[] }> {
    const { settings: s, fresh, existing } = await this.check(input);
    const kept =
      existing && existing.type === s.type ? ((existing.secrets ?? {}) as Record<string, string>) : {};
    const secrets = { ...kept, ...this.box.sealRecord(fresh) };
    const reset =
      !existing || existing.type !== s.type || canonicalJson(existing.config) !== canonicalJson(s.config);
    await this.ctx.db.models.ContextSource.updateOne(
      { name: s.name },
      {
        $set: {
          type: s.type,
          description: s.description,
          config: s.config,
          secrets,
          syncEveryMinutes: s.syncEveryMinutes,
          maxAgeMinutes: s.maxAgeMinutes,
          origin,
          ...(reset ? { 'state.cursor': {} } : {}),
        },
      },
      { upsert: true },
    );
    return { created: !existing, changedSecrets: Object.keys(fresh) };
  }

  /** True when the stored source is exactly `input`, secrets compared opened. */
  async matches(input: ContextSourceInput): Promise<boolean> {
    const parsed = contextSourceSchema.safeParse(input);
    if (!parsed.success) return false;
    const s = parsed.data;
    const doc = await this.ctx.db.models.ContextSource.findOne({ name: s.name }).lean();
    if (!doc || doc.type !== s.type || (doc.description ?? '') !== s.description) return false;
    if (doc.syncEveryMinutes !== s.syncEveryMinutes || doc.maxAgeMinutes !== s.maxAgeMinutes) return false;
    if (canonicalJson(doc.config) !== canonicalJson(s.config)) return false;
    try {
      const stored = this.box.openRecord((doc.secrets ?? {}) as Record<string, string>);
      return Object.entries(s.secrets).every(([k, v]) => stored[k] === v);
    } catch {
      return false;
    }
  }

  async remove(name: string): Promise<void> {
    const doc = await this.ctx.db.models.ContextSource.findOneAndDelete({ name }).lean();
    if (!doc) throw notFound(`There is no context source called ${name}.`);
    await this.ctx.db.models.ContextGroup.deleteMany({ source: name });
    await this.ctx.db.models.ContextManager.deleteMany({ source: name });
  }

  async runNow(name: string): Promise<SyncReport> {
    if (!(await this.ctx.db.models.ContextSource.exists({ name })))
      throw notFound(`There is no context source called ${name}.`);
    return this.sync.run(name);
  }

  async list(): Promise<ContextSourceStatus[]> {
    const docs = await this.ctx.db.models.ContextSource.find().sort({ name: 1 }).lean();
    const now = this.ctx.now();
    return docs.map((d) => {
      const st = (d.state ?? {}) as SourceState;
      return {
        name: d.name,
        type: d.type,
        description: d.description ?? '',
        config: (d.config ?? {}) as Record<string, unknown>,
        storedSecretNames: Object.keys((d.secrets ?? {}) as Record<string, string>),
        syncEveryMinutes: d.syncEveryMinutes,
        maxAgeMinutes: d.maxAgeMinutes,
        origin: d.origin === 'config' ? 'config' : 'console',
        stale: isStale(st.lastSuccessAt, d.maxAgeMinutes, now),
        staleSince: st.staleSince,
        lastAttemptAt: st.lastAttemptAt,
        lastSuccessAt: st.lastSuccessAt,
        lastError: st.lastError,
        lastErrorAt: st.lastErrorAt,
        groups: st.groups ?? 0,
        memberships: st.memberships ?? 0,
        requests: st.stats?.requests ?? 0,
        rateLimited: st.stats?.rateLimited ?? 0,
        durationMs: st.durationMs,
        mode: st.mode,
        warnings: st.warnings ?? [],
      };
    });
  }
}
