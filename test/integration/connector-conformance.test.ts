/**
 * The conformance suite (test/support/connector-conformance.ts) against every connector whose
 * fixture lives in test/support/conformance/. A connector with its own server adds its fixture here.
 */
import { describeConformance } from '../support/connector-conformance.js';
import { createPostgresFixture } from '../support/conformance/postgres-fixture.js';

describeConformance('PostgreSQL', createPostgresFixture);
