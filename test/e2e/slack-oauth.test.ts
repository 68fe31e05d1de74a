/**
 * Multi-workspace install through OAuth: /slack/install sends the admin to Slack's consent page,
 * the redirect stores the installation (tokens sealed) in MongoDB, and deliveries from that
 * workspace are then answered with its own bot token.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';
import { SlackDriver } from '../support/slack-driver.js';

let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness('slack_oauth', {
    slack: {
      botToken: undefined,
      oauth: { clientId: '111.222', clientSecret: 'client-secret', stateSecret: 'state-secret' },
    },
  });
  h.standIn.addToken('xoxb-other-team', { teamId: 'T0OTHER', botUserId: 'UBOT2', botId: 'BBOT2' });
  h.standIn.addUser({ id: 'U0ZED', teamId: 'T0OTHER', email: 'zed@other.example' });
  h.standIn.setOAuthResponse(
    'code-123',
    {
      ok: true,
      app_id: 'A0LATCH',
      authed_user: { id: 'U0ZED' },
      scope: 'commands,chat:write',
      token_type: 'bot',
      access_token: 'xoxb-other-team',
      bot_user_id: 'UBOT2',
      team: { id: 'T0OTHER', name: 'Other' },
      enterprise: null,
      is_enterprise_install: false,
    },
    { clientId: '111.222', clientSecret: 'client-secret' },
  );
});

afterAll(async () => {
  await h?.close();
});

describe('OAuth install', () => {
  it('installs into a workspace and then serves it with that workspace token', async () => {
    const install = await fetch(`${h.baseUrl}/slack/install`, { redirect: 'manual' });
    expect(install.status).toBe(302);
    const location = new URL(install.headers.get('location')!);
    expect(location.pathname).toBe('/oauth/v2/authorize');
    expect(location.searchParams.get('client_id')).toBe('111.222');
    expect(location.searchParams.get('scope')).toContain('commands');
    const state = location.searchParams.get('state')!;
    const cookie = install.headers.get('set-cookie')!.split(';')[0]!;

    // A redirect without the browser's state cookie is refused (CSRF).
    const forged = await fetch(`${h.baseUrl}/slack/oauth_redirect?code=code-123&state=${state}`, {
      redirect: 'manual',
    });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(await h.slack.deps.m.Installation.countDocuments()).toBe(0);

    const done = await fetch(
      `${h.baseUrl}/slack/oauth_redirect?code=code-123&state=${encodeURIComponent(state)}`,
      {
        headers: { cookie },
        redirect: 'manual',
      },
    );
    expect(done.status).toBe(200);
    const stored = await h.slack.deps.m.Installation.findById('T0OTHER').lean();
    expect(stored).not.toBeNull();
    expect(JSON.stringify(stored)).not.toContain('xoxb-other-team');

    // A slash command from the new workspace is answered through its own token.
    const other = new SlackDriver({
      url: `${h.baseUrl}/slack/events`,
      signingSecret: 'test-signing-secret',
      teamId: 'T0OTHER',
      responseUrlBase: h.standIn.hooksUrl,
    });
    const mark = h.standIn.mark();
    const res = await other.command({ id: 'U0ZED', name: 'zed', teamId: 'T0OTHER' }, '/access', '');
    expect(res.status).toBe(200);
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(opened.token).toBe('xoxb-other-team');
    const info = await h.standIn.waitForCall('users.info', (a) => a.user === 'U0ZED', { after: mark });
    expect(info.token).toBe('xoxb-other-team');
    const filled = await h.standIn.waitForCall('views.update', undefined, { after: mark });
    expect(filled.token).toBe('xoxb-other-team');

    // Uninstalling forgets the workspace and its tokens.
    const gone = await other.event({ type: 'app_uninstalled' });
    expect(gone.status).toBe(200);
    for (let i = 0; i < 50 && (await h.slack.deps.m.Installation.countDocuments()) > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await h.slack.deps.m.Installation.countDocuments()).toBe(0);
  });
});
