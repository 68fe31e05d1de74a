import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator } from '../types.js';
import { MAX_USER_CHARS } from './names.js';

/**
 * MariaDB keeps account and role names in utf8mb3 columns: a character outside the Basic
 * Multilingual Plane (an emoji) is stored as `?`, so two different names would become one account.
 */
export const accountName = z
  .string()
  .min(1)
  .max(MAX_USER_CHARS)
  .refine(
    (s) => !/[\u{10000}-\u{10FFFF}]/u.test(s),
    'must not contain characters MariaDB cannot store (emoji)',
  );

export const loginMappingSchema = z.union([
  z.literal('email'),
  z.literal('email_localpart'),
  z.object({ map: z.record(z.string(), accountName) }),
]);

export const mysqlConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(3306),
  /** Latch's own account (see README, "MySQL / MariaDB" for what it needs). */
  user: accountName,
  ssl: z.boolean().default(false),
  mode: z.enum(['temporary_user', 'existing_user']).default('temporary_user'),
  // Lowercase ASCII: the names of temporary users stay plain and recognisable as Latch's.
  userPrefix: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be lowercase letters, digits and _ (not starting with a digit)')
    .max(30)
    .default('latch_'),
  /** existing_user: permission -> existing role granted to the requester's account. */
  roleMap: z
    .object({ read: accountName.optional(), write: accountName.optional(), admin: accountName.optional() })
    .default({}),
  loginMapping: loginMappingSchema.default('email_localpart'),
  /** existing_user: the host part of the requesters' accounts (`'alice'@'%'`). */
  loginHost: z.string().min(1).max(255).default('%'),
  databases: z.array(z.string().min(1).max(64)).min(1).optional(),
  /** Temporary users are also dropped by a one-shot EVENT at their expiry, where event_scheduler is ON. */
  expiryEvents: z.boolean().default(true),
  /** The database that holds those events (created if missing; never discovered). */
  eventDatabase: z.string().min(1).max(64).default('latch'),
  poolSize: z.number().int().min(1).max(100).default(10),
});

export const mysqlSecretsSchema = z.object({
  password: z.string().optional(),
});

/**
 * Checks a MySQL/MariaDB integration's settings before they are stored; unknown keys are reported
 * (nearly always a typo), where the connector itself ignores them.
 */
export const validateMysqlSettings: ConnectorValidator = (config, secrets) => [
  ...settingsIssues(z.strictObject(mysqlConfigSchema.shape), config, 'config'),
  ...settingsIssues(z.strictObject(mysqlSecretsSchema.shape), secrets, 'secrets'),
];

export type MysqlConfig = z.infer<typeof mysqlConfigSchema>;
export type MysqlSecrets = z.infer<typeof mysqlSecretsSchema>;
export type LoginMapping = z.infer<typeof loginMappingSchema>;
