/**
 * Admin command line for the audit log:
 *   npm run audit -- verify                     checks the whole hash chain
 *   npm run audit -- export [--from ISO] [--to ISO] > audit.jsonl
 * Uses MONGODB_URI, or the embedded database of a running `npm start` (its address is in the data dir).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog } from '../audit/audit-log.js';
import { connectDatabase } from '../store/db.js';
import { EMBEDDED_URI_FILE } from '../store/embedded-mongo.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'verify' && command !== 'export') {
    console.error('usage: npm run audit -- verify | export [--from ISO-DATE] [--to ISO-DATE]');
    return 2;
  }
  const uri = process.env.MONGODB_URI ?? embeddedUri();
  if (!uri) {
    console.error('Set MONGODB_URI, or start Latch (npm start) so its embedded database is running.');
    return 2;
  }
  const db = await connectDatabase(uri);
  try {
    const audit = new AuditLog(db.conn);
    if (command === 'verify') {
      const r = await audit.verify();
      if (r.ok) {
        console.log(`audit log intact: ${r.checked} entries verified`);
        return 0;
      }
      console.error(
        `audit log TAMPERED at entry ${r.seq}: ${r.reason} (${r.checked} entries before it verified)`,
      );
      return 1;
    }
    const from = dateFlag(rest, '--from');
    const to = dateFlag(rest, '--to');
    const n = await audit.exportJsonl(process.stdout, { from, to });
    console.error(`${n} entries exported`);
    return 0;
  } finally {
    await db.close();
  }
}

function embeddedUri(): string | undefined {
  const file = path.join(path.resolve(process.env.LATCH_DATA_DIR ?? '.latch'), EMBEDDED_URI_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function dateFlag(args: string[], flag: string): Date | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const d = new Date(args[i + 1] ?? '');
  if (Number.isNaN(d.getTime())) throw new Error(`${flag} needs an ISO date, e.g. 2026-11-01`);
  return d;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
