import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator } from '../types.js';

/** PostgreSQL truncates identifiers at 63 bytes; longer names would silently alias each other. */
const roleName = z
  .string()
  .min(1)
  .refine((s) => Buffer.byteLength(s) <= 63, 'must be at most 63 bytes');

export const loginMappingSchema = z.union([
  z.literal('email'),
  z.literal('email_localpart'),
  z.object({ map: z.record(z.string(), roleName) }),
]);

export const postgresConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(5432),
  user: roleName,
  /** Database the admin connection opens; role-level statements run there. */
  database: z.string().min(1).default('postgres'),
  ssl: z.boolean().default(false),
  mode: z.enum(['temporary_login', 'existing_login']).default('temporary_login'),
  /** existing_login: permission -> existing group role granted to the requester's login. */
  roleMap: z
    .object({ read: roleName.optional(), write: roleName.optional(), admin: roleName.optional() })
    .default({}),
  loginMapping: loginMappingSchema.default('email_localpart'),
  // Kept to plain lowercase ASCII so role names stay unquoted-looking and byte length equals length.
  rolePrefix: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be lowercase letters, digits and _ (not starting with a digit)')
    .max(30)
    .default('latch_'),
  databases: z.array(z.string().min(1)).min(1).optional(),
  poolSize: z.number().int().min(1).max(100).default(10),
});

export const postgresSecretsSchema = z.object({
  password: z.string().optional(),
});

/**
 * Checks a PostgreSQL integration's settings before they are stored. Stricter than the connector,
 * which ignores unknown keys so that a stored config from an older version keeps working: here an
 * unknown key is reported, since it is nearly always a typo.
 */
export const validatePostgresSettings: ConnectorValidator = (config, secrets) => [
  ...settingsIssues(z.strictObject(postgresConfigSchema.shape), config, 'config'),
  ...settingsIssues(z.strictObject(postgresSecretsSchema.shape), secrets, 'secrets'),
];

export type PostgresConfig = z.infer<typeof postgresConfigSchema>;
export type PostgresSecrets = z.infer<typeof postgresSecretsSchema>;
export type LoginMapping = z.infer<typeof loginMappingSchema>;
