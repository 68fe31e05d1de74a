/**
 * Connections to the directory: one bound connection per operation (a grant, a batch), closed when
 * it is done, so no connection outlives a password change or a server restart. Operations inside
 * one run concurrently on it (LDAP answers by message id).
 */
import type { ConnectionOptions } from 'node:tls';
import {
  Client,
  InvalidCredentialsError,
  NoSuchAttributeError,
  NoSuchObjectError,
  TypeOrValueExistsError,
  AlreadyExistsError,
  ObjectClassViolationError,
  type Entry,
} from 'ldapts';
import type { LdapConfig } from './config.js';

export interface LdapContext {
  config: LdapConfig;
  bindPassword: string | undefined;
}

/**
 * A PEM as pasted into a form often lost its line breaks (an input field drops them, YAML folds
 * them into spaces); each certificate is re-wrapped so TLS can read it.
 */
export function rewrapPem(text: string): string {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  if (blocks.length === 0) return text;
  return blocks
    .map(([, label, body]) => {
      const b64 = body!.replace(/\s+/g, '');
      const lines = b64.match(/.{1,64}/g) ?? [];
      return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
    })
    .join('');
}

function tlsOptions(config: LdapConfig): ConnectionOptions {
  return {
    rejectUnauthorized: config.tlsRejectUnauthorized,
    ...(config.tlsCA ? { ca: [rewrapPem(config.tlsCA)] } : {}),
  };
}

export async function withDirectory<T>(ctx: LdapContext, fn: (client: Client) => Promise<T>): Promise<T> {
  const { config } = ctx;
  if (!ctx.bindPassword) throw new Error(`LDAP integration has no bindPassword for ${config.bindDN}`);
  const secure = /^ldaps:/i.test(config.url);
  const client = new Client({
    url: config.url,
    timeout: config.timeoutMs,
    connectTimeout: config.timeoutMs,
    // ldapts goes TLS whenever tlsOptions are given, so only ldaps:// gets them here.
    ...(secure ? { tlsOptions: tlsOptions(config) } : {}),
  });
  try {
    if (config.startTLS) await client.startTLS(tlsOptions(config));
    try {
      await client.bind(config.bindDN, ctx.bindPassword);
    } catch (err) {
      if (err instanceof InvalidCredentialsError)
        throw new Error(`LDAP bind as ${config.bindDN} refused: invalid credentials`, { cause: err });
      throw err;
    }
    return await fn(client);
  } finally {
    await client.unbind().catch(() => {});
  }
}

/** The values of one attribute of an entry, as strings (ldapts gives a string or an array). */
export function valuesOf(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  if (!key) return [];
  const v = entry[key];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));
}

/** Adding a value that is there: OpenLDAP says attributeOrValueExists, Active Directory entryAlreadyExists. */
export const isAlreadyThere = (err: unknown): boolean =>
  err instanceof TypeOrValueExistsError || err instanceof AlreadyExistsError;

export const isNoSuchValue = (err: unknown): boolean => err instanceof NoSuchAttributeError;
export const isNoSuchObject = (err: unknown): boolean => err instanceof NoSuchObjectError;

/** A readable reason for a failed membership change, with the case admins meet first spelled out. */
export function explain(err: unknown, action: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ObjectClassViolationError)
    return new Error(
      `${action}: ${message} (a groupOfNames must keep one member: give the group a placeholder member ` +
        'and list it in ignoreMembers)',
      { cause: err },
    );
  if (err instanceof NoSuchObjectError)
    return new Error(`${action}: the group does not exist (${message})`, { cause: err });
  return new Error(`${action}: ${message}`, { cause: err });
}
