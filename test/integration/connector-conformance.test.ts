/**
 * The conformance suites (test/support/connector-conformance.ts: the connector alone;
 * lifecycle-conformance.ts: overlap, drift and standing access through Latch) against every
 * connector whose fixture lives in test/support/conformance/. A connector with its own server adds its fixture here.
 */
import { describeConformance } from '../support/connector-conformance.js';
import { describeLifecycleConformance } from '../support/lifecycle-conformance.js';
import { createPostgresFixture } from '../support/conformance/postgres-fixture.js';
import { createMysqlFixture } from '../support/conformance/mysql-fixture.js';

describeConformance('PostgreSQL', createPostgresFixture);
describeLifecycleConformance('PostgreSQL', createPostgresFixture);
const mysqlExisting = () => createMysqlFixture({ mode: 'existing_user' });
describeConformance('MySQL/MariaDB (temporary users)', createMysqlFixture);
describeLifecycleConformance('MySQL/MariaDB (temporary users)', createMysqlFixture);
describeConformance('MySQL/MariaDB (existing users)', mysqlExisting);
describeLifecycleConformance('MySQL/MariaDB (existing users)', mysqlExisting);
