/**
 * The MySQL/MariaDB connector. In temporary_user mode every grant is a throwaway account; in
 * existing_user mode a grant is membership of the requester's own account in a role.
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
import { listAccess } from './access.js';
import { mysqlConfigSchema, mysqlSecretsSchema, type MysqlConfig } from './config.js';
import type { MysqlContext } from './context.js';
import { discover } from './discovery.js';
import {
  checkExistingUsers,
  grantExistingUser,
  membershipKey,
  revokeExistingUser,
  revokeExistingUserMany,
} from './existing-user.js';
import { health } from './health.js';
import { asError, createPool } from './sql.js';
import { checkStanding, revokeStanding, standingKey } from './standing.js';
import {
  checkTemporaryUsers,
  extendTemporaryUser,
  grantTemporaryUser,
  revokeTemporaryUser,
  revokeTemporaryUserMany,
  temporaryKey,
} from './temporary-user.js';

export { mysqlConfigSchema, mysqlSecretsSchema, validateMysqlSettings, type MysqlConfig } from './config.js';
export { mysqlForm } from './form.js';
export { databaseResourceId, expiryEventName, parseResourceId, temporaryUserName } from './names.js';

type HandleMode = 'temporary_user' | 'existing_user' | 'standing_privileges';

export class MysqlConnector implements Connector {
  readonly type = 'mysql';
  private readonly ctx: MysqlContext;

  constructor(config: MysqlConfig, password: string | undefined) {
    const pool = createPool({
      host: config.host,
      port: config.port,
      user: config.user,
      password,
      ssl: config.ssl ? {} : undefined,
      connectionLimit: config.poolSize,
      maxIdle: Math.min(config.poolSize, 2),
      idleTimeout: 10_000,
      connectTimeout: 10_000,
    });
    this.ctx = { config, pool };
  }

  discover(): Promise<DiscoveredResource[]> {
    return discover(this.ctx);
  }

  grant(spec: GrantSpec): Promise<GrantResult> {
    return this.ctx.config.mode === 'temporary_user'
      ? grantTemporaryUser(this.ctx, spec)
      : grantExistingUser(this.ctx, spec);
  }

  revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    switch (this.modeOf(handle)) {
      case 'temporary_user':
        return revokeTemporaryUser(this.ctx, spec, handle);
      case 'existing_user':
        return revokeExistingUser(this.ctx, spec, handle);
      case 'standing_privileges':
        return revokeStanding(this.ctx, handle);
    }
  }

  async revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    const outcomes: Array<Error | null> = new Array(items.length).fill(null);
    const byMode: Record<HandleMode, number[]> = {
      temporary_user: [],
      existing_user: [],
      standing_privileges: [],
    };
    items.forEach((item, i) => byMode[this.modeOf(item.handle)].push(i));
    const run = async (indexes: number[], f: (of: GrantItem[]) => Promise<Array<Error | null>>) => {
      if (indexes.length === 0) return;
      const results = await f(indexes.map((i) => items[i]!));
      indexes.forEach((i, k) => (outcomes[i] = results[k]!));
    };
    await Promise.all([
      run(byMode.temporary_user, (of) => revokeTemporaryUserMany(this.ctx, of)),
      run(byMode.existing_user, (of) => revokeExistingUserMany(this.ctx, of)),
      // Standing access is removed one entry at a time, by an admin: rare enough to need no batch.
      run(byMode.standing_privileges, async (of) => {
        const out: Array<Error | null> = [];
        for (const it of of) out.push(await revokeStanding(this.ctx, it.handle).then(() => null, asError));
        return out;
      }),
    ]);
    return outcomes;
  }

  async check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    return (await this.checkMany([{ spec, handle }]))[0]!;
  }

  /** One query per kind of handle in the batch. */
  async checkMany(items: GrantItem[]): Promise<boolean[]> {
    const results: boolean[] = new Array(items.length).fill(false);
    const byMode: Record<HandleMode, number[]> = {
      temporary_user: [],
      existing_user: [],
      standing_privileges: [],
    };
    items.forEach((item, i) => byMode[this.modeOf(item.handle)].push(i));
    const run = async (indexes: number[], f: (of: GrantItem[]) => Promise<boolean[]>) => {
      if (indexes.length === 0) return;
      const found = await f(indexes.map((i) => items[i]!));
      indexes.forEach((i, k) => (results[i] = found[k]!));
    };
    await Promise.all([
      run(byMode.temporary_user, (of) => checkTemporaryUsers(this.ctx, of)),
      run(byMode.existing_user, (of) => checkExistingUsers(this.ctx, of)),
      run(byMode.standing_privileges, (of) =>
        Promise.all(of.map((it) => checkStanding(this.ctx, it.handle))),
      ),
    ]);
    return results;
  }

  accessKey(handle: GrantHandle): string {
    const { user, host, role, db } = handle;
    switch (this.modeOf(handle)) {
      case 'temporary_user':
        if (typeof user !== 'string') throw new Error('a temporary_user handle names its user');
        return temporaryKey(user);
      case 'existing_user':
        if (typeof user !== 'string' || typeof host !== 'string' || typeof role !== 'string')
          throw new Error('an existing_user handle names user, host and role');
        return membershipKey({ user, host, role });
      case 'standing_privileges':
        if (typeof user !== 'string' || typeof host !== 'string' || typeof db !== 'string')
          throw new Error('a standing_privileges handle names user, host and db');
        return standingKey({ user, host, db });
    }
  }

  listAccess(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  async extend(spec: GrantSpec, handle: GrantHandle, expiresAt: Date | null): Promise<void> {
    // existing_user: the account is not Latch's; its expiry is Latch's revoke alone.
    if (this.modeOf(handle) === 'temporary_user')
      await extendTemporaryUser(this.ctx, spec, handle, expiresAt);
  }

  health(): Promise<HealthResult> {
    return health(this.ctx);
  }

  close(): Promise<void> {
    return this.ctx.pool.end();
  }

  /** The handle records what was done; it wins over the current config if the mode was switched since. */
  private modeOf(handle: GrantHandle): HandleMode {
    return handle.mode === 'temporary_user' ||
      handle.mode === 'existing_user' ||
      handle.mode === 'standing_privileges'
      ? handle.mode
      : this.ctx.config.mode;
  }
}

export const createMysqlConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(integration, 'MySQL', mysqlConfigSchema, mysqlSecretsSchema);
  return new MysqlConnector(config, secrets.password);
};
