/** Pure parts of context sources (docs/ARCHITECTURE.md, "Context sources"). */
import { describe, expect, it } from '@jest/globals';
import { nextLink } from '../../src/context/okta.js';
import { isSafeBaseUrl } from '../../src/context/http.js';
import { contextSourceSchema } from '../../src/context/types.js';
import { flowSchema } from '../../src/domain/flow.js';
import { trustsAutoApproval } from '../../src/domain/policy.js';
import type { Identity } from '../../src/domain/identity.js';

const who = (groups: string[], staleGroups: string[] = []): Identity => ({
  id: 'ann@example.com',
  email: 'ann@example.com',
  groups,
  staleGroups,
});
const auto = {
  ...flowSchema.parse({
    name: 'Auto',
    grantees: {
      include: [
        { type: 'group', id: 'okta:Eng' },
        { type: 'group', id: 'sre' },
      ],
    },
    targets: [{ integration: 'pg', permissions: ['read'] }],
    duration: { maxMinutes: 60 },
  }),
  id: 'f1',
};

describe('Okta Link headers', () => {
  it('finds rel="next" among several links, in one header or many', () => {
    const self = '<https://x.okta.com/api/v1/groups?limit=2>; rel="self"';
    const next = '<https://x.okta.com/api/v1/groups?after=00g2&limit=2>; rel="next"';
    expect(nextLink([self, next])).toBe('https://x.okta.com/api/v1/groups?after=00g2&limit=2');
    expect(nextLink(`${self}, ${next}`)).toBe('https://x.okta.com/api/v1/groups?after=00g2&limit=2');
    expect(nextLink(self)).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });
});

describe('automatic approval and stale groups', () => {
  it('is trusted when the person qualifies through a fresh group', () => {
    expect(trustsAutoApproval(auto, who(['okta:Eng']))).toBe(true);
    expect(trustsAutoApproval(auto, who(['okta:Eng', 'sre'], ['okta:Eng']))).toBe(true);
  });
  it('is not trusted when only stale groups make the person a grantee', () => {
    expect(trustsAutoApproval(auto, who(['okta:Eng'], ['okta:Eng']))).toBe(false);
  });
  it('does not concern flows that ask approvers anyway', () => {
    const asked = {
      ...auto,
      approval: {
        ...auto.approval,
        steps: [
          { approvers: [{ type: 'user' as const, id: 'b@example.com' }], rule: { type: 'any' as const } },
        ],
      },
    };
    expect(trustsAutoApproval(asked, who(['okta:Eng'], ['okta:Eng']))).toBe(true);
  });
});

describe('source settings', () => {
  it('keeps colons out of source names and the maximum age above the sync interval', () => {
    expect(contextSourceSchema.safeParse({ name: 'ok:ta', type: 'okta' }).success).toBe(false);
    expect(
      contextSourceSchema.safeParse({ name: 'okta', type: 'okta', syncEveryMinutes: 60, maxAgeMinutes: 30 })
        .success,
    ).toBe(false);
    expect(contextSourceSchema.parse({ name: 'okta', type: 'okta' })).toMatchObject({
      syncEveryMinutes: 15,
      maxAgeMinutes: 1440,
    });
  });
  it('sends tokens over https only, or to this machine', () => {
    expect(isSafeBaseUrl('https://example.okta.com')).toBe(true);
    expect(isSafeBaseUrl('http://127.0.0.1:8080')).toBe(true);
    expect(isSafeBaseUrl('http://example.okta.com')).toBe(false);
    expect(isSafeBaseUrl('https://user:pw@example.okta.com')).toBe(false);
  });
});
