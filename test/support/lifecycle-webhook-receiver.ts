/**
 * A customer's webhook endpoint for tests: real HTTPS on loopback with a certificate of a test CA
 * made here with the openssl CLI (Latch gets the CA as `webhooks.ca`, as NODE_EXTRA_CA_CERTS would
 * give it to a process). It checks every signature as a receiver should (signatureProblem) and
 * answers what the test says: a status, with headers, or the default 200.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SIGNATURE_HEADER, signatureProblem } from '../../src/webhooks/signing.js';

export interface ReceivedHook {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
  /** Why the signature was refused with the receiver's current secret; null when good. */
  signature: string | null;
  /** The status it was answered with. */
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

export interface WebhookReceiver {
  url: string;
  /** PEM of the CA that issued the receiver's certificate. */
  ca: string;
  received: ReceivedHook[];
  /** The secret signatures are checked with. */
  secret: string;
  /** Answers for the next requests, in order; then 200. */
  answerNext(...answers: Answer[]): void;
  /** Only those with a good signature, as a receiver would accept them. */
  accepted(): ReceivedHook[];
  close(): Promise<void>;
}

let material: { ca: string; key: string; cert: string } | undefined;

/** A CA and a certificate it issued for localhost and 127.0.0.1, made once per test file. */
export function testCertificates(): { ca: string; key: string; cert: string } {
  if (material) return material;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-webhook-tls-'));
  const at = (f: string) => path.join(dir, f);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Latch test CA',
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.pem'),
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    at('key.pem'),
    '-out',
    at('csr.pem'),
  );
  writeFileSync(at('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    at('csr.pem'),
    '-CA',
    at('ca.pem'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    at('ext.cnf'),
    '-out',
    at('cert.pem'),
  );
  material = {
    ca: readFileSync(at('ca.pem'), 'utf8'),
    key: readFileSync(at('key.pem'), 'utf8'),
    cert: readFileSync(at('cert.pem'), 'utf8'),
  };
  return material;
}

export async function startWebhookReceiver(secret = ''): Promise<WebhookReceiver> {
  const tls = testCertificates();
  const answers: Answer[] = [];
  const received: ReceivedHook[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    ca: tls.ca,
    received,
    secret,
    answerNext: (...a) => void answers.push(...a),
    accepted: () => received.filter((r) => r.signature === null),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const header = req.headers[SIGNATURE_HEADER.toLowerCase()];
      const answer = answers.shift() ?? { status: 200 };
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
        signature: signatureProblem(receiver.secret, typeof header === 'string' ? header : undefined, body),
        status: answer.status,
      });
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  receiver.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/latch`;
  return receiver;
}
