import { describeConformance } from '../support/connector-conformance.js';
import { createMysqlFixture } from '../support/conformance/mysql-fixture.js';

describeConformance('MySQL/MariaDB (temporary users)', () => createMysqlFixture());
describeConformance('MySQL/MariaDB (existing users)', () => createMysqlFixture({ mode: 'existing_user' }));
