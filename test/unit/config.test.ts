import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, describeConfig, loadConfig, parseAdmins } from '../../src/config.js';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(path.join(os.tmpdir(), 'latch-config-'));
});
afterEach(() => {
  rmSync(cwd, { recursive: true, force: true });
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults to an empty environment', () => {
    const config = loadConfig({}, { cwd });
    expect(config).toEqual({
      nodeEnv: 'development',
      port: 3000,
      mongodbUri: undefined,
      dataDir: path.join(cwd, '.latch'),
      encryptionKey: undefined,
      configFile: undefined,
      admins: [],
      logLevel: 'info',
      role: 'all',
      sweepIntervalMs: 250,
      ackFront: true,
      expiryWarningMinutes: 15,
      reconcileMinutes: 15,
      publicUrl: undefined,
    });
  });

  it('reads every variable', () => {
    writeFileSync(path.join(cwd, 'flows.yaml'), 'flows: []\n');
    const key = Buffer.alloc(32, 7).toString('hex');
    const config = loadConfig(
      {
        NODE_ENV: 'production',
        PORT: '8080',
        MONGODB_URI: 'mongodb://db:27017/latch',
        LATCH_DATA_DIR: 'state',
        LATCH_ENCRYPTION_KEY: key,
        LATCH_CONFIG: 'flows.yaml',
        LATCH_ADMINS: 'ops@example.com',
        LOG_LEVEL: 'debug',
        LATCH_ROLE: 'worker',
        LATCH_SWEEP_INTERVAL_MS: '50',
        LATCH_ACK_FRONT: 'off',
        LATCH_EXPIRY_WARNING_MINUTES: '0',
        LATCH_RECONCILE_MINUTES: '0',
        LATCH_PUBLIC_URL: 'https://latch.example.com/',
      },
      { cwd },
    );
    expect(config).toEqual({
      nodeEnv: 'production',
      port: 8080,
      mongodbUri: 'mongodb://db:27017/latch',
      dataDir: path.join(cwd, 'state'),
      encryptionKey: key,
      configFile: path.join(cwd, 'flows.yaml'),
      admins: ['ops@example.com'],
      logLevel: 'debug',
      role: 'worker',
      sweepIntervalMs: 50,
      ackFront: false,
      expiryWarningMinutes: 0,
      reconcileMinutes: 0,
      publicUrl: 'https://latch.example.com',
    });
  });

  it('names every bad variable at once', () => {
    const err = configError(() =>
      loadConfig(
        {
          NODE_ENV: 'staging',
          PORT: 'abc',
          MONGODB_URI: 'postgres://user:hunter2@db/x',
          LATCH_ENCRYPTION_KEY: 'c2hvcnQ=',
          LOG_LEVEL: 'loud',
          LATCH_ROLE: 'both',
          LATCH_SWEEP_INTERVAL_MS: '5',
          LATCH_ACK_FRONT: 'maybe',
          LATCH_EXPIRY_WARNING_MINUTES: '-1',
          LATCH_PUBLIC_URL: 'not a url',
          LATCH_CONFIG: 'missing.yaml',
        },
        { cwd },
      ),
    );
    expect(err.issues.map((i) => i.variable)).toEqual([
      'NODE_ENV',
      'PORT',
      'MONGODB_URI',
      'LATCH_ENCRYPTION_KEY',
      'LATCH_CONFIG',
      'LOG_LEVEL',
      'LATCH_ROLE',
      'LATCH_SWEEP_INTERVAL_MS',
      'LATCH_ACK_FRONT',
      'LATCH_EXPIRY_WARNING_MINUTES',
      'LATCH_PUBLIC_URL',
    ]);
    expect(err.message).toContain('Invalid configuration:\n');
    expect(err.message).toContain('  - PORT: expected an integer between 1 and 65535, got "abc"');
    expect(err.message).toContain('  - LATCH_ENCRYPTION_KEY: must be 32 bytes, base64 or hex');
    expect(err.message).toContain(
      '  - NODE_ENV: expected one of development, production, test, got "staging"',
    );
    expect(err.message).toContain('  - LATCH_SWEEP_INTERVAL_MS: expected an integer of at least 20, got "5"');
    expect(err.message).toContain(`  - LATCH_CONFIG: file not found: ${path.join(cwd, 'missing.yaml')}`);
    // Values that can hold credentials are not echoed.
    expect(err.message).not.toContain('hunter2');
    expect(err.message).not.toContain('c2hvcnQ=');
  });

  it('rejects ports out of range and non-integers', () => {
    for (const PORT of ['0', '65536', '80.5', '1e3']) {
      expect(() => loadConfig({ PORT }, { cwd })).toThrow(/PORT: expected an integer between 1 and 65535/);
    }
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({ PORT: '', MONGODB_URI: '  ', LATCH_ENCRYPTION_KEY: '' }, { cwd });
    expect(config.port).toBe(3000);
    expect(config.mongodbUri).toBeUndefined();
    expect(config.encryptionKey).toBeUndefined();
  });

  it('uses latch.config.yaml from the working directory only if it exists', () => {
    expect(loadConfig({}, { cwd }).configFile).toBeUndefined();
    writeFileSync(path.join(cwd, 'latch.config.yaml'), 'flows: []\n');
    expect(loadConfig({}, { cwd }).configFile).toBe(path.join(cwd, 'latch.config.yaml'));
  });

  it('accepts a base64 encryption key', () => {
    const key = Buffer.alloc(32, 1).toString('base64');
    expect(loadConfig({ LATCH_ENCRYPTION_KEY: key }, { cwd }).encryptionKey).toBe(key);
  });

  it('parses the admins list', () => {
    const config = loadConfig(
      { LATCH_ADMINS: ' Ops@Example.com, ,U012ABCDEF,,ops@example.com , 29:1abc ' },
      { cwd },
    );
    expect(config.admins).toEqual(['ops@example.com', 'U012ABCDEF', '29:1abc']);
    expect(parseAdmins('')).toEqual([]);
    expect(parseAdmins(' , ')).toEqual([]);
  });
});

describe('Slack configuration', () => {
  const base = { LATCH_DATA_DIR: '/tmp/latch-config-test' };

  it('runs without Slack when no Slack variable is set', () => {
    expect(loadConfig(base).slack).toBeUndefined();
  });

  it('takes a single-workspace install in HTTP mode, with the API URL ending in a slash', () => {
    const config = loadConfig({
      ...base,
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 's3cret',
      SLACK_API_URL: 'https://slack-gov.com/api',
    });
    expect(config.slack).toEqual({
      signingSecret: 's3cret',
      botToken: 'xoxb-1',
      appToken: undefined,
      oauth: undefined,
      apiUrl: 'https://slack-gov.com/api/',
    });
    expect(loadConfig({ ...base, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).slack?.apiUrl).toBe(
      'https://slack.com/api/',
    );
  });

  it('takes OAuth multi-workspace installs and Socket Mode', () => {
    const oauth = loadConfig({
      ...base,
      SLACK_CLIENT_ID: '1.2',
      SLACK_CLIENT_SECRET: 'c',
      SLACK_STATE_SECRET: 'st',
      SLACK_SIGNING_SECRET: 's',
    }).slack;
    expect(oauth?.oauth).toEqual({ clientId: '1.2', clientSecret: 'c', stateSecret: 'st' });
    expect(oauth?.botToken).toBeUndefined();
    const socket = loadConfig({ ...base, SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }).slack;
    expect(socket?.appToken).toBe('xapp-1');
  });

  it('names every missing or malformed Slack variable, without echoing secrets', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({ ...base, SLACK_CLIENT_ID: '1.2', SLACK_APP_TOKEN: 'xoxb-wrong-kind' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.issues.map((i) => i.variable)).toEqual(['SLACK_APP_TOKEN']);
    expect(err!.message).not.toContain('xoxb-wrong-kind');
    let err2: ConfigError | undefined;
    try {
      loadConfig({ ...base, SLACK_CLIENT_ID: '1.2' });
    } catch (e) {
      err2 = e as ConfigError;
    }
    expect(err2!.issues.map((i) => i.variable).sort()).toEqual([
      'SLACK_BOT_TOKEN',
      'SLACK_CLIENT_SECRET',
      'SLACK_SIGNING_SECRET',
      'SLACK_STATE_SECRET',
    ]);
  });
});

describe('Teams settings', () => {
  const appId = '8a3c1f2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b';
  const tenantId = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';

  it('reads the standard Bot Framework settings, single-tenant by default, and masks the secret', () => {
    const config = loadConfig(
      { MicrosoftAppId: appId, MicrosoftAppPassword: 'pw-123456', MicrosoftAppTenantId: tenantId },
      { cwd },
    );
    expect(config.teams).toEqual({
      appId,
      appPassword: 'pw-123456',
      appType: 'SingleTenant',
      tenantId,
      tabTenants: [tenantId],
    });
    expect(loadConfig({}, { cwd }).teams).toBeUndefined();
  });

  it('lets a MultiTenant bot name the tenants its personal tab serves, and no other bot', () => {
    const other = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
    const multi = { MicrosoftAppId: appId, MicrosoftAppType: 'MultiTenant', MicrosoftAppPassword: 'x' };
    expect(loadConfig(multi, { cwd }).teams?.tabTenants).toEqual([]);
    expect(loadConfig({ ...multi, MicrosoftAppTenantId: tenantId }, { cwd }).teams?.tabTenants).toEqual([
      tenantId,
    ]);
    expect(
      loadConfig({ ...multi, LATCH_TEAMS_TENANTS: ` ${tenantId}, ${other.toUpperCase()} ` }, { cwd }).teams
        ?.tabTenants,
    ).toEqual([tenantId, other]);
    expect(
      configError(() => loadConfig({ ...multi, LATCH_TEAMS_TENANTS: 'contoso' }, { cwd })).issues,
    ).toEqual([
      {
        variable: 'LATCH_TEAMS_TENANTS',
        message: 'expected comma-separated Entra tenant ids (GUIDs), got "contoso"',
      },
    ]);
    const single = configError(() =>
      loadConfig(
        {
          MicrosoftAppId: appId,
          MicrosoftAppPassword: 'x',
          MicrosoftAppTenantId: tenantId,
          LATCH_TEAMS_TENANTS: other,
        },
        { cwd },
      ),
    );
    expect(single.issues).toEqual([
      {
        variable: 'LATCH_TEAMS_TENANTS',
        message: 'only for a MultiTenant bot; a SingleTenant bot serves MicrosoftAppTenantId alone',
      },
    ]);
  });

  it('names what a bot of each type lacks, and never echoes the secret', () => {
    const err = configError(() =>
      loadConfig(
        { MicrosoftAppId: 'latch', MicrosoftAppType: 'AnyTenant', MicrosoftAppPassword: 'pw-123456' },
        { cwd },
      ),
    );
    expect(err.issues.map((i) => i.variable)).toEqual(['MicrosoftAppId', 'MicrosoftAppType']);
    expect(err.message).not.toContain('pw-123456');
    const single = configError(() => loadConfig({ MicrosoftAppId: appId }, { cwd }));
    expect(single.issues).toEqual([
      { variable: 'MicrosoftAppPassword', message: 'required for a SingleTenant bot' },
      { variable: 'MicrosoftAppTenantId', message: 'required for a SingleTenant bot' },
    ]);
    expect(
      loadConfig(
        { MicrosoftAppId: appId, MicrosoftAppType: 'multitenant', MicrosoftAppPassword: 'x' },
        { cwd },
      ).teams?.appType,
    ).toBe('MultiTenant');
    const orphan = configError(() => loadConfig({ MicrosoftAppTenantId: tenantId }, { cwd }));
    expect(orphan.issues).toEqual([
      { variable: 'MicrosoftAppTenantId', message: 'set MicrosoftAppId too, or leave this unset' },
    ]);
  });
});

describe('describeConfig', () => {
  it('documents every variable loadConfig reads', () => {
    const rows = describeConfig();
    expect(rows.map((r) => r.name)).toEqual([
      'NODE_ENV',
      'PORT',
      'MONGODB_URI',
      'LATCH_DATA_DIR',
      'LATCH_ENCRYPTION_KEY',
      'LATCH_AUDIT_KEY',
      'LATCH_CONFIG',
      'LATCH_ADMINS',
      'LOG_LEVEL',
      'LATCH_ROLE',
      'LATCH_SWEEP_INTERVAL_MS',
      'LATCH_ACK_FRONT',
      'LATCH_EXPIRY_WARNING_MINUTES',
      'LATCH_RECONCILE_MINUTES',
      'LATCH_PUBLIC_URL',
      'SLACK_SIGNING_SECRET',
      'SLACK_BOT_TOKEN',
      'SLACK_APP_TOKEN',
      'SLACK_CLIENT_ID',
      'SLACK_CLIENT_SECRET',
      'SLACK_STATE_SECRET',
      'SLACK_API_URL',
      'MicrosoftAppId',
      'MicrosoftAppPassword',
      'MicrosoftAppType',
      'MicrosoftAppTenantId',
      'LATCH_TEAMS_TENANTS',
    ]);
    expect(rows.find((r) => r.name === 'PORT')).toEqual({
      name: 'PORT',
      default: '3000',
      description: expect.any(String),
    });
    expect(rows.find((r) => r.name === 'MONGODB_URI')?.default).toBeNull();
    for (const row of rows) expect(row.description.length).toBeGreaterThan(10);
  });
});
