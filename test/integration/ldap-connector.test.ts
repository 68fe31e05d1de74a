import { describeConformance } from '../support/connector-conformance.js';
import { createLdapFixture } from '../support/conformance/ldap-fixture.js';

describeConformance('LDAP', createLdapFixture);
