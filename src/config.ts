/**
 * Process configuration, read from the environment once at start-up. Every variable is checked
 * before anything starts, and all problems are reported together so a deploy fails once, not once
 * per typo.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { registerSecrets } from './secret-scrubber.js';
import { parseEncryptionKey } from './store/secrets.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type NodeEnv = 'development' | 'production' | 'test';
export type ProcessRole = 'all' | 'web' | 'worker';

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  /** Unset: Latch starts its embedded database. */
  mongodbUri?: string;
  /** Absolute. */
  dataDir: string;
  /** As given (base64 or hex, already checked to be 32 bytes); see resolveEncryptionKey. */
  encryptionKey?: string;
  /** Chain key of the audit log, as given (checked like encryptionKey); see resolveAuditKey. */
  auditKey?: string;
  /** Absolute path of the flows-as-code YAML file (LATCH_CONFIG), if there is one. */
  configFile?: string;
  /** Emails (lower-cased) and chat user ids, as given. */
  admins: string[];
  logLevel: LogLevel;
  role: ProcessRole;
  sweepIntervalMs: number;
  /** Slack slash commands are acknowledged by a thread of their own (src/web/front/). */
  ackFront: boolean;
  expiryWarningMinutes: number;
  /** How often every integration is reconciled (0: never). */
  reconcileMinutes: number;
  /** Without a trailing slash. */
  publicUrl?: string;
  /** Absent when no Slack variable is set: Latch runs without Slack. */
  slack?: SlackConfig;
  /** Absent when MicrosoftAppId is not set: Latch runs without Teams. */
  teams?: TeamsConfig;
}

/** The Bot Framework's standard settings, under their standard names. */
export interface TeamsConfig {
  appId: string;
  /** The client secret; absent for a user-assigned managed identity. */
  appPassword?: string;
  appType: 'SingleTenant' | 'MultiTenant' | 'UserAssignedMSI';
  /** The bot's Entra tenant; required unless MultiTenant. */
  tenantId?: string;
  /** Tenants whose people may use the personal tab (its SSO tokens): LATCH_TEAMS_TENANTS, else tenantId. */
  tabTenants?: string[];
}

export interface SlackConfig {
  /** Verifies HTTP deliveries; not needed in Socket Mode. */
  signingSecret?: string;
  /** Single-workspace install. */
  botToken?: string;
  /** Socket Mode instead of HTTP when set. */
  appToken?: string;
  /** Multi-workspace install through OAuth. */
  oauth?: { clientId: string; clientSecret: string; stateSecret: string };
  /** Base URL of the Web API, ending in a slash. */
  apiUrl: string;
}

export const SLACK_API_URL_DEFAULT = 'https://slack.com/api/';

export class ConfigError extends Error {
  readonly issues: { variable: string; message: string }[];

  constructor(issues: { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export const DEFAULT_CONFIG_FILE = 'latch.config.yaml';

/** Blank counts as unset: `FOO=` in an env file or compose file almost always means "not set". */
const raw = z
  .string()
  .optional()
  .transform((v) => {
    const t = v?.trim();
    return t ? t : undefined;
  });

function fail(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

function intVar(def: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? `expected an integer of at least ${min}`
      : `expected an integer between ${min} and ${max}`;
  return raw.transform((v, ctx) => {
    if (v === undefined) return def;
    const n = /^[+-]?\d+$/.test(v) ? Number(v) : NaN;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : fail(ctx, expected);
  });
}

function enumVar<const T extends readonly string[]>(values: T, def: T[number]) {
  return raw.transform((v, ctx): T[number] => {
    if (v === undefined) return def;
    const lower = v.toLowerCase();
    return values.includes(lower) ? (lower as T[number]) : fail(ctx, `expected one of ${values.join(', ')}`);
  });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const envSchema = z.object({
  NODE_ENV: enumVar(['development', 'production', 'test'] as const, 'development'),
  PORT: intVar(3000, 1, 65535),
  MONGODB_URI: raw.transform((v, ctx) =>
    v === undefined || /^mongodb(\+srv)?:\/\/\S+$/.test(v)
      ? v
      : fail(ctx, 'expected a mongodb:// or mongodb+srv:// connection string'),
  ),
  LATCH_DATA_DIR: raw,
  LATCH_ENCRYPTION_KEY: raw.transform((v, ctx) =>
    v === undefined || parseEncryptionKey(v)
      ? v
      : fail(ctx, 'must be 32 bytes, base64 or hex (generate one with: openssl rand -base64 32)'),
  ),
  LATCH_AUDIT_KEY: raw.transform((v, ctx) =>
    v === undefined || parseEncryptionKey(v)
      ? v
      : fail(ctx, 'must be 32 bytes, base64 or hex (generate one with: openssl rand -base64 32)'),
  ),
  LATCH_CONFIG: raw,
  LATCH_ADMINS: raw.transform((v) => parseAdmins(v ?? '')),
  LOG_LEVEL: enumVar(LOG_LEVELS, 'info'),
  LATCH_ROLE: enumVar(['all', 'web', 'worker'] as const, 'all'),
  LATCH_SWEEP_INTERVAL_MS: intVar(250, 20),
  LATCH_ACK_FRONT: enumVar(['on', 'off'] as const, 'on'),
  LATCH_EXPIRY_WARNING_MINUTES: intVar(15, 0),
  LATCH_RECONCILE_MINUTES: intVar(15, 0),
  LATCH_PUBLIC_URL: raw.transform((v, ctx) => {
    if (v === undefined) return undefined;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      return fail(ctx, 'expected an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, 'expected an http(s) URL');
    return v.replace(/\/+$/, '');
  }),
  SLACK_SIGNING_SECRET: raw,
  SLACK_BOT_TOKEN: raw.transform((v, ctx) =>
    v === undefined || v.startsWith('xoxb-') ? v : fail(ctx, 'expected a bot token (xoxb-...)'),
  ),
  SLACK_APP_TOKEN: raw.transform((v, ctx) =>
    v === undefined || v.startsWith('xapp-') ? v : fail(ctx, 'expected an app-level token (xapp-...)'),
  ),
  SLACK_CLIENT_ID: raw,
  SLACK_CLIENT_SECRET: raw,
  SLACK_STATE_SECRET: raw,
  SLACK_API_URL: raw.transform((v, ctx) => {
    if (v === undefined) return SLACK_API_URL_DEFAULT;
    try {
      const url = new URL(v);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail(ctx, 'expected an http(s) URL');
    } catch {
      return fail(ctx, 'expected an absolute http(s) URL');
    }
    return v.endsWith('/') ? v : v + '/';
  }),
  MicrosoftAppId: raw.transform((v, ctx) =>
    v === undefined || GUID.test(v) ? v : fail(ctx, 'expected a GUID'),
  ),
  MicrosoftAppPassword: raw,
  MicrosoftAppType: raw.transform((v, ctx): TeamsConfig['appType'] => {
    if (v === undefined) return 'SingleTenant';
    const known = (['SingleTenant', 'MultiTenant', 'UserAssignedMSI'] as const).find(
      (t) => t.toLowerCase() === v.toLowerCase(),
    );
    return known ?? fail(ctx, 'expected SingleTenant, MultiTenant or UserAssignedMSI');
  }),
  MicrosoftAppTenantId: raw.transform((v, ctx) =>
    v === undefined || GUID.test(v) ? v : fail(ctx, 'expected a GUID (the Entra tenant id)'),
  ),
  LATCH_TEAMS_TENANTS: raw.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ids = [
      ...new Set(
        v
          .split(',')
          .map((t) => t.trim().toLowerCase())
          .filter(Boolean),
      ),
    ];
    return ids.length > 0 && ids.every((t) => GUID.test(t))
      ? ids
      : fail(ctx, 'expected comma-separated Entra tenant ids (GUIDs)');
  }),
});

type VariableName = keyof typeof envSchema.shape;

/** Values that may carry credentials are never echoed back in errors. */
const SENSITIVE = new Set<VariableName>([
  'MONGODB_URI',
  'LATCH_ENCRYPTION_KEY',
  'LATCH_AUDIT_KEY',
  'SLACK_SIGNING_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_CLIENT_SECRET',
  'SLACK_STATE_SECRET',
  'MicrosoftAppPassword',
]);

export interface ConfigVariableDoc {
  name: string;
  /** null: no default. */
  default: string | null;
  description: string;
}

const DOCS: Record<VariableName, Omit<ConfigVariableDoc, 'name'>> = {
  NODE_ENV: {
    default: 'development',
    description: '`development`, `production` or `test`. Production requires `LATCH_ENCRYPTION_KEY`.',
  },
  PORT: { default: '3000', description: 'HTTP port of the web process.' },
  MONGODB_URI: {
    default: null,
    description:
      'MongoDB connection string. Unset: Latch starts an embedded database under the data directory.',
  },
  LATCH_DATA_DIR: {
    default: '.latch',
    description: 'Directory for local state: embedded database, generated encryption key, audit checkpoints.',
  },
  LATCH_ENCRYPTION_KEY: {
    default: null,
    description:
      'Key that encrypts integration secrets at rest: 32 bytes, base64 or hex (`openssl rand -base64 32`). ' +
      'Required in production; elsewhere one is generated into the data directory.',
  },
  LATCH_AUDIT_KEY: {
    default: null,
    description:
      "Key of the audit log's hash chain (HMAC-SHA256): 32 bytes, base64 or hex. Unset: derived from the " +
      'encryption key. `npm run audit` needs the same key.',
  },
  LATCH_CONFIG: {
    default: DEFAULT_CONFIG_FILE,
    description: 'Path of the flows-as-code YAML file. The default is used only if that file exists.',
  },
  LATCH_ADMINS: {
    default: null,
    description:
      'Comma-separated Latch administrators: emails, Slack user ids (`U012AB…`) or Slack user groups (`@handle`).',
  },
  LOG_LEVEL: {
    default: 'info',
    description: `Log level: ${LOG_LEVELS.join(', ')}. No secret (credential, token, key) is logged at any level, debug and trace included.`,
  },
  LATCH_ROLE: {
    default: 'all',
    description: 'What this process runs: `web` (chat, HTTP), `worker` (jobs, sweeps) or `all` (both).',
  },
  LATCH_SWEEP_INTERVAL_MS: {
    default: '250',
    description:
      'How often the worker sweeps for due work (expiries, warnings, time-outs), in ms; at least 20.',
  },
  LATCH_ACK_FRONT: {
    default: 'on',
    description:
      '`on`: in Slack HTTP mode, a thread of its own owns `PORT` and acknowledges slash commands at once, forwarding everything to Latch on loopback, so a busy Latch never makes Slack wait. `off`: Latch serves `PORT` directly.',
  },
  LATCH_EXPIRY_WARNING_MINUTES: {
    default: '15',
    description: 'How many minutes before expiry requesters are warned (0 = no warning).',
  },
  LATCH_RECONCILE_MINUTES: {
    default: '15',
    description:
      'How often every integration is reconciled: what really exists is read and compared with what Latch granted (0 = never).',
  },
  LATCH_PUBLIC_URL: {
    default: null,
    description: 'Public base URL of the web process, used in links sent to chat.',
  },
  SLACK_SIGNING_SECRET: {
    default: null,
    description: 'Slack app signing secret (Basic Information page). Required for HTTP mode.',
  },
  SLACK_BOT_TOKEN: {
    default: null,
    description: 'Bot token (`xoxb-...`) of a single-workspace install. Omit when using OAuth.',
  },
  SLACK_APP_TOKEN: {
    default: null,
    description: 'App-level token (`xapp-...`, `connections:write`): Socket Mode instead of HTTP.',
  },
  SLACK_CLIENT_ID: {
    default: null,
    description: 'OAuth client id: multi-workspace install at `/slack/install`.',
  },
  SLACK_CLIENT_SECRET: { default: null, description: 'OAuth client secret (with `SLACK_CLIENT_ID`).' },
  SLACK_STATE_SECRET: {
    default: null,
    description: 'Secret that signs the OAuth state parameter (with `SLACK_CLIENT_ID`).',
  },
  SLACK_API_URL: {
    default: SLACK_API_URL_DEFAULT,
    description: 'Base URL of the Slack Web API (GovSlack: `https://slack-gov.com/api/`).',
  },
  MicrosoftAppId: {
    default: null,
    description:
      "Teams: the bot's Microsoft app id (Azure Bot resource or Teams Developer Portal). Unset: Latch runs without Teams.",
  },
  MicrosoftAppPassword: {
    default: null,
    description: "Teams: the bot's client secret. Required unless `MicrosoftAppType` is `UserAssignedMSI`.",
  },
  MicrosoftAppType: {
    default: 'SingleTenant',
    description:
      'Teams: `SingleTenant` (new bots can only be single-tenant), `MultiTenant` (existing bots) or `UserAssignedMSI`.',
  },
  MicrosoftAppTenantId: {
    default: null,
    description: 'Teams: the Entra tenant id the bot is registered in. Required unless `MultiTenant`.',
  },
  LATCH_TEAMS_TENANTS: {
    default: null,
    description:
      "Teams, `MultiTenant` bots: comma-separated Entra tenant ids whose people may use the personal tab. Unset: only `MicrosoftAppTenantId`'s (none without it). A `SingleTenant` bot serves its own tenant only.",
  },
};

export function describeConfig(): ConfigVariableDoc[] {
  return (Object.keys(envSchema.shape) as VariableName[]).map((name) => ({ name, ...DOCS[name] }));
}

export interface LoadConfigOptions {
  /** Base for relative paths; the process working directory by default. */
  cwd?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: LoadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const input = Object.fromEntries(Object.keys(envSchema.shape).map((k) => [k, env[k]]));
  const parsed = envSchema.safeParse(input);
  const issues: { variable: string; message: string }[] = [];

  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '?') as VariableName;
      const value = env[variable];
      const got = SENSITIVE.has(variable) || value === undefined ? '' : `, got ${JSON.stringify(value)}`;
      issues.push({ variable, message: issue.message + got });
    }
  }

  // Checked here rather than when the file is read so that a wrong path fails with the other problems.
  let configFile: string | undefined;
  const configured = env.LATCH_CONFIG?.trim();
  if (configured) {
    configFile = path.resolve(cwd, configured);
    if (!existsSync(configFile)) {
      issues.push({ variable: 'LATCH_CONFIG', message: `file not found: ${configFile}` });
    }
  } else if (existsSync(path.resolve(cwd, DEFAULT_CONFIG_FILE))) {
    configFile = path.resolve(cwd, DEFAULT_CONFIG_FILE);
  }

  if (parsed.success) issues.push(...slackIssues(parsed.data), ...teamsIssues(parsed.data));

  if (!parsed.success || issues.length > 0) {
    const order = Object.keys(envSchema.shape);
    issues.sort((a, b) => order.indexOf(a.variable) - order.indexOf(b.variable));
    throw new ConfigError(issues);
  }

  const e = parsed.data;
  // Masked in every log line from now on (secret-scrubber.ts).
  registerSecrets(
    e.LATCH_ENCRYPTION_KEY,
    e.LATCH_AUDIT_KEY,
    e.SLACK_SIGNING_SECRET,
    e.SLACK_BOT_TOKEN,
    e.SLACK_APP_TOKEN,
    e.SLACK_CLIENT_SECRET,
    e.SLACK_STATE_SECRET,
    e.MicrosoftAppPassword,
    ...uriPassword(e.MONGODB_URI),
  );
  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    mongodbUri: e.MONGODB_URI,
    dataDir: path.resolve(cwd, e.LATCH_DATA_DIR ?? '.latch'),
    encryptionKey: e.LATCH_ENCRYPTION_KEY,
    auditKey: e.LATCH_AUDIT_KEY,
    configFile,
    admins: Object.freeze(e.LATCH_ADMINS) as string[],
    logLevel: e.LOG_LEVEL,
    role: e.LATCH_ROLE,
    sweepIntervalMs: e.LATCH_SWEEP_INTERVAL_MS,
    ackFront: e.LATCH_ACK_FRONT === 'on',
    expiryWarningMinutes: e.LATCH_EXPIRY_WARNING_MINUTES,
    reconcileMinutes: e.LATCH_RECONCILE_MINUTES,
    publicUrl: e.LATCH_PUBLIC_URL,
    slack: slackConfig(e),
    teams: teamsConfig(e),
  });
}

type ParsedEnv = z.infer<typeof envSchema>;

function slackIssues(e: ParsedEnv): { variable: string; message: string }[] {
  const issues: { variable: string; message: string }[] = [];
  const oauthVars = ['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'] as const;
  const oauthSet = oauthVars.filter((v) => e[v] !== undefined);
  const any = e.SLACK_BOT_TOKEN || e.SLACK_APP_TOKEN || e.SLACK_SIGNING_SECRET || oauthSet.length > 0;
  if (!any) return issues;
  if (oauthSet.length > 0 && oauthSet.length < oauthVars.length) {
    for (const v of oauthVars)
      if (e[v] === undefined) issues.push({ variable: v, message: 'required for OAuth install' });
  }
  const oauth = oauthSet.length === oauthVars.length;
  if (!e.SLACK_BOT_TOKEN && !oauth) {
    issues.push({
      variable: 'SLACK_BOT_TOKEN',
      message: 'set a bot token, or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for OAuth',
    });
  }
  if (e.SLACK_APP_TOKEN) {
    if (oauth && !e.SLACK_BOT_TOKEN)
      issues.push({ variable: 'SLACK_APP_TOKEN', message: 'Socket Mode needs SLACK_BOT_TOKEN' });
  } else if (!e.SLACK_SIGNING_SECRET) {
    issues.push({
      variable: 'SLACK_SIGNING_SECRET',
      message: 'required for HTTP mode (or set SLACK_APP_TOKEN)',
    });
  }
  return issues;
}

function slackConfig(e: ParsedEnv): SlackConfig | undefined {
  if (!e.SLACK_BOT_TOKEN && !e.SLACK_CLIENT_ID && !e.SLACK_APP_TOKEN) return undefined;
  return Object.freeze({
    signingSecret: e.SLACK_SIGNING_SECRET,
    botToken: e.SLACK_BOT_TOKEN,
    appToken: e.SLACK_APP_TOKEN,
    oauth:
      e.SLACK_CLIENT_ID && e.SLACK_CLIENT_SECRET && e.SLACK_STATE_SECRET
        ? {
            clientId: e.SLACK_CLIENT_ID,
            clientSecret: e.SLACK_CLIENT_SECRET,
            stateSecret: e.SLACK_STATE_SECRET,
          }
        : undefined,
    apiUrl: e.SLACK_API_URL,
  });
}

function teamsIssues(e: ParsedEnv): { variable: string; message: string }[] {
  const issues: { variable: string; message: string }[] = [];
  const others = (['MicrosoftAppPassword', 'MicrosoftAppTenantId'] as const).filter(
    (v) => e[v] !== undefined,
  );
  if (!e.MicrosoftAppId) {
    for (const v of others)
      issues.push({ variable: v, message: 'set MicrosoftAppId too, or leave this unset' });
    if (e.LATCH_TEAMS_TENANTS)
      issues.push({
        variable: 'LATCH_TEAMS_TENANTS',
        message: 'set MicrosoftAppId too, or leave this unset',
      });
    return issues;
  }
  if (e.LATCH_TEAMS_TENANTS && e.MicrosoftAppType !== 'MultiTenant')
    issues.push({
      variable: 'LATCH_TEAMS_TENANTS',
      message: `only for a MultiTenant bot; a ${e.MicrosoftAppType} bot serves MicrosoftAppTenantId alone`,
    });
  if (e.MicrosoftAppType !== 'UserAssignedMSI' && !e.MicrosoftAppPassword)
    issues.push({ variable: 'MicrosoftAppPassword', message: `required for a ${e.MicrosoftAppType} bot` });
  if (e.MicrosoftAppType !== 'MultiTenant' && !e.MicrosoftAppTenantId)
    issues.push({ variable: 'MicrosoftAppTenantId', message: `required for a ${e.MicrosoftAppType} bot` });
  return issues;
}

function teamsConfig(e: ParsedEnv): TeamsConfig | undefined {
  if (!e.MicrosoftAppId) return undefined;
  return Object.freeze({
    appId: e.MicrosoftAppId,
    appPassword: e.MicrosoftAppPassword,
    appType: e.MicrosoftAppType,
    tenantId: e.MicrosoftAppTenantId,
    tabTenants: Object.freeze(
      e.LATCH_TEAMS_TENANTS ?? (e.MicrosoftAppTenantId ? [e.MicrosoftAppTenantId.toLowerCase()] : []),
    ) as string[],
  });
}

/** The password of a `mongodb://user:password@…` URI, as written and decoded. */
function uriPassword(uri: string | undefined): string[] {
  const written = uri && /^mongodb(?:\+srv)?:\/\/[^:@/]*:([^@/]+)@/.exec(uri)?.[1];
  if (!written) return [];
  try {
    return [written, decodeURIComponent(written)];
  } catch {
    return [written];
  }
}

/** Emails are lower-cased to match identities (normalizeEmail); chat ids such as U012AB are case-sensitive. */
export function parseAdmins(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const entry = part.trim();
    if (!entry) continue;
    const id = entry.includes('@') ? entry.toLowerCase() : entry;
    if (!out.includes(id)) out.push(id);
  }
  return out;
}
