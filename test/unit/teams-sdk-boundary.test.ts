/**
 * Microsoft archived botbuilder (the Bot Framework SDK); keeping every import of it in one module
 * keeps the swap to its successor to that one file (src/channels/teams/adapter.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ADAPTER = 'src/channels/teams/adapter.ts';
const SDK_IMPORT =
  /\bfrom\s+['"](botbuilder|botframework-|@microsoft\/agents-)[^'"]*['"]|\b(?:import|require)\s*\(\s*['"](botbuilder|botframework-)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mts|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

describe('the Teams SDK boundary', () => {
  it('imports botbuilder only in the Teams adapter module', () => {
    const offenders = ['src', 'test', 'bench', 'blocks']
      .flatMap(sources)
      .filter((file) => file !== ADAPTER && SDK_IMPORT.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
    expect(SDK_IMPORT.test(readFileSync(ADAPTER, 'utf8'))).toBe(true);
  });
});
