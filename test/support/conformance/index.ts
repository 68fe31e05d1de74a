/**
 * Every connector's conformance fixture, by integration type: the conformance suites
 * (test/integration/connector-conformance.test.ts) and `npm run bench:reconcile` run each of them.
 * A new connector adds its line here.
 */
import type { ConformanceFixture } from '../connector-conformance.js';
import { createPostgresFixture } from './postgres-fixture.js';
import { createRedisFixture } from './redis-fixture.js';
import { createLdapFixture } from './ldap-fixture.js';
import { createSlackFixture } from './slack-fixture.js';
import { createWebhookFixture } from './webhook-fixture.js';
import { createMysqlFixture } from './mysql-fixture.js';

export const CONFORMANCE_FIXTURES: Array<[type: string, make: () => Promise<ConformanceFixture>]> = [
  ['postgresql', createPostgresFixture],
  ['redis', createRedisFixture],
  ['ldap', createLdapFixture],
  ['slack (channel)', () => createSlackFixture({ target: 'channel' })],
  ['slack (user group)', () => createSlackFixture({ target: 'usergroup' })],
  // The webhook receiver as both kinds of system: a temporary account per grant, and shared memberships.
  ['webhook', () => createWebhookFixture({ mode: 'accounts' })],
  ['webhook (memberships)', () => createWebhookFixture({ mode: 'membership' })],
  ['mysql', createMysqlFixture],
  ['mysql (existing_user)', () => createMysqlFixture({ mode: 'existing_user' })],
];
