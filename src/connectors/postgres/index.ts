/**
 * The PostgreSQL connector. In temporary_login mode every grant is a throwaway LOGIN role; in
 * existing_login mode a grant is membership of the requester's own login in a group role.
 */
import { parseIntegration } from '../settings.js';
import type {
  AccessEntry,
  Connector,
  ConnectorFactory,
  DiscoveredResource,
  GrantHandle,
  GrantItem,
  GrantResult,
  GrantSpec,
  HealthResult,
  IntegrationRuntime,
} from '../types.js';
import { postgresConfigSchema, postgresSecretsSchema, type PostgresConfig } from './config.js';
import type { PgContext } from './context.js';
import { discover } from './discovery.js';
import {
  checkExistingLogin,
  grantExistingLogin,
  revokeExistingLogin,
  revokeExistingLogins,
} from './existing-login.js';
import { health } from './health.js';
import { accessKeyOf, listAccess } from './access-list.js';
import { checkDirect, revokeDirect } from './direct-grant.js';
import { PoolSet } from './pools.js';
import {
  checkTemporaryLogin,
  checkTemporaryLogins,
  extendTemporaryLogin,
  grantTemporaryLogin,
  revokeTemporaryLogin,
  revokeTemporaryLogins,
} from './temporary-login.js';

export {
  postgresConfigSchema,
  postgresSecretsSchema,
  validatePostgresSettings,
  type PostgresConfig,
} from './config.js';
export {
  databaseResourceId,
  groupRoleName,
  schemaResourceId,
  parseResourceId,
  temporaryRoleName,
} from './names.js';

export class PostgresConnector implements Connector {
  readonly type = 'postgresql';
  private readonly ctx: PgContext;

  constructor(config: PostgresConfig, password: string | undefined) {
    const pools = new PoolSet({
      host: config.host,
      port: config.port,
      user: config.user,
      password,
      ssl: config.ssl,
      max: config.poolSize,
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: 10_000,
      // A revoke stuck behind a lock must fail and be retried, not hold a pooled connection forever.
      statement_timeout: 30_000,
      application_name: 'latch',
    });
    this.ctx = { config, pools };
  }

  discover(): Promise<DiscoveredResource[]> {
    return discover(this.ctx);
  }

  grant(spec: GrantSpec): Promise<GrantResult> {
    return this.ctx.config.mode === 'temporary_login'
      ? grantTemporaryLogin(this.ctx, spec)
      : grantExistingLogin(this.ctx, spec);
  }

  revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    if (handle.mode === 'direct') return revokeDirect(this.ctx, handle);
    return this.modeOf(handle) === 'temporary_login'
      ? revokeTemporaryLogin(this.ctx, spec, handle)
      : revokeExistingLogin(this.ctx, spec, handle);
  }

  async revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    const outcomes: Array<Error | null> = new Array(items.length).fill(null);
    const byMode = { temporary_login: [] as number[], existing_login: [] as number[] };
    const direct: number[] = [];
    items.forEach((item, i) =>
      item.handle.mode === 'direct' ? direct.push(i) : byMode[this.modeOf(item.handle)].push(i),
    );
    // Standing access an admin converts: rare and few, so one by one.
    for (const i of direct)
      outcomes[i] = await revokeDirect(this.ctx, items[i]!.handle).then(
        () => null,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
    await Promise.all(
      (['temporary_login', 'existing_login'] as const).map(async (mode) => {
        const indexes = byMode[mode];
        if (indexes.length === 0) return;
        const of = indexes.map((i) => items[i]!);
        const results =
          mode === 'temporary_login'
            ? await revokeTemporaryLogins(this.ctx, of)
            : await revokeExistingLogins(this.ctx, of);
        indexes.forEach((i, k) => (outcomes[i] = results[k]!));
      }),
    );
    return outcomes;
  }

  check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    if (handle.mode === 'direct') return checkDirect(this.ctx, handle);
    return this.modeOf(handle) === 'temporary_login'
      ? checkTemporaryLogin(this.ctx, spec, handle)
      : checkExistingLogin(this.ctx, spec, handle);
  }

  async checkMany(items: GrantItem[]): Promise<boolean[]> {
    const results: boolean[] = new Array(items.length);
    const temporary: number[] = [];
    await Promise.all(
      items.map(async (item, i) => {
        if (item.handle.mode !== 'direct' && this.modeOf(item.handle) === 'temporary_login')
          temporary.push(i);
        else results[i] = await this.check(item.spec, item.handle);
      }),
    );
    if (temporary.length) {
      const found = await checkTemporaryLogins(
        this.ctx,
        temporary.map((i) => items[i]!),
      );
      temporary.forEach((i, k) => (results[i] = found[k]!));
    }
    return results;
  }

  accessKey(handle: GrantHandle): string {
    return accessKeyOf({ ...handle, mode: handle.mode === 'direct' ? 'direct' : this.modeOf(handle) });
  }

  listAccess(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  async extend(spec: GrantSpec, handle: GrantHandle, expiresAt: Date | null): Promise<void> {
    // existing_login: the login's own validity is not Latch's to change, so nothing to move.
    if (this.modeOf(handle) === 'temporary_login')
      await extendTemporaryLogin(this.ctx, spec, handle, expiresAt);
  }

  health(): Promise<HealthResult> {
    return health(this.ctx);
  }

  close(): Promise<void> {
    return this.ctx.pools.close();
  }

  /** The handle records what was done; it wins over the current config if the mode was switched since. */
  private modeOf(handle: GrantHandle): PostgresConfig['mode'] {
    return handle.mode === 'temporary_login' || handle.mode === 'existing_login'
      ? handle.mode
      : this.ctx.config.mode;
  }
}

export const createPostgresConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(
    integration,
    'PostgreSQL',
    postgresConfigSchema,
    postgresSecretsSchema,
  );
  return new PostgresConnector(config, secrets.password);
};
