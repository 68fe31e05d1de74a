/**
 * `npm ci` refuses a lockfile that lacks any package the tree needs, including other platforms'
 * optional bindings that this machine never installs. This walks the lockfile as npm's resolver
 * does, so a stale or platform-trimmed lockfile fails here and not on a user's fresh clone.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  link?: boolean;
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
};
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Where node would find `name` from the package installed at `from`: nearest node_modules upwards. */
function resolve(from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

describe('package-lock.json', () => {
  it('is a v3 lockfile whose root matches package.json', () => {
    expect(lock.lockfileVersion).toBe(3);
    const root = lock.packages[''] as LockEntry & { devDependencies?: Record<string, string> };
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
  });

  it('holds every dependency and every optional dependency of every package, for all platforms', () => {
    const missing: string[] = [];
    for (const [at, entry] of Object.entries(lock.packages)) {
      if (entry.link) continue;
      const wanted = { ...entry.dependencies, ...entry.optionalDependencies };
      for (const name of Object.keys(wanted)) {
        if (!resolve(at, name)) missing.push(`${at || '(root)'} -> ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
