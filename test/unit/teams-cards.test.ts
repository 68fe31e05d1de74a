/**
 * The Teams cards: Universal Actions with fallbacks, a refresh for at most 60 approvers, people's
 * words shown as written (never as markdown), and every card under Teams' size limit whatever it
 * is given.
 */
import { describe, expect, it } from '@jest/globals';
import {
  approvalCard,
  cardBytes,
  credentialsCard,
  decidedCard,
  digestCard,
  expiringCard,
  grantedCard,
  MAX_CARD_BYTES,
  MAX_REFRESH_USERS,
  submittedCard,
  VERB,
  type AdaptiveCard,
} from '../../blocks/teams/cards.js';
import { requestFormCard, requestSentCard } from '../../blocks/teams/request-card.js';
import { TEXT_LIMITS } from '../../src/domain/limits.js';
import { DIGEST_MAX_LISTED } from '../../src/domain/reminders.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';

const long = (n: number, c = 'x') => c.repeat(n);

function view(over: Partial<RequestView> = {}): RequestView {
  return {
    id: 'AR-1042',
    number: 1042,
    requester: { id: 'ann@example.com', email: 'ann@example.com', displayName: 'Ann', groups: [] },
    flowId: 'f1',
    flowName: 'Billing read',
    viaFallback: false,
    targets: [
      {
        integration: 'pg',
        resourceId: 'db:app/schema:billing',
        resourceName: 'billing',
        permission: 'read',
        grantState: 'pending',
      },
    ],
    durationMinutes: 60,
    justification: 'incident 42',
    source: 'teams',
    state: 'pending',
    version: 3,
    step: 0,
    stepCount: 1,
    approvals: [],
    extensionCount: 0,
    ...over,
  };
}

const context = { groups: ['dba'], previousRequests: 0, previousForSame: 0 };

/** Every action in the card, fallbacks included. */
function actions(card: AdaptiveCard): Array<Record<string, unknown>> {
  return (card.actions ?? []).flatMap((a) => [
    a,
    ...(a.fallback ? [a.fallback as Record<string, unknown>] : []),
  ]);
}

/** All the card's text, with the element type that carries it. */
function texts(
  node: unknown,
  out: Array<{ type: string; text: string }> = [],
  type = '',
): Array<{ type: string; text: string }> {
  if (Array.isArray(node)) node.forEach((n) => texts(n, out, type));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    const t = typeof o.type === 'string' ? o.type : type;
    if (typeof o.text === 'string') out.push({ type: t, text: o.text });
    for (const [k, v] of Object.entries(o)) if (k !== 'text') texts(v, out, t);
  }
  return out;
}

describe('the approver card', () => {
  it('has Approve and Deny as Action.Execute, each with an Action.Submit fallback carrying the verb', () => {
    const card = approvalCard({
      request: view(),
      requesterName: 'Ann',
      context,
      approverUserIds: ['29:bob'],
    });
    expect(card.version).toBe('1.5');
    expect(card.actions).toEqual([
      expect.objectContaining({
        type: 'Action.Execute',
        verb: VERB.approve,
        data: { request: 'AR-1042', version: 3 },
      }),
      expect.objectContaining({
        type: 'Action.Execute',
        verb: VERB.deny,
        data: { request: 'AR-1042', version: 3 },
      }),
    ]);
    expect(card.actions!.map((a) => a.fallback)).toEqual([
      expect.objectContaining({
        type: 'Action.Submit',
        data: { request: 'AR-1042', version: 3, verb: VERB.approve },
      }),
      expect.objectContaining({
        type: 'Action.Submit',
        data: { request: 'AR-1042', version: 3, verb: VERB.deny },
      }),
    ]);
    expect(card.body).toContainEqual(expect.objectContaining({ type: 'Input.Text', id: 'reason' }));
    expect(card.refresh).toEqual({
      action: { type: 'Action.Execute', verb: VERB.refresh, data: { request: 'AR-1042', version: 3 } },
      userIds: ['29:bob'],
    });
  });

  it('says whether the requester is on call and why the request came, only when Latch knows a rota', () => {
    const line = (c: AdaptiveCard) =>
      texts(c.body)
        .map((t) => t.text)
        .join('|');
    const known = approvalCard({
      request: view(),
      requesterName: 'Ann',
      context: { ...context, onCall: [], routing: 'not on call for pd:Primary, so Prod asks bob to approve' },
      approverUserIds: [],
    });
    expect(line(known)).toContain('On call: |no');
    expect(line(known)).toContain('Policy: |not on call for pd:Primary, so Prod asks bob to approve');
    const onCall = approvalCard({
      request: view(),
      requesterName: 'Ann',
      context: { ...context, onCall: ['pd:Primary'] },
      approverUserIds: [],
    });
    expect(line(onCall)).toContain('On call: |yes: pd:Primary');
    const unknown = approvalCard({ request: view(), requesterName: 'Ann', context, approverUserIds: [] });
    expect(line(unknown)).not.toContain('On call');
  });

  it('refreshes for at most 60 approvers', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `29:user${i}`);
    const card = approvalCard({ request: view(), requesterName: 'Ann', context, approverUserIds: ids });
    expect(card.refresh!.userIds).toEqual(ids.slice(0, MAX_REFRESH_USERS));
  });

  it('shows who decided instead of buttons once decided, and progress short of a decision', () => {
    const decided = approvalCard({
      request: view(),
      requesterName: 'Ann',
      context,
      approverUserIds: [],
      outcome: 'Approved by Bob',
    });
    expect(decided.actions).toBeUndefined();
    expect(
      texts(decided.body)
        .map((t) => t.text)
        .join(''),
    ).toContain('Approved by Bob');
    const partial = approvalCard({
      request: view(),
      requesterName: 'Ann',
      context,
      approverUserIds: [],
      progress: 'approved by Bob, 1 of 2',
    });
    expect(
      texts(partial.body)
        .map((t) => t.text)
        .join(''),
    ).toContain('1 of 2');
    expect(partial.actions).toHaveLength(2);
  });

  it('shows what people typed as written: in TextRuns, never in markdown TextBlocks', () => {
    const hostile = '**urgent** [click](https://evil.example) <at>everyone</at>';
    const card = approvalCard({
      request: view({ justification: hostile, flowName: hostile }),
      requesterName: hostile,
      context: { ...context, groups: [hostile] },
      approverUserIds: [],
    });
    const carrying = texts(card.body).filter((t) => t.text.includes('**urgent**'));
    expect(carrying.length).toBeGreaterThanOrEqual(4);
    expect(new Set(carrying.map((t) => t.type))).toEqual(new Set(['TextRun']));
    expect(texts(card.body).filter((t) => t.type === 'TextBlock')).toEqual([]);
  });
});

describe('the requester cards', () => {
  it('offers Cancel, Revoke, Show credentials and one Extend per allowed duration, all with fallbacks', () => {
    expect(
      actions(submittedCard(view(), 'Bob')).map((a) => a.verb ?? (a.data as { verb: string }).verb),
    ).toEqual([VERB.cancel, VERB.cancel]);
    expect(grantedCard(view({ state: 'active' }), '15:00', 'drop-1').actions!.map((a) => a.verb)).toEqual([
      VERB.showCredentials,
      VERB.revoke,
    ]);
    expect(grantedCard(view({ state: 'active' }), '15:00').actions!.map((a) => a.verb)).toEqual([
      VERB.revoke,
    ]);
    const expiring = expiringCard(view({ state: 'active' }), '15:00', {
      allowed: true,
      needsApproval: false,
      choicesMinutes: [30, 60, 60, 120],
    });
    expect(expiring.actions!.map((a) => [a.title, a.data])).toEqual([
      ['Extend by 30 minutes', { request: 'AR-1042', minutes: 30 }],
      ['Extend by 1 hour', { request: 'AR-1042', minutes: 60 }],
      ['Extend by 2 hours', { request: 'AR-1042', minutes: 120 }],
    ]);
    expect(
      expiringCard(view(), '15:00', { allowed: false, needsApproval: false, choicesMinutes: [] }).actions,
    ).toBeUndefined();
  });

  it('never puts credentials in the granted card', () => {
    const text = JSON.stringify(grantedCard(view({ state: 'active' }), '15:00', 'drop-1'));
    expect(text).not.toMatch(/password/i);
  });
});

describe("an approver's digest", () => {
  const items = ['AR-1', 'AR-2', 'AR-3'].map((id, i) => ({
    request: view({ id, justification: '**not markdown**' }),
    waitingMinutes: 30 + i * 60,
  }));

  it('lists each request with who asks, for what, and how long it waits, and opens Approvals', () => {
    const card = digestCard(items, DIGEST_MAX_LISTED, 'https://teams.microsoft.com/l/entity/app/latch-home');
    const all = texts(card);
    const text = all.map((t) => t.text).join('');
    expect(text).toContain('3 requests are waiting for your decision.');
    for (const id of ['AR-1', 'AR-2', 'AR-3']) expect(text).toContain(id);
    expect(text).toContain('Ann asks for read on billing (pg) for 1 hour · waiting 30 minutes');
    expect(text).toContain('waiting 2 hours 30 minutes');
    // The requester's words stay TextRuns, shown as written.
    expect(all.find((t) => t.text === '**not markdown**')?.type).toBe('TextRun');
    expect(JSON.stringify(card)).toContain('"url":"https://teams.microsoft.com/l/entity/app/latch-home"');
    expect(cardBytes(card)).toBeLessThanOrEqual(MAX_CARD_BYTES);
  });

  it('lists at most its limit, says how many more, and stays under the size limit', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      request: view({
        id: `AR-${i}`,
        justification: long(TEXT_LIMITS.justification, 'J'),
        requester: { id: 'n@example.com', email: 'n@example.com', displayName: long(500, 'N'), groups: [] },
        targets: Array.from({ length: 50 }, (_, j) => ({
          integration: long(80, 'i'),
          resourceId: `db:${j}`,
          resourceName: long(250, 'r'),
          permission: 'admin',
          grantState: 'pending',
        })),
      }),
      waitingMinutes: 525_600,
    }));
    const card = digestCard(many, DIGEST_MAX_LISTED);
    const text = texts(card)
      .map((t) => t.text)
      .join('');
    expect(text).toContain(`${200 - DIGEST_MAX_LISTED} more wait too.`);
    expect(text).not.toContain('AR-199');
    expect(cardBytes(card)).toBeLessThanOrEqual(MAX_CARD_BYTES);
  });
});

describe('card size', () => {
  it('keeps every card under the limit with extreme data', () => {
    const r = view({
      flowName: long(300, 'F'),
      justification: long(TEXT_LIMITS.justification, 'J'),
      targets: Array.from({ length: 200 }, (_, i) => ({
        integration: long(80, 'i'),
        resourceId: `db:${i}`,
        resourceName: long(250, 'r'),
        permission: 'admin',
        grantState: 'pending',
      })),
      stepCount: 10,
      step: 9,
    });
    const hugeContext = {
      groups: Array.from({ length: 500 }, (_, i) => `group-${i}-${long(60, 'g')}`),
      timeZone: 'America/Argentina/ComodRivadavia',
      localTime: '23:59',
      withinWorkingHours: false,
      previousRequests: 99999,
      previousForSame: 9999,
    };
    const approvers = Array.from({ length: 300 }, (_, i) => `29:${long(80, 'u')}${i}`);
    const cards: AdaptiveCard[] = [
      approvalCard({
        request: r,
        requesterName: long(500, 'N'),
        context: hugeContext,
        approverUserIds: approvers,
        reminder: true,
        progress: long(3000, 'p'),
      }),
      approvalCard({
        request: r,
        requesterName: long(500, 'N'),
        context: hugeContext,
        approverUserIds: approvers,
        outcome: long(3000, 'o'),
      }),
      submittedCard(r, long(3000, 'w')),
      decidedCard(r, 'denied', long(500, 'b'), long(TEXT_LIMITS.reason, 'R')),
      decidedCard(r, 'approved', long(500, 'b')),
      grantedCard(r, 'Tue 31 Dec 23:59 (America/Argentina/ComodRivadavia)', 'drop-1'),
      expiringCard(r, '23:59', {
        allowed: true,
        needsApproval: true,
        choicesMinutes: [15, 30, 60, 120, 240, 480, 960],
      }),
      requestFormCard({
        anything: true,
        closed: Array.from({ length: 9 }, () => long(3000, 'c')),
        banner: long(3000, 'b'),
        resources: Array.from({ length: 50 }, (_, i) => ({
          value: long(16, 'v') + i,
          label: long(600, 'l'),
        })),
        selectedResources: Array.from({ length: 50 }, (_, i) => long(16, 'v') + i),
        unlisted: 99999,
        find: long(500, 'f'),
        bundles: Array.from({ length: 200 }, (_, i) => `${long(100, 'B')}${i}`),
        selectedBundle: long(100, 'B'),
        flows: Array.from({ length: 100 }, (_, i) => ({ id: `${long(24, 'i')}${i}`, name: long(300, 'F') })),
        selectedFlowId: long(24, 'i'),
        permissions: Array.from({ length: 200 }, (_, i) => `${long(60, 'p')}${i}`),
        durations: [null, ...Array.from({ length: 200 }, (_, i) => i + 1)],
        selectedDuration: null,
        justificationRequired: true,
        justification: long(TEXT_LIMITS.justification, 'J'),
        notes: Array.from({ length: 20 }, () => long(2000, 'n')),
        errors: {
          targets: long(2000, 'e'),
          bundle: long(2000, 'e'),
          flow: long(2000, 'e'),
          permission: long(2000, 'e'),
          duration: long(2000, 'e'),
          justification: long(2000, 'e'),
        },
      }),
      requestSentCard(r, long(3000, 'w')),
      credentialsCard(
        r,
        Array.from({ length: 20 }, (_, i) => ({
          resource: long(250, 'c') + i,
          values: {
            username: long(63, 'u'),
            password: long(64, 'p'),
            host: long(253, 'h'),
            database: long(63, 'd'),
          },
        })),
      ),
    ];
    for (const card of cards) expect(cardBytes(card)).toBeLessThanOrEqual(MAX_CARD_BYTES);
  });
});
