/**
 * The conformance suites (test/support/connector-conformance.ts: the connector alone;
 * lifecycle-conformance.ts: overlap, drift and standing access through Latch) against every
 * connector listed in test/support/conformance/index.ts.
 */
import { describeConformance } from '../support/connector-conformance.js';
import { CONFORMANCE_FIXTURES } from '../support/conformance/index.js';
import { describeLifecycleConformance } from '../support/lifecycle-conformance.js';

for (const [type, make] of CONFORMANCE_FIXTURES) {
  describeConformance(type, make);
  describeLifecycleConformance(type, make);
}
