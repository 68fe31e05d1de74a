/**
 * Admin command line for the audit log:
 *   npm run audit -- verify [--checkpoints FILE] [--checkpoint SEQ:HASH]...
 *   npm run audit -- export [--from ISO] [--to ISO] > audit.jsonl
 * Uses MONGODB_URI, or the embedded database of a running `npm start` (its address is in the data dir).
 *
 * verify needs the audit chain key, found as Latch finds it: LATCH_AUDIT_KEY, else LATCH_ENCRYPTION_KEY,
 * else the development key file in LATCH_DATA_DIR. It checks the log against the checkpoint file in
 * LATCH_DATA_DIR (or --checkpoints FILE) and against checkpoints copied from the audit channel
 * (--checkpoint SEQ:HASH), prints one line per finding and exits 1 if there is any, 0 if intact, 2 if
 * the log could not be checked (no key, no database, bad arguments).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog, type AuditFinding, type TrustedCheckpoint } from '../audit/audit-log.js';
import { auditKeyFromEnvironment } from '../audit/chain-key.js';
import { FileCheckpointWitness, parseCheckpointArg } from '../audit/checkpoints.js';
import { connectDatabase } from '../store/db.js';
import { EMBEDDED_URI_FILE } from '../store/embedded-mongo.js';

const USAGE =
  'usage: npm run audit -- verify [--checkpoints FILE] [--checkpoint SEQ:HASH]...\n' +
  '       npm run audit -- export [--from ISO-DATE] [--to ISO-DATE]';

/** A problem with how the command was run: message, exit code 2. */
class UsageError extends Error {}

interface Args {
  command: 'verify' | 'export';
  checkpointsFile?: string;
  trusted: TrustedCheckpoint[];
  from?: Date;
  to?: Date;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const dataDir = path.resolve(process.env.LATCH_DATA_DIR ?? '.latch');
  // Export writes entries as stored and needs no key; verify cannot do without it.
  const key = args.command === 'verify' ? auditKeyFromEnvironment(process.env, dataDir) : randomBytes(32);
  const witness = args.checkpointsFile
    ? new FileCheckpointWitness(path.resolve(args.checkpointsFile))
    : FileCheckpointWitness.inDataDir(dataDir);
  if (args.command === 'verify' && !(await witness.exists())) {
    if (args.checkpointsFile) throw new UsageError(`no checkpoint file at ${witness.file}`);
    console.error(
      `note: no checkpoint file at ${witness.file}; entries cut from the end of the log cannot be detected ` +
        `without one (set LATCH_DATA_DIR, or --checkpoints FILE)`,
    );
  }

  const uri = process.env.MONGODB_URI ?? embeddedUri(dataDir);
  if (!uri)
    throw new UsageError('Set MONGODB_URI, or start Latch (npm start) so its embedded database is running.');
  const db = await connectDatabase(uri);
  try {
    const audit = new AuditLog(db.conn, key);
    if (args.command === 'export') {
      const n = await audit.exportJsonl(process.stdout, { from: args.from, to: args.to });
      console.error(`${n} entries exported`);
      return 0;
    }
    const r = await audit.verify({ checkpoints: await witness.read(), trusted: args.trusted });
    const against =
      r.newestCheckpoint === undefined
        ? 'no checkpoints'
        : `${r.checkpoints} checkpoint(s), the newest at entry ${r.newestCheckpoint}`;
    if (r.ok) {
      console.log(`audit log intact: ${r.checked} entries verified (newest ${r.newest}; against ${against})`);
      return 0;
    }
    for (const f of r.findings) console.error(findingLine(f));
    console.error(
      `${r.findings.length} finding(s); ${r.checked} entries read (newest ${r.newest}), against ${against}`,
    );
    return 1;
  } finally {
    await db.close();
  }
}

function findingLine(f: AuditFinding): string {
  return f.seq === undefined
    ? `audit log TAMPERED: ${f.message}`
    : `audit log TAMPERED at entry ${f.seq}: ${f.message}`;
}

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'verify' && command !== 'export') throw new UsageError(USAGE);
  const args: Args = { command, trusted: [] };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const value = rest[i + 1];
    const allowed = command === 'verify' ? ['--checkpoints', '--checkpoint'] : ['--from', '--to'];
    if (!allowed.includes(flag)) throw new UsageError(`unknown argument ${flag}\n${USAGE}`);
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    i++;
    if (flag === '--checkpoints') args.checkpointsFile = value;
    else if (flag === '--checkpoint') {
      const cp = parseCheckpointArg(value);
      if (!cp) throw new UsageError('--checkpoint needs SEQ:HASH, e.g. 1042:<64 hex digits>');
      args.trusted.push({ ...cp, where: `--checkpoint ${cp.seq}:${cp.hash.slice(0, 12)}…` });
    } else {
      const d = new Date(value);
      if (Number.isNaN(d.getTime())) throw new UsageError(`${flag} needs an ISO date, e.g. 2026-11-01`);
      if (flag === '--from') args.from = d;
      else args.to = d;
    }
  }
  return args;
}

function embeddedUri(dataDir: string): string | undefined {
  const file = path.join(dataDir, EMBEDDED_URI_FILE);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // One line, never a stack trace (and never a key: no message here carries one).
    console.error(err instanceof Error ? err.message : String(err));
    // 2, not 1: the log could not be checked, which is not a finding.
    process.exit(2);
  },
);
