/**
 * Checkpoints anchor the head of the audit chain outside MongoDB. While entries are written, AuditLog
 * hands the newest entry it wrote (seq and hash) to its witnesses at least every `checkpointEveryMs`
 * and on close. A witness is somewhere the database cannot rewrite: an append-only file in the data
 * directory (FileCheckpointWitness), the admins' audit channel in chat. verify() then reports entries
 * cut from the tail behind the newest checkpoint, and a chain rewritten behind any checkpoint.
 *
 * Each checkpoint carries a MAC under the chain key, so a line nobody with the key wrote is refused.
 */
import { open, appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from './canonical-json.js';
import { hmacHex, macEquals } from './chain-key.js';

/** Name of the checkpoint file in the data directory (LATCH_DATA_DIR). */
export const CHECKPOINT_FILE_NAME = 'audit-checkpoints.jsonl';
const LINE_VERSION = 1;
/** How much of the end of the file readRecent() looks at. */
const RECENT_BYTES = 64 * 1024;

export interface AuditCheckpoint {
  /** The MongoDB database whose log this is (one data directory may serve several). */
  database: string;
  /** The newest entry the writer had written, and its hash. */
  seq: number;
  hash: string;
  /** When the checkpoint was taken. */
  at: Date;
  /** HMAC-SHA256 under the chain key over the fields above (see checkpointMac). */
  mac: string;
}

export interface CheckpointWitness {
  /** For log messages and findings, e.g. the file's path. */
  readonly name: string;
  /** Records a checkpoint. A rejection is logged and the checkpoint is tried again next time. */
  record(cp: AuditCheckpoint): Promise<void>;
  /**
   * Witnesses that can be read back take part in verify(), and the newest of their checkpoints is a
   * floor for the next entry's number (a tail deleted from MongoDB is never reused). Unparsable lines
   * are returned as problems, not thrown.
   */
  read?(): Promise<WitnessedCheckpoint[]>;
  /** The most recent checkpoints only (cheap); read() when absent. */
  readRecent?(): Promise<WitnessedCheckpoint[]>;
}

export type WitnessedCheckpoint =
  | { where: string; checkpoint: AuditCheckpoint; problem?: undefined }
  | { where: string; checkpoint?: undefined; problem: string };

export function checkpointMac(key: Buffer, cp: Omit<AuditCheckpoint, 'mac'>): string {
  const body = canonicalJson({ database: cp.database, seq: cp.seq, hash: cp.hash, at: cp.at });
  // The prefix keeps a checkpoint MAC from ever being mistaken for an entry hash (always '{...').
  return hmacHex(key, `latch audit checkpoint v${LINE_VERSION}\n${body}`);
}

export function checkpointMacValid(key: Buffer, cp: AuditCheckpoint): boolean {
  return macEquals(checkpointMac(key, cp), cp.mac);
}

/** One JSON line: {"v":1,"database":…,"seq":…,"hash":…,"at":…,"mac":…}. */
export function checkpointLine(cp: AuditCheckpoint): string {
  return (
    JSON.stringify({
      v: LINE_VERSION,
      database: cp.database,
      seq: cp.seq,
      hash: cp.hash,
      at: cp.at.toISOString(),
      mac: cp.mac,
    }) + '\n'
  );
}

/** Parses one line of a checkpoint file; the MAC is checked by the reader, who holds the key. */
export function parseCheckpointLine(line: string): AuditCheckpoint | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return 'not JSON';
  }
  if (v === null || typeof v !== 'object') return 'not a checkpoint';
  const at = typeof v.at === 'string' ? new Date(v.at) : undefined;
  if (
    v.v !== LINE_VERSION ||
    typeof v.database !== 'string' ||
    !Number.isSafeInteger(v.seq) ||
    (v.seq as number) < 1 ||
    typeof v.hash !== 'string' ||
    typeof v.mac !== 'string' ||
    !at ||
    Number.isNaN(at.getTime())
  ) {
    return 'not a checkpoint';
  }
  return { database: v.database, seq: v.seq as number, hash: v.hash, at, mac: v.mac };
}

/**
 * A line for people, e.g. the audit channel: it carries what `npm run audit -- verify --checkpoint
 * SEQ:HASH` needs to check the log against it.
 */
export function formatCheckpoint(cp: AuditCheckpoint): string {
  return `Audit log checkpoint: entry ${cp.seq} has hash ${cp.hash} (check with: npm run audit -- verify --checkpoint ${cp.seq}:${cp.hash})`;
}

/** `SEQ:HASH`, as formatCheckpoint prints it; undefined when malformed. */
export function parseCheckpointArg(text: string): { seq: number; hash: string } | undefined {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!m) return undefined;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) && seq >= 1 ? { seq, hash: m[2]! } : undefined;
}

/**
 * An append-only JSONL file of checkpoints, by default `audit-checkpoints.jsonl` in the data directory.
 * Lines are appended with O_APPEND (several processes sharing a data directory interleave whole lines)
 * and the file is created readable by its owner only.
 */
export class FileCheckpointWitness implements CheckpointWitness {
  readonly name: string;

  constructor(readonly file: string) {
    this.name = `checkpoint file ${file}`;
  }

  /** The witness for a data directory. */
  static inDataDir(dataDir: string): FileCheckpointWitness {
    return new FileCheckpointWitness(path.resolve(dataDir, CHECKPOINT_FILE_NAME));
  }

  async record(cp: AuditCheckpoint): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await appendFile(this.file, checkpointLine(cp), { mode: 0o600 });
  }

  async read(): Promise<WitnessedCheckpoint[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return this.parseLines(text.split('\n'), 1);
  }

  async readRecent(): Promise<WitnessedCheckpoint[]> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    try {
      const { size } = await handle.stat();
      const start = Math.max(0, size - RECENT_BYTES);
      const buf = Buffer.alloc(size - start);
      await handle.read(buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split('\n');
      // Starting mid-file, the first piece is the end of a line we did not read whole.
      if (start > 0) lines.shift();
      return this.parseLines(lines, undefined);
    } finally {
      await handle.close();
    }
  }

  exists(): Promise<boolean> {
    return open(this.file, 'r').then(
      async (h) => {
        await h.close();
        return true;
      },
      () => false,
    );
  }

  private parseLines(lines: string[], firstLineNo: number | undefined): WitnessedCheckpoint[] {
    const out: WitnessedCheckpoint[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const where = firstLineNo === undefined ? this.file : `${this.file} line ${firstLineNo + i}`;
      const parsed = parseCheckpointLine(line);
      out.push(typeof parsed === 'string' ? { where, problem: parsed } : { where, checkpoint: parsed });
    });
    return out;
  }
}

/** The newest genuine checkpoint of `database` among `lines`. */
export function newestCheckpoint(
  key: Buffer,
  database: string,
  lines: WitnessedCheckpoint[],
): AuditCheckpoint | undefined {
  let newest: AuditCheckpoint | undefined;
  for (const { checkpoint: cp } of lines) {
    if (!cp || cp.database !== database || (newest && cp.seq <= newest.seq)) continue;
    if (checkpointMacValid(key, cp)) newest = cp;
  }
  return newest;
}
