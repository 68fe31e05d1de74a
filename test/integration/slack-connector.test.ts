import { describeConformance } from '../support/connector-conformance.js';
import { createSlackFixture } from '../support/conformance/slack-fixture.js';

describeConformance('Slack channel', () => createSlackFixture({ target: 'channel' }));
describeConformance('Slack user group', () => createSlackFixture({ target: 'usergroup' }));
