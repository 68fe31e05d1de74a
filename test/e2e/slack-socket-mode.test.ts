/**
 * Socket Mode (SLACK_APP_TOKEN): the app opens its connection through SLACK_API_URL, takes
 * envelopes over the WebSocket and acknowledges them with the same payloads HTTP would return.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK } from '../../blocks/slack/ids.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { startSocketModeServer, type SocketModeServer } from '../support/socket-mode-server.js';

let h: SlackHarness;
let ws: SocketModeServer;

beforeAll(async () => {
  ws = await startSocketModeServer();
  h = await startSlackHarness('slack_socket', {
    slack: { appToken: 'xapp-1-test', signingSecret: undefined },
    beforeStart: (standIn) => standIn.setSocketModeUrl(ws.url),
  });
  h.standIn.addUser({ id: 'U0ALICE', email: 'alice@example.com' });
  await ws.connected();
});

afterAll(async () => {
  await h?.close();
  await ws?.close();
});

describe('Socket Mode', () => {
  it('serves /access over the WebSocket and answers an options request in the ack', async () => {
    expect(h.slack.routes).toBeUndefined();
    expect(h.standIn.calls('apps.connections.open')[0]?.token).toBe('xapp-1-test');
    const mark = h.standIn.mark();
    const ack = await ws.send('slash_commands', {
      token: 'x',
      team_id: 'T0LATCH',
      team_domain: 'latch',
      channel_id: 'D0ALICE',
      user_id: 'U0ALICE',
      user_name: 'alice',
      command: '/access',
      text: '',
      api_app_id: 'A0LATCH',
      response_url: h.standIn.hooksUrl + 'commands/1',
      trigger_id: '1111.2222.socket',
    });
    expect(ack).toHaveProperty('envelope_id');
    const opened = await h.standIn.waitForCall('views.open', (a) => a.trigger_id === '1111.2222.socket', {
      after: mark,
    });
    expect(opened.token).toBe('xoxb-test-latch');
    await h.standIn.waitForCall('views.update', undefined, { after: mark });

    const options = await ws.send('interactive', {
      type: 'block_suggestion',
      user: { id: 'U0ALICE', team_id: 'T0LATCH' },
      team: { id: 'T0LATCH' },
      api_app_id: 'A0LATCH',
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: '',
    });
    expect(options.payload).toEqual({ options: [] });
  });
});
