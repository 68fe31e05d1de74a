/**
 * The admin connection and what the connector modules share. Every command goes through `acl()` /
 * `call()` with its arguments as separate items: ioredis sends each as its own RESP bulk string, so
 * no name, pattern or password is ever parsed as part of a command line.
 */
import { Redis } from 'ioredis';
import type { RedisConfig } from './config.js';

export interface RedisContext {
  config: RedisConfig;
  /** Permission name -> command rules (defaults merged with the configured ones). */
  permissions: Record<string, string[]>;
  redis: Redis;
  /** The ACL file ACL SAVE writes, or null when ACL changes live in memory only. */
  aclFile(): Promise<AclFile>;
}

export function connect(config: RedisConfig, password: string | undefined): Redis {
  const redis = new Redis({
    host: config.host,
    port: config.port,
    username: config.username,
    password,
    tls: config.tls ? {} : undefined,
    lazyConnect: true,
    connectTimeout: 10_000,
    // A revoke stuck on a dead connection must fail and be retried by the lifecycle.
    commandTimeout: 30_000,
    maxRetriesPerRequest: 1,
    // A command lost with a connection is not sent again behind our back: grant treats "maybe sent"
    // itself (it removes the user), and revoke is retried by the lifecycle.
    autoResendUnfulfilledCommands: false,
    // The ready check runs INFO; not needing it keeps the admin's rules small.
    enableReadyCheck: false,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // Errors reach the command that failed; without a listener ioredis prints each reconnect failure.
  redis.on('error', () => {});
  return redis;
}

/** ACL <subcommand> <args...>, each argument sent as itself. */
export const acl = (ctx: RedisContext, subcommand: string, ...args: string[]): Promise<unknown> =>
  ctx.redis.call('ACL', [subcommand, ...args]);

/**
 * Detects once whether the server keeps ACL users in a file (CONFIG GET aclfile). An admin without
 * +config|get is taken as "no file": ACL changes then live until the server restarts, as the
 * README says. A failed connection is not remembered, so the next call asks again.
 */
export function aclFileDetector(redis: Redis): () => Promise<AclFile> {
  let known: AclFile | undefined;
  return async () => {
    if (known !== undefined) return known;
    try {
      const reply = (await redis.call('CONFIG', ['GET', 'aclfile'])) as string[];
      known = { path: reply[1] ? reply[1] : null, refused: false };
    } catch (err) {
      if (!isReplyError(err)) throw err;
      known = { path: null, refused: true };
    }
    return known;
  };
}

/** `refused`: the admin may not run CONFIG GET, so whether there is a file is unknown. */
export interface AclFile {
  path: string | null;
  refused: boolean;
}

/** ACL SAVE when there is a file: without it a revoked user comes back when the server restarts. */
export async function saveAcl(ctx: RedisContext): Promise<void> {
  if ((await ctx.aclFile()).path !== null) await acl(ctx, 'SAVE');
}

/** An error the server answered with (as opposed to a connection or timeout error). */
export function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError';
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
