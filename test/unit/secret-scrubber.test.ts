import { afterEach, describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { boltLogEntry as describeBoltLog } from '../../src/channels/slack/bolt-logger.js';
import { createLogger } from '../../src/logger.js';
import {
  clearSecrets,
  MAX_SECRETS,
  REDACTED,
  registerSecret,
  registerSecrets,
  scrub,
  secretCount,
} from '../../src/secret-scrubber.js';

afterEach(() => clearSecrets());

describe('secret scrubber', () => {
  it('replaces every occurrence of a registered secret', () => {
    registerSecret('s3cr3t-Password_123');
    expect(scrub('{"msg":"pw s3cr3t-Password_123 and again s3cr3t-Password_123"}')).toBe(
      `{"msg":"pw ${REDACTED} and again ${REDACTED}"}`,
    );
  });

  it('finds a secret as JSON escapes it, once or twice, and URL-encoded', () => {
    const secret = 'a"b\\c+d/e=f';
    registerSecret(secret);
    const once = JSON.stringify({ msg: `x ${secret} y` });
    const twice = JSON.stringify({ msg: `body: ${JSON.stringify({ view: secret })}` });
    const form = `token=1&password=${encodeURIComponent(secret)}`;
    for (const line of [once, twice, form]) {
      expect(scrub(line)).not.toContain('c+d/e=f');
      expect(scrub(line)).toContain(REDACTED);
    }
  });

  it('masks a longer secret whole when a shorter one is inside it', () => {
    registerSecrets('abcdefgh', 'abcdefgh-and-more');
    expect(scrub('x abcdefgh-and-more y')).toBe(`x ${REDACTED} y`);
  });

  it('ignores short, empty and missing values so common words are never masked', () => {
    registerSecrets('admin', '', undefined, null, 'seven77');
    expect(secretCount()).toBe(0);
    expect(scrub('admin seven77')).toBe('admin seven77');
  });

  it('masks Slack token shapes whether registered or not', () => {
    const line = [
      'xoxb-1234-5678-abcdEFGH',
      'xoxp-1-2-3-abc',
      'xoxa-2-x',
      'xoxr-y-z',
      'xoxs-1-a',
      'xapp-1-A0LATCH-123-abcdef',
      'xoxe.xoxb-1-Mi0y',
      'Bearer xoxb-9-zz',
    ].join(' ');
    const out = scrub(line);
    expect(out).not.toMatch(/xox[a-z]-[A-Za-z0-9]|xapp-[A-Za-z0-9]/);
    expect(out).toContain(`xoxb-${REDACTED}`);
    expect(out).toContain(`xapp-${REDACTED}`);
    expect(scrub('the xoxb- prefix and a sandbox-1 name')).toBe('the xoxb- prefix and a sandbox-1 name');
  });

  it('keeps at most MAX_SECRETS, dropping the oldest', () => {
    const values = Array.from({ length: MAX_SECRETS + 1 }, (_, i) => `secret-value-${i}`);
    registerSecrets(...values);
    expect(secretCount()).toBe(MAX_SECRETS);
    expect(scrub('secret-value-0!')).toBe('secret-value-0!');
    expect(scrub(`${values.at(-1)}!`)).toBe(`${REDACTED}!`);
  });

  it("is applied to every line Latch's logger writes, at every level", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('trace', sink);
    registerSecret('generated-password-1234');
    log.trace(
      { note: 'creds generated-password-1234' },
      'http request body: {"pw":"generated-password-1234"}',
    );
    expect(lines.join('')).not.toContain('generated-password-1234');
    expect(lines.join('')).toContain(REDACTED);
  });
});

describe('Bolt and Web API log messages', () => {
  it('keep only the method name of a Web API call and the status of its result', () => {
    expect(describeBoltLog([`apiCall('views.open') start`])).toEqual({
      fields: { slackMethod: 'views.open' },
      msg: 'slack api call start',
    });
    expect(
      describeBoltLog(['http request result: {"ok":false,"error":"invalid_blocks","view":{"text":"pw"}}']),
    ).toEqual({ fields: { ok: false, error: 'invalid_blocks' }, msg: 'slack api result' });
    expect(describeBoltLog(['http request body: {"view":{"text":"pw"}}'])).toBeUndefined();
    expect(describeBoltLog(['http request headers: {"Authorization":"[[REDACTED]]"}'])).toBeUndefined();
  });

  it('cut serialized data out of any other text, and drop objects', () => {
    const socket = describeBoltLog(['Received a message on the WebSocket: {"envelope_id":"1","payload":{}}']);
    expect(socket?.msg).toBe('Received a message on the WebSocket: [data omitted]');
    expect(describeBoltLog([JSON.stringify({ token: 'x', view: {} })])?.msg).toBe('[data omitted]');
    expect(describeBoltLog(['form payload=%7B%22view%22%3A1%7D'])?.msg).toBe('form payload=[data omitted]');
    expect(describeBoltLog(['state', { password: 'pw-123456789' }])?.msg).toBe('state [data omitted]');
  });

  it('keep warnings and errors readable, without the fields an error carries', () => {
    expect(describeBoltLog(['http request failed', 'connect ECONNREFUSED 127.0.0.1:1'])?.msg).toBe(
      'http request failed connect ECONNREFUSED 127.0.0.1:1',
    );
    const err = Object.assign(new Error('An HTTP protocol error occurred: statusCode = 500'), {
      code: 'slack_webapi_http_error',
      body: '{"view":"secret"}',
    });
    const entry = describeBoltLog([err])!;
    expect(entry.fields.err).toEqual({
      type: 'Error',
      message: 'An HTTP protocol error occurred: statusCode = 500',
      code: 'slack_webapi_http_error',
    });
    expect(JSON.stringify(entry)).not.toContain('secret');
  });
});
