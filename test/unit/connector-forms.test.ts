/**
 * Each integration type's form (ConnectorType.form, used by the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab") names only settings its validator knows, and every setting
 * it knows has a field, so nothing a type takes is left to the YAML box by oversight.
 */
import { describe, expect, it } from '@jest/globals';
import { CONNECTOR_FORMS, CONNECTOR_TYPES } from '../../src/app.js';
import { postgresConfigSchema, postgresSecretsSchema } from '../../src/connectors/postgres/config.js';
import { ldapConfigFields, ldapSecretsSchema } from '../../src/connectors/ldap/config.js';
import { redisConfigShape, redisSecretsSchema } from '../../src/connectors/redis/config.js';
import { webhookConfigSchema, webhookSecretsSchema } from '../../src/connectors/webhook/config.js';
import {
  slackConnectorConfigSchema,
  slackConnectorSecretsSchema,
} from '../../src/connectors/slack/config.js';
import { mysqlConfigSchema, mysqlSecretsSchema } from '../../src/connectors/mysql/config.js';

describe('connector forms', () => {
  it('has a form for every type', () => {
    expect(Object.keys(CONNECTOR_FORMS).sort()).toEqual(Object.keys(CONNECTOR_TYPES).sort());
  });

  it("covers PostgreSQL's settings, field for field", () => {
    const form = CONNECTOR_FORMS.postgresql!;
    const tops = [...new Set(form.fields.map((f) => f.key.split('.')[0]))].sort();
    expect(tops).toEqual(Object.keys(postgresConfigSchema.shape).sort());
    expect(form.fields.filter((f) => f.key.startsWith('roleMap.')).map((f) => f.key.slice(8))).toEqual(
      Object.keys(postgresConfigSchema.shape.roleMap.unwrap().shape),
    );
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(postgresSecretsSchema.shape));
  });

  it('gives every field a default the validator accepts', () => {
    const validate = CONNECTOR_TYPES.postgresql!.validate;
    for (const f of CONNECTOR_FORMS.postgresql!.fields) {
      if (f.default === undefined || f.kind === 'yaml') continue;
      const config = { host: 'db', user: 'latch', [f.key]: f.default };
      expect([f.key, validate(config, {})]).toEqual([f.key, []]);
    }
  });

  it("covers LDAP's settings, field for field, and each default is accepted", () => {
    const form = CONNECTOR_FORMS.ldap!;
    expect(form.fields.map((f) => f.key).sort()).toEqual(Object.keys(ldapConfigFields.shape).sort());
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(ldapSecretsSchema.shape));
    const required = { url: 'ldap://dir', bindDN: 'cn=latch,dc=x', baseDN: 'dc=x', groupsDN: 'ou=g,dc=x' };
    expect(form.fields.filter((f) => f.required).map((f) => f.key)).toEqual(['url', 'bindDN', 'baseDN']);
    for (const f of form.fields) {
      if (f.default === undefined) continue;
      expect([f.key, CONNECTOR_TYPES.ldap!.validate({ ...required, [f.key]: f.default }, {})]).toEqual([
        f.key,
        [],
      ]);
    }
  });

  it("covers Redis's settings, field for field, with defaults the validator accepts", () => {
    const form = CONNECTOR_FORMS.redis!;
    expect(form.fields.map((f) => f.key).sort()).toEqual(Object.keys(redisConfigShape).sort());
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(redisSecretsSchema.shape));
    expect(form.fields.filter((f) => f.required).map((f) => f.key)).toEqual(['host', 'resources']);
    const validate = CONNECTOR_TYPES.redis!.validate;
    const required = { host: 'cache', resources: [{ name: 'app', keys: ['app:*'] }] };
    expect(validate(required, {})).toEqual([]);
    for (const f of form.fields) {
      if (f.default === undefined || f.kind === 'yaml') continue;
      expect([f.key, validate({ ...required, [f.key]: f.default }, {})]).toEqual([f.key, []]);
    }
  });

  it("covers the webhook's settings, and its defaults pass with just the required fields", () => {
    const form = CONNECTOR_FORMS.webhook!;
    expect(form.fields.map((f) => f.key).sort()).toEqual(Object.keys(webhookConfigSchema.shape).sort());
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(webhookSecretsSchema.shape));
    const validate = CONNECTOR_TYPES.webhook!.validate;
    const required = { url: 'https://access.example.com/latch' };
    const secrets = { signingSecret: '0123456789abcdef0123' };
    expect(validate(required, secrets)).toEqual([]);
    for (const f of form.fields) {
      if (f.default === undefined) continue;
      expect([f.key, validate({ ...required, [f.key]: f.default }, secrets)]).toEqual([f.key, []]);
      expect(webhookConfigSchema.parse(required)[f.key as keyof typeof required]).toEqual(f.default);
    }
  });

  it("covers the Slack connector's settings, field for field, with defaults its validator accepts", () => {
    const form = CONNECTOR_FORMS.slack!;
    expect(form.fields.map((f) => f.key).sort()).toEqual(
      Object.keys(slackConnectorConfigSchema.shape).sort(),
    );
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(slackConnectorSecretsSchema.shape));
    const validate = CONNECTOR_TYPES.slack!.validate;
    for (const f of form.fields) {
      if (f.default === undefined) continue;
      expect([f.key, validate({ [f.key]: f.default }, { token: 'xoxb-1' })]).toEqual([f.key, []]);
    }
    // A form saved with only the required fields: the token alone.
    expect(validate({}, { token: 'xoxb-1' })).toEqual([]);
  });

  it("covers MySQL/MariaDB's settings, field for field, and its defaults validate", () => {
    const form = CONNECTOR_FORMS.mysql!;
    const tops = [...new Set(form.fields.map((f) => f.key.split('.')[0]))].sort();
    expect(tops).toEqual(Object.keys(mysqlConfigSchema.shape).sort());
    expect(form.fields.filter((f) => f.key.startsWith('roleMap.')).map((f) => f.key.slice(8))).toEqual(
      Object.keys(mysqlConfigSchema.shape.roleMap.unwrap().shape),
    );
    expect(form.secrets.map((s) => s.key)).toEqual(Object.keys(mysqlSecretsSchema.shape));
    const validate = CONNECTOR_TYPES.mysql!.validate;
    expect(validate({ host: 'db', user: 'latch' }, {})).toEqual([]);
    for (const f of form.fields) {
      if (f.default === undefined || f.kind === 'yaml') continue;
      const config = { host: 'db', user: 'latch', [f.key]: f.default };
      expect([f.key, validate(config, {})]).toEqual([f.key, []]);
    }
  });
});
