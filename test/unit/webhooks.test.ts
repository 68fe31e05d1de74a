/**
 * The pure parts of lifecycle webhooks (docs/ARCHITECTURE.md, "Lifecycle webhooks"): which events
 * subscribers hear of under which name, the body, the URL rule, input checks and Retry-After.
 */
import { describe, expect, it } from '@jest/globals';
import type { LatchEvent } from '../../src/lifecycle/notifier.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import { webhookPayload, webhookTypeOf } from '../../src/webhooks/events.js';
import { retryAfter } from '../../src/webhooks/send.js';
import { checkWebhookInput, isLoopbackHost, urlProblem } from '../../src/webhooks/subscription.js';

const request: RequestView = {
  id: 'AR-1001',
  number: 1001,
  requester: { id: 'alice@example.com', email: 'alice@example.com', displayName: 'Alice', groups: ['eng'] },
  flowId: 'f1',
  flowName: 'Billing read',
  viaFallback: false,
  targets: [
    { integration: 'pg', resourceId: 'db:x', resourceName: 'x', permission: 'read', grantState: 'active' },
  ],
  durationMinutes: 60,
  justification: 'INC-1',
  source: 'slack',
  state: 'active',
  version: 3,
  step: 0,
  stepCount: 1,
  approvals: [],
  extensionCount: 0,
  endReason: null,
};

const at = new Date('2026-01-02T03:04:05.000Z');

describe('which events subscribers hear of', () => {
  const cases: Array<[LatchEvent, string | undefined]> = [
    [{ type: 'request.submitted', request, approvers: { users: [], groups: [] } }, 'request.created'],
    [{ type: 'request.approved', request, by: 'bob@example.com' }, 'request.approved'],
    [{ type: 'request.rejected', request, by: 'bob@example.com', reason: 'no' }, 'request.denied'],
    [{ type: 'access.granted', request, credentials: [] }, 'access.granted'],
    [{ type: 'access.extended', request, by: 'alice@example.com' }, 'access.extended'],
    [
      { type: 'access.revoked', request: { ...request, state: 'revoked', endReason: 'revoked' } },
      'access.revoked',
    ],
    [
      { type: 'access.revoked', request: { ...request, state: 'expired', endReason: 'expired' } },
      'access.expired',
    ],
    [{ type: 'request.failed', request, error: 'boom' }, 'request.failed'],
    [{ type: 'approval.needed', request, approvers: { users: [], groups: [] }, reminder: false }, undefined],
    [{ type: 'request.cancelled', request }, undefined],
    [{ type: 'access.expiring', request, extension: { allowed: false } as never }, undefined],
  ];
  it.each(cases)('%j', (event, type) => {
    expect(webhookTypeOf(event)).toBe(type);
  });
});

describe('the body', () => {
  it('says what happened, when, who acted, and the request, never credentials', () => {
    const body = webhookPayload(
      {
        type: 'access.granted',
        request: { ...request, grantedAt: at, expiresAt: new Date(at.getTime() + 3_600_000) },
        credentials: [{ resourceName: 'x', permission: 'read', values: { password: 's3cret-pass' } }],
      },
      'AR-1001:e1',
      at,
    )!;
    expect(body).toEqual({
      id: 'AR-1001:e1',
      type: 'access.granted',
      occurredAt: '2026-01-02T03:04:05.000Z',
      request: {
        id: 'AR-1001',
        number: 1001,
        state: 'active',
        requester: { id: 'alice@example.com', email: 'alice@example.com', displayName: 'Alice' },
        flow: 'Billing read',
        targets: request.targets,
        justification: 'INC-1',
        durationMinutes: 60,
        breakGlass: false,
        automatic: false,
        createdAt: undefined,
        grantedAt: '2026-01-02T03:04:05.000Z',
        expiresAt: '2026-01-02T04:04:05.000Z',
        extensionCount: 0,
        endReason: null,
      },
    });
    expect(JSON.stringify(body)).not.toContain('s3cret-pass');
  });

  it('carries the reason of a denial, the error of a failure, and who asked for someone else', () => {
    expect(
      webhookPayload(
        { type: 'request.rejected', request, by: 'bob@example.com', reason: 'Use the replica' },
        'i',
        at,
      ),
    ).toMatchObject({ by: 'bob@example.com', reason: 'Use the replica' });
    expect(webhookPayload({ type: 'request.failed', request, error: 'role exists' }, 'i', at)).toMatchObject({
      error: 'role exists',
    });
    const asked = { ...request, askedBy: { id: 'carol@example.com', email: 'carol@example.com' } };
    expect(
      webhookPayload(
        { type: 'request.submitted', request: asked, approvers: { users: [], groups: [] } },
        'i',
        at,
      ),
    ).toMatchObject({ by: 'carol@example.com', request: { askedBy: { email: 'carol@example.com' } } });
  });

  it("carries reconciliation's finding on drift, and not the admins it was told to", () => {
    const drift = { kind: 'lingering', action: 'revoked', target: 'pg:app.billing:read' } as const;
    const body = webhookPayload(
      { type: 'access.drift', request, drift, admins: ['ada@example.com'] },
      'i',
      at,
    );
    expect(body).toMatchObject({ type: 'access.drift', drift });
    expect(JSON.stringify(body)).not.toContain('ada@example.com');
  });
});

describe('the URL rule', () => {
  it('takes https anywhere and plain http only to this machine', () => {
    expect(urlProblem('https://hooks.example.com/latch')).toBeNull();
    for (const url of [
      'http://localhost:8080/h',
      'http://127.0.0.1/h',
      'http://[::1]:9/h',
      'http://a.localhost/',
    ])
      expect(urlProblem(url)).toBeNull();
    expect(urlProblem('http://hooks.example.com/')).toMatch(/Use https/);
    expect(urlProblem('http://10.0.0.1/')).toMatch(/Use https/);
    expect(urlProblem('http://127.0.0.1.example.com/')).toMatch(/Use https/);
    expect(urlProblem('ftp://x/')).toMatch(/https/);
    expect(urlProblem('hooks.example.com')).toMatch(/full URL/);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
  });
});

describe('input', () => {
  it('defaults to every event, enabled, no secret given', () => {
    expect(checkWebhookInput({ name: ' SIEM ', url: 'https://h.example.com/' })).toEqual({
      ok: true,
      value: { name: 'SIEM', url: 'https://h.example.com/', events: [], secret: '', enabled: true },
    });
  });

  it('keeps chosen events in their usual order, once', () => {
    const r = checkWebhookInput({
      name: 'a',
      url: 'https://h.example.com/',
      events: ['access.revoked', 'request.created', 'access.revoked'],
    });
    expect(r.ok && r.value.events).toEqual(['request.created', 'access.revoked']);
  });
});

describe('Retry-After', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('reads seconds and dates, and ignores the rest', () => {
    expect(retryAfter('120', now)).toBe(120_000);
    expect(retryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(retryAfter('soon', now)).toBeUndefined();
    expect(retryAfter(undefined, now)).toBeUndefined();
    expect(retryAfter('9999999', now)).toBe(24 * 3600_000);
  });
});
