/**
 * The Redis connector: each grant is an ACL user of its own, with the resource's key and channel
 * patterns and the permission's command categories (docs/ARCHITECTURE.md, "Connectors"). Redis has
 * no schema to discover: the resources are the ones the integration's config names.
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
import { accessKeyOf, listAccess } from './access.js';
import { permissionsOf, redisConfigSchema, redisSecretsSchema, type RedisConfig } from './config.js';
import { aclFileDetector, connect, type RedisContext } from './context.js';
import { check, checkMany, grant, revoke, revokeMany } from './grants.js';
import { health } from './health.js';
import { resourceIdOf } from './names.js';

export {
  DEFAULT_PERMISSIONS,
  redisConfigSchema,
  redisSecretsSchema,
  validateRedisSettings,
  type RedisConfig,
} from './config.js';
export { grantUserName, resourceIdOf } from './names.js';

export class RedisConnector implements Connector {
  readonly type = 'redis';
  private readonly ctx: RedisContext;

  constructor(config: RedisConfig, password: string | undefined) {
    const redis = connect(config, password);
    this.ctx = { config, permissions: permissionsOf(config), redis, aclFile: aclFileDetector(redis) };
  }

  discover(): Promise<DiscoveredResource[]> {
    const all = Object.keys(this.ctx.permissions);
    return Promise.resolve(
      this.ctx.config.resources.map((r) => ({
        id: resourceIdOf(r.name),
        name: r.name,
        kind: 'keys',
        tags: {
          ...(r.keys.length ? { keys: r.keys.join(' ') } : {}),
          ...(r.channels.length ? { channels: r.channels.join(' ') } : {}),
        },
        permissions: r.permissions ?? all,
      })),
    );
  }

  grant(spec: GrantSpec): Promise<GrantResult> {
    return grant(this.ctx, spec);
  }

  revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    return revoke(this.ctx, spec, handle);
  }

  revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    return revokeMany(this.ctx, items);
  }

  check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    return check(this.ctx, spec, handle);
  }

  checkMany(items: GrantItem[]): Promise<boolean[]> {
    return checkMany(this.ctx, items);
  }

  accessKey(handle: GrantHandle): string {
    return accessKeyOf(handle);
  }

  listAccess(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  /** Redis users have no expiry of their own: the lifecycle's revoke at expiresAt is what ends them. */
  extend(): Promise<void> {
    return Promise.resolve();
  }

  health(): Promise<HealthResult> {
    return health(this.ctx);
  }

  async close(): Promise<void> {
    this.ctx.redis.disconnect();
  }
}

export const createRedisConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(integration, 'Redis', redisConfigSchema, redisSecretsSchema);
  return new RedisConnector(config, secrets.password);
};
