/**
 * ACL rules as Latch writes them (ACL SETUSER arguments, one rule per argument, never a command
 * string) and ACL LIST lines as Redis writes them back.
 */
import type { RedisResource } from './config.js';

/**
 * The rules of a grant's user. `reset` first makes a retried grant exact whatever the user had;
 * `resetchannels` again because `reset` gives all channels where acl-pubsub-default allows them.
 */
export function grantRules(password: string, resource: RedisResource, commandRules: string[]): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    'resetchannels',
    ...resource.keys.map((k) => `~${k}`),
    ...resource.channels.map((c) => `&${c}`),
    ...commandRules,
  ];
}

export interface AclUser {
  name: string;
  on: boolean;
  /** Key patterns of the root selector, whatever their read/write marking (`%R~`). */
  keys: string[];
  channels: string[];
  /** The command rules as Redis describes them (its own order and expansion). */
  commands: string;
}

/** One `ACL LIST` line: `user <name> <rule> <rule>...`; selectors `(...)` are skipped. */
export function parseAclLine(line: string): AclUser | null {
  const tokens = line.split(' ');
  if (tokens[0] !== 'user' || !tokens[1]) return null;
  const user: AclUser = { name: tokens[1], on: false, keys: [], channels: [], commands: '' };
  const commands: string[] = [];
  let depth = 0;
  for (const t of tokens.slice(2)) {
    if (depth > 0 || t.startsWith('(')) {
      depth += (t.match(/\(/g)?.length ?? 0) - (t.match(/\)/g)?.length ?? 0);
      continue;
    }
    if (t === 'on') user.on = true;
    else if (t === 'off') user.on = false;
    else if (t.startsWith('~')) user.keys.push(t.slice(1));
    else if (/^%[RW]+~/.test(t)) user.keys.push(t.slice(t.indexOf('~') + 1));
    else if (t.startsWith('&')) user.channels.push(t.slice(1));
    else if (t.startsWith('+') || t.startsWith('-')) commands.push(t);
  }
  user.commands = commands.join(' ');
  return user;
}

const sameSet = (a: string[], b: string[]) => {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
};

/** A user Latch made for `resource` has exactly its keys and channels. */
export const madeFor = (user: AclUser, resource: RedisResource): boolean =>
  sameSet(user.keys, resource.keys) && sameSet(user.channels, resource.channels);

/**
 * A user made by hand reaches `resource` when it has every one of its key and channel patterns,
 * or all keys (`~*`) / all channels (`&*`).
 */
export function reaches(user: AclUser, resource: RedisResource): boolean {
  const covers = (held: string[], wanted: string[]) =>
    held.includes('*') || wanted.every((w) => held.includes(w));
  return covers(user.keys, resource.keys) && covers(user.channels, resource.channels);
}
