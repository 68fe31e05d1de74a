/** Settings and pure parts of the on-call context sources (docs/ARCHITECTURE.md, "Context sources"). */
import { describe, expect, it } from '@jest/globals';
import { parseFlowsFile } from '../../src/config/flows-file.js';
import { CONTEXT_TYPES } from '../../src/context/index.js';
import { jsmOpsConfig, resolveNext } from '../../src/context/jsm-ops.js';
import { Rota, overlaps, retryAfterMs } from '../../src/context/oncall.js';
import { pagerdutyConfig } from '../../src/context/pagerduty.js';

const pagerduty = CONTEXT_TYPES.pagerduty!;
const jsm = CONTEXT_TYPES.jsm_ops!;
const JSM_REQUIRED = {
  cloudId: 'a436116f-02ce-4520-8fbb-7301462a1674',
  siteUrl: 'https://example.atlassian.net',
  email: 'latch-bot@example.com',
};
const paths = (issues: Array<{ path: Array<string | number> }>) => issues.map((i) => i.path.join('.')).sort();

describe('PagerDuty settings', () => {
  it('needs only the API key, and defaults the rest', () => {
    expect(pagerduty.validate({}, { apiToken: 'key' })).toEqual([]);
    expect(pagerdutyConfig.parse({})).toEqual({
      apiUrl: 'https://api.pagerduty.com',
      scheduleIds: [],
      escalationPolicyIds: [],
      escalationLevels: 1,
      horizonHours: 24,
      pageSize: 100,
    });
  });

  it('names a missing key, an unknown field, a URL that would send the key in the clear and a page too big', () => {
    expect(paths(pagerduty.validate({}, {}))).toEqual(['secrets.apiToken']);
    expect(paths(pagerduty.validate({ scheduleId: 'P1' }, { apiToken: 'k' }))).toEqual(['config.scheduleId']);
    expect(paths(pagerduty.validate({ apiUrl: 'http://api.pagerduty.com' }, { apiToken: 'k' }))).toEqual([
      'config.apiUrl',
    ]);
    expect(paths(pagerduty.validate({ pageSize: 101, horizonHours: 0 }, { apiToken: 'k' }))).toEqual([
      'config.horizonHours',
      'config.pageSize',
    ]);
    // The tests' stand-ins run on this machine over http.
    expect(pagerduty.validate({ apiUrl: 'http://127.0.0.1:4000' }, { apiToken: 'k' })).toEqual([]);
  });
});

describe('JSM Operations settings', () => {
  it('needs the cloud id, the site, the account email and its API token, and defaults the rest', () => {
    expect(jsm.validate(JSM_REQUIRED, { apiToken: 'token' })).toEqual([]);
    expect(jsmOpsConfig.parse(JSM_REQUIRED)).toEqual({
      ...JSM_REQUIRED,
      apiUrl: 'https://api.atlassian.com',
      scheduleIds: [],
      horizonHours: 24,
      pageSize: 25,
      concurrency: 2,
    });
    expect(paths(jsm.validate({}, {}))).toEqual([
      'config.cloudId',
      'config.email',
      'config.siteUrl',
      'secrets.apiToken',
    ]);
    expect(
      paths(jsm.validate({ ...JSM_REQUIRED, siteUrl: 'http://example.atlassian.net' }, { apiToken: 't' })),
    ).toEqual(['config.siteUrl']);
  });

  it('follows a next link only under the API root it came from', () => {
    const ops = 'https://api.atlassian.com/jsm/ops/api/c1';
    expect(resolveNext(ops, '/v1/schedules?offset=25&size=25')).toBe(
      'https://api.atlassian.com/jsm/ops/api/c1/v1/schedules?offset=25&size=25',
    );
    expect(resolveNext(ops, `${ops}/v1/schedules?offset=50`)).toBe(`${ops}/v1/schedules?offset=50`);
    expect(() => resolveNext(ops, 'https://evil.example/v1/schedules')).toThrow('outside its API');
    expect(() => resolveNext(ops, 'https://api.atlassian.com/jsm/ops/api/other/v1/schedules')).toThrow(
      'outside its API',
    );
  });
});

describe('rotas', () => {
  const d = (h: number) => new Date(Date.UTC(2026, 0, 1, h));
  const w = { since: d(10), until: d(20) };

  it('keeps shifts overlapping the horizon, open-ended ones included', () => {
    expect(overlaps(d(8), d(11), w)).toBe(true);
    expect(overlaps(d(19), undefined, w)).toBe(true);
    expect(overlaps(d(8), d(10), w)).toBe(false);
    expect(overlaps(d(20), d(22), w)).toBe(false);
  });

  it('keeps a shift reported twice once, with the email lower-cased, and lists members once', () => {
    const rota = new Rota();
    rota.group('S0', 'Empty');
    rota.add('S1', 'Primary', { email: 'Ann@Example.com', start: d(8), end: d(12) });
    rota.add('S1', 'Primary', { email: 'ann@example.com', start: d(8), end: d(12) });
    rota.add('S1', 'Primary', { email: 'ann@example.com', start: d(16), end: d(18) });
    expect(rota.result()).toEqual([
      { id: 'S0', name: 'Empty', members: [], shifts: [] },
      {
        id: 'S1',
        name: 'Primary',
        members: ['ann@example.com'],
        shifts: [
          { email: 'ann@example.com', start: d(8), end: d(12) },
          { email: 'ann@example.com', start: d(16), end: d(18) },
        ],
      },
    ]);
  });

  it('reads Retry-After and reset headers as seconds or as a date', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterMs('2', now)).toBe(2000);
    expect(retryAfterMs(new Date(now + 5000).toISOString(), now)).toBe(5000);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('the flows file', () => {
  it('declares PagerDuty and JSM Operations sources with only their required settings, and flows name their groups', () => {
    const text = `
contextSources:
  - name: pd
    type: pagerduty
    secrets:
      apiToken: { env: PD_KEY }
  - name: jsm
    type: jsm_ops
    config:
      cloudId: ${JSM_REQUIRED.cloudId}
      siteUrl: ${JSM_REQUIRED.siteUrl}
      email: ${JSM_REQUIRED.email}
    secrets:
      apiToken: { env: JSM_TOKEN }
flows:
  - name: On call
    grantees:
      include:
        - { type: group, id: "pd:Primary" }
        - { type: group, id: "pd:policy:Payments" }
        - { type: group, id: "jsm:Ops primary" }
    targets:
      - integration: pg
        permissions: [read]
    duration: { maxMinutes: 60 }
`;
    const declared = parseFlowsFile(text, {
      source: 'latch.config.yaml',
      env: { PD_KEY: 'pd-key', JSM_TOKEN: 'jsm-token' },
      known: { integrations: ['pg'], bundles: [] },
      contextTypes: Object.fromEntries(Object.entries(CONTEXT_TYPES).map(([k, t]) => [k, t.validate])),
    });
    expect(declared.contextSources).toEqual([
      expect.objectContaining({ name: 'pd', type: 'pagerduty', config: {}, secrets: { apiToken: 'pd-key' } }),
      expect.objectContaining({
        name: 'jsm',
        type: 'jsm_ops',
        config: JSM_REQUIRED,
        secrets: { apiToken: 'jsm-token' },
      }),
    ]);
  });
});
