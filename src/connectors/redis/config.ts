import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator, SettingsIssue } from '../types.js';

/**
 * What each permission lets an ACL user do, as ACL command rules applied after `reset` (which leaves
 * no command allowed). `-@dangerous` comes last in each: it takes away the commands that reach past
 * the user's key patterns (KEYS, FLUSHALL, SORT's BY/GET, CLIENT KILL, CONFIG, ACL...), so a
 * grant's reach stays the resource's keys and channels (docs/ARCHITECTURE.md, "Connectors").
 */
export const DEFAULT_PERMISSIONS: Record<string, string[]> = {
  read: [
    '+@read',
    '+@connection',
    '+subscribe',
    '+psubscribe',
    '+unsubscribe',
    '+punsubscribe',
    '-@dangerous',
  ],
  write: [
    '+@read',
    '+@write',
    '+@connection',
    '+subscribe',
    '+psubscribe',
    '+unsubscribe',
    '+punsubscribe',
    '+publish',
    '-@dangerous',
  ],
  admin: ['+@all', '-@dangerous'],
};

// Whitespace would split an ACL LIST line (Redis refuses it in patterns anyway), and control
// characters have no business in a pattern.
const noSpaces = (what: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .refine((s) => !/[\s\p{Cc}]/u.test(s), `${what} must not contain spaces or control characters`);

/**
 * Only command rules: a permission must never widen keys or channels, set a password or switch a
 * user on, so `~`, `&`, `>`, `on`, `allkeys`, `reset`, selectors... are refused here.
 */
export const commandRule = z
  .string()
  .regex(
    /^(?:[+-]@?[a-z0-9_.-]+(?:\|[a-z0-9_.-]+)?|allcommands|nocommands)$/i,
    'must be a command rule: +@category, -@category, +command, -command|subcommand, allcommands or nocommands',
  );

const permissionName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]*$/, 'must be lowercase letters, digits, _ and - (starting with a letter)')
  .max(40);

export const resourceSchema = z.object({
  name: z
    .string()
    .min(1)
    .max(100)
    .refine((s) => !/[\p{Cc}]/u.test(s), 'must not contain control characters'),
  /** Key patterns, as ACL `~pattern` rules take them (glob-style). */
  keys: z.array(noSpaces('a key pattern')).default([]),
  /** Pub/Sub channel patterns, as `&pattern` rules take them. */
  channels: z.array(noSpaces('a channel pattern')).default([]),
  /** Which of the integration's permissions this resource offers; default all. */
  permissions: z.array(permissionName).min(1).optional(),
});

const aclUserName = z
  .string()
  .min(1)
  .max(100)
  .refine((s) => !/[\s\p{Cc}]/u.test(s), 'must not contain spaces or control characters');

const baseSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(6379),
  /** Latch's own ACL user; `default` is the user a password-only (requirepass) server has. */
  username: aclUserName.default('default'),
  tls: z.boolean().default(false),
  // Plain lowercase ASCII: the names land in ACL LIST lines and the ACL file, read back by prefix.
  userPrefix: z
    .string()
    .regex(/^[a-z][a-z0-9_-]*$/, 'must be lowercase letters, digits, _ and - (starting with a letter)')
    .max(30)
    .default('latch_'),
  resources: z.array(resourceSchema).min(1),
  /** Permission name -> command rules; replaces the default of the same name, or adds one. */
  permissions: z.record(permissionName, z.array(commandRule).min(1)).default({}),
});

type BaseConfig = z.infer<typeof baseSchema>;

/** The checks that span fields; each issue's path is relative to the config. */
function crossFieldIssues(config: BaseConfig): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  const permissions = { ...DEFAULT_PERMISSIONS, ...config.permissions };
  const seenNames = new Set<string>();
  const seenScopes = new Map<string, string>();
  config.resources.forEach((r, i) => {
    if (r.keys.length === 0 && r.channels.length === 0)
      issues.push({ path: ['resources', i], message: 'needs keys or channels (or both)' });
    if (seenNames.has(r.name))
      issues.push({ path: ['resources', i, 'name'], message: `another resource is named ${r.name}` });
    seenNames.add(r.name);
    // listAccess tells resources apart by their patterns, so two with the same ones would be one.
    const scope = JSON.stringify([[...new Set(r.keys)].sort(), [...new Set(r.channels)].sort()]);
    const twin = seenScopes.get(scope);
    if (twin !== undefined)
      issues.push({
        path: ['resources', i, 'keys'],
        message: `has the same keys and channels as ${twin}; resources must differ in them`,
      });
    else seenScopes.set(scope, r.name);
    (r.permissions ?? []).forEach((p, k) => {
      if (!Object.hasOwn(permissions, p))
        issues.push({
          path: ['resources', i, 'permissions', k],
          message: `unknown permission ${p}; known: ${Object.keys(permissions).join(', ')}`,
        });
    });
  });
  // Latch deletes users with its prefix: its own login must never look like one of them.
  if (config.username.startsWith(config.userPrefix))
    issues.push({
      path: ['userPrefix'],
      message: `the admin user ${config.username} starts with it; Latch would take it for one of its own`,
    });
  return issues;
}

export const redisConfigSchema = baseSchema.superRefine((config, ctx) => {
  for (const issue of crossFieldIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
});

export const redisSecretsSchema = z.object({
  password: z.string().optional(),
});

/** The config as the connector uses it: default permissions merged with the configured ones. */
export function permissionsOf(config: BaseConfig): Record<string, string[]> {
  return { ...DEFAULT_PERMISSIONS, ...config.permissions };
}

/**
 * Checks a Redis integration's settings before they are stored; like validatePostgresSettings it
 * reports unknown keys, which the connector itself ignores.
 */
export const validateRedisSettings: ConnectorValidator = (config, secrets) => {
  const shapeIssues = settingsIssues(
    z.strictObject({ ...baseSchema.shape, resources: z.array(z.strictObject(resourceSchema.shape)).min(1) }),
    config,
    'config',
  );
  const issues: SettingsIssue[] = [
    ...shapeIssues,
    ...settingsIssues(z.strictObject(redisSecretsSchema.shape), secrets, 'secrets'),
  ];
  if (shapeIssues.length === 0) {
    const parsed = baseSchema.parse(config);
    issues.push(
      ...crossFieldIssues(parsed).map((i) => ({ path: ['config', ...i.path], message: i.message })),
    );
  }
  return issues;
};

export type RedisConfig = z.infer<typeof redisConfigSchema>;
export type RedisResource = z.infer<typeof resourceSchema>;
export const redisConfigShape = baseSchema.shape;
