import type { HealthResult } from '../types.js';
import { acl, asError, type RedisContext } from './context.js';
import { describePermissions } from './access.js';

/**
 * Connects as Latch's user, and checks what grants need: ACL commands allowed, every permission's
 * rules known to this server. Never throws: a wrong password is a health result.
 */
export async function health(ctx: RedisContext): Promise<HealthResult> {
  const { host, port, username } = ctx.config;
  const where = `${username}@${host}:${port}`;
  try {
    const whoami = String(await acl(ctx, 'WHOAMI'));
    const { described } = await describePermissions(ctx);
    const refused = [...described].filter((e): e is [string, Error] => e[1] instanceof Error);
    if (refused.length > 0)
      return {
        ok: false,
        message: `${where}: the server refuses the rules of ${refused.map(([p, e]) => `${p} (${e.message})`).join('; ')}`,
      };
    const version = await serverVersion(ctx);
    const file = await ctx.aclFile();
    const persistence = file.path
      ? `ACL changes are saved to ${file.path}`
      : file.refused
        ? 'CONFIG GET aclfile refused: Latch does not run ACL SAVE, so ACL changes last until the server restarts'
        : 'no aclfile: ACL changes last until the server restarts';
    return { ok: true, message: `Redis ${version} at ${host}:${port} as ${whoami}; ${persistence}` };
  } catch (err) {
    return { ok: false, message: `${where}: ${asError(err).message}` };
  }
}

async function serverVersion(ctx: RedisContext): Promise<string> {
  try {
    const info = String(await ctx.redis.call('INFO', ['server']));
    return /redis_version:(\S+)/.exec(info)?.[1] ?? '(version unknown)';
  } catch {
    return '(version unknown: INFO not allowed)';
  }
}
