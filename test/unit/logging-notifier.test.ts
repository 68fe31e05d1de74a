import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LoggingNotifier } from '../../src/lifecycle/logging-notifier.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';

const request: RequestView = {
  id: 'AR-1001',
  number: 1001,
  requester: { id: 'alice@example.com', email: 'alice@example.com', groups: [] },
  flowId: 'f',
  flowName: 'Billing read',
  viaFallback: false,
  targets: [
    {
      integration: 'pg',
      resourceId: 'db:app',
      resourceName: 'app',
      permission: 'read',
      grantState: 'active',
    },
  ],
  durationMinutes: 60,
  justification: '',
  source: 'api',
  state: 'active',
  version: 3,
  step: 0,
  stepCount: 0,
  approvals: [],
  extensionCount: 0,
};

describe('the logging notifier', () => {
  it('logs that access was granted without ever printing the credentials', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += String(chunk);
        cb();
      },
    });
    const notifier = new LoggingNotifier(pino({ level: 'info' }, sink));
    await notifier.notify({
      type: 'access.granted',
      request,
      credentials: [
        { resourceName: 'app', permission: 'read', values: { username: 'latch_x', password: 's3cr3t-pw' } },
      ],
    });
    expect(out).toContain('AR-1001');
    expect(out).toContain('access granted');
    expect(out).not.toContain('s3cr3t-pw');
  });
});
