/** On-call conditions and working hours as policy sees them (docs/ARCHITECTURE.md, "Flows that use context"). */
import { describe, expect, it } from '@jest/globals';
import { FlowsFileError, parseFlowsFile } from '../../src/config/flows-file.js';
import { CONTEXT_TYPES } from '../../src/context/index.js';
import { describeWorkingHours, parseWorkingHours } from '../../src/domain/availability.js';
import { flowSchema, type Flow } from '../../src/domain/flow.js';
import { routeRequest } from '../../src/domain/policy.js';
import type { Identity } from '../../src/domain/identity.js';

const base = {
  name: 'Prod',
  grantees: { include: [{ type: 'everyone' as const }] },
  targets: [{ integration: 'pg', permissions: ['read'] }],
  duration: { maxMinutes: 60 },
};
const flowOf = (approval: Record<string, unknown>): Flow => ({
  ...flowSchema.parse({ ...base, approval }),
  id: 'f1',
});
const who = (groups: string[], staleGroups: string[] = []): Identity => ({
  id: 'a@example.com',
  email: 'a@example.com',
  groups,
  staleGroups,
});

describe('routeRequest', () => {
  const onCallFlow = flowOf({
    steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }],
    autoApproveWhenOnCall: ['pd:Primary', 'pd:Secondary'],
  });

  it('approves by itself when the requester is on call for any listed schedule', () => {
    expect(routeRequest(onCallFlow, who(['pd:Secondary']))).toEqual({
      auto: true,
      reason: 'on call for pd:Secondary, so approved automatically',
      onCall: ['pd:Secondary'],
    });
  });

  it('asks the approvers otherwise, and says so', () => {
    expect(routeRequest(onCallFlow, who(['okta:Eng']))).toEqual({
      auto: false,
      reason: 'not on call for pd:Primary or pd:Secondary, so Prod asks bob@example.com to approve',
      onCall: [],
    });
  });

  it('never approves by itself from a stale rota', () => {
    const r = routeRequest(onCallFlow, who(['pd:Primary'], ['pd:Primary']));
    expect(r.auto).toBe(false);
    expect(r.reason).toContain('has not synced recently');
  });

  it('gives plain flows their reason too', () => {
    expect(routeRequest(flowOf({}), who([])).reason).toBe('Prod needs no approval');
    expect(
      routeRequest(flowOf({ steps: [{ approvers: [{ type: 'on_call', schedule: 'pd:Primary' }] }] }), who([]))
        .reason,
    ).toBe('Prod asks whoever is on call for pd:Primary to approve');
  });
});

describe('flow schema', () => {
  it('refuses auto-approval on call without a step for everyone else', () => {
    const parsed = flowSchema.safeParse({ ...base, approval: { autoApproveWhenOnCall: ['pd:Primary'] } });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toContain('add an approval step');
  });

  it('refuses schedules and on-call approvers not named <source>:<schedule>', () => {
    const parsed = flowSchema.safeParse({
      ...base,
      approval: { steps: [{ approvers: [{ type: 'on_call', schedule: 'Primary' }] }] },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toBe('name the schedule as <source>:<schedule>');
  });

  it('keeps defaults for a flow saved with only the required fields', () => {
    const f = flowSchema.parse(base);
    expect(f.approval.autoApproveWhenOnCall).toEqual([]);
    expect(f.workingHours).toBeUndefined();
    expect(f.automatic).toBeUndefined();
  });
});

describe('parseWorkingHours', () => {
  it.each([
    ['Mon-Fri 09:00-18:00', { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' }],
    ['mon, wed 8:00 - 12:30', { days: ['mon', 'wed'], start: '08:00', end: '12:30' }],
    [
      'every day 22:00-06:00',
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '22:00', end: '06:00' },
    ],
    ['Fri-Mon all day', { days: ['mon', 'fri', 'sat', 'sun'], start: '00:00', end: '00:00' }],
  ])('reads %s', (text, hours) => {
    expect(parseWorkingHours(text)).toEqual({ ok: true, hours });
  });

  it('reads back what it describes', () => {
    for (const text of [
      'Mon–Fri 09:00–18:00',
      'Mon, Wed 08:00–12:00',
      'every day all day',
      'Mon–Wed, Fri 07:00–19:00',
    ]) {
      const parsed = parseWorkingHours(text);
      expect(parsed.ok && describeWorkingHours(parsed.hours)).toBe(text);
    }
  });

  it.each(['weekdays 09:00-18:00', 'Mon-Fri 9-18', 'Mon-Fri 25:00-26:00', ''])(
    'refuses %s with how to write it',
    (text) => {
      const parsed = parseWorkingHours(text);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.reason).toContain('Mon-Fri 09:00-18:00');
    },
  );
});

describe('schedules in the flows file', () => {
  const file = (schedule: string) => `
contextSources:
  - name: pd
    type: pagerduty
    secrets: { apiToken: { env: PD_KEY } }
  - name: okta
    type: okta
    config: { orgUrl: https://example.okta.com }
    secrets: { apiToken: { env: OKTA_KEY } }
flows:
  - name: Prod
    grantees: { include: [{ type: everyone }] }
    targets: [{ integration: pg, permissions: [read] }]
    duration: { maxMinutes: 60 }
    approval:
      autoApproveWhenOnCall: ['${schedule}']
      steps: [{ approvers: [{ type: on_call, schedule: '${schedule}' }] }]
    automatic:
      whileOnCall: ['${schedule}']
      targets: [{ integration: pg, resource: 'db:app', permission: read }]
`;
  const parse = (schedule: string) =>
    parseFlowsFile(file(schedule), {
      source: 'latch.config.yaml',
      env: { PD_KEY: 'k', OKTA_KEY: 'k' },
      known: { integrations: ['pg'], bundles: [] },
      contextTypes: Object.fromEntries(Object.entries(CONTEXT_TYPES).map(([k, t]) => [k, t.validate])),
    });
  const problems = (schedule: string) => {
    try {
      parse(schedule);
      return [];
    } catch (err) {
      return (err as FlowsFileError).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('accepts a schedule of a declared on-call source everywhere a flow names one', () => {
    const flows = parse('pd:Primary').flows!;
    expect(flows[0]!.automatic?.whileOnCall).toEqual(['pd:Primary']);
  });

  it('reports an unknown source and a source that has no rotas, on each field', () => {
    expect(problems('pdx:Primary')).toEqual([
      'flows[0].approval.autoApproveWhenOnCall[0]: unknown context source "pdx" (schedules are named <source>:<schedule>)',
      'flows[0].approval.steps[0].approvers[0].schedule: unknown context source "pdx" (schedules are named <source>:<schedule>)',
      'flows[0].automatic.whileOnCall[0]: unknown context source "pdx" (schedules are named <source>:<schedule>)',
    ]);
    expect(problems('okta:Engineering')).toHaveLength(3);
    expect(problems('okta:Engineering')[0]).toContain('source "okta" (type okta) has no on-call schedules');
  });
});
