/**
 * Verification of the audit chain with the chain key, against checkpoints kept outside MongoDB.
 *
 * Findings, in seq order:
 * - altered: an entry whose hash does not verify with the key, at a position that was genuinely
 *   written (a genuine entry or a checkpoint comes after it). A run of such entries (the chain after an
 *   edit recomputed without the key) is one finding naming its first entry.
 * - forged: entries whose hash does not verify and after which nothing genuine was written (appended
 *   after the head).
 * - removed: a gap in seq. Numbers are never reused, so a tail cut and written after stays visible.
 * - tail cut: the newest stored entry is older than the newest checkpoint.
 * - rewritten: a stored entry's hash differs from a checkpoint of its seq.
 * - broken link: a genuine entry whose prevHash is not the previous entry's hash.
 * - bad checkpoint: a checkpoint line that does not parse or whose MAC does not verify.
 */
import { macEquals } from './chain-key.js';
import { checkpointMacValid, type WitnessedCheckpoint } from './checkpoints.js';
import { GENESIS_HASH, safeEntryHash } from './entry-hash.js';
import type { StoredAuditEntry } from './model.js';

export type AuditFindingKind =
  'altered' | 'forged' | 'removed' | 'tail cut' | 'rewritten' | 'broken link' | 'bad checkpoint';

export interface AuditFinding {
  kind: AuditFindingKind;
  /** First entry concerned; absent for a bad checkpoint line. */
  seq?: number;
  /** Last entry concerned, for ranges. */
  to?: number;
  /** One line for people, e.g. "entries 4..5 were removed; the newest checkpoint is at 5". */
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries read. */
  checked: number;
  /** Highest seq stored (0 for an empty log). */
  newest: number;
  /** Checkpoints of this database the log was checked against. */
  checkpoints: number;
  newestCheckpoint?: number;
  /** Empty when ok; ordered by seq. */
  findings: AuditFinding[];
}

/** A checkpoint taken on trust (e.g. copied from the audit channel): seq and hash, no MAC. */
export interface TrustedCheckpoint {
  seq: number;
  hash: string;
  /** Where it came from, for the finding's message. */
  where: string;
}

export async function verifyChain(
  entries: AsyncIterable<StoredAuditEntry>,
  opts: {
    key: Buffer;
    database: string;
    witnessed?: WitnessedCheckpoint[];
    trusted?: TrustedCheckpoint[];
    /** The highest seq the log says it ever wrote (audit_meta): a second, weaker tail witness. */
    highWater?: number;
  },
): Promise<VerifyResult> {
  const findings: AuditFinding[] = [];
  const bySeq = new Map<number, TrustedCheckpoint[]>();
  let newestCheckpoint: number | undefined;
  let checkpoints = 0;
  const addCheckpoint = (cp: TrustedCheckpoint) => {
    checkpoints++;
    bySeq.set(cp.seq, [...(bySeq.get(cp.seq) ?? []), cp]);
    newestCheckpoint = Math.max(newestCheckpoint ?? 0, cp.seq);
  };
  for (const w of opts.witnessed ?? []) {
    if (w.problem !== undefined) {
      findings.push({ kind: 'bad checkpoint', message: `${w.where} is not a checkpoint (${w.problem})` });
    } else if (!checkpointMacValid(opts.key, w.checkpoint)) {
      findings.push({
        kind: 'bad checkpoint',
        message: `${w.where}: the checkpoint of entry ${w.checkpoint.seq} is not genuine (its MAC does not verify with the audit key)`,
      });
    } else if (w.checkpoint.database === opts.database) {
      addCheckpoint({
        seq: w.checkpoint.seq,
        hash: w.checkpoint.hash,
        where: `${w.where} (taken ${w.checkpoint.at.toISOString()})`,
      });
    }
  }
  for (const t of opts.trusted ?? []) addCheckpoint(t);

  let expected = 1;
  let checked = 0;
  let lastGenuine = 0;
  let prev: { seq: number; hash: string; genuine: boolean } | undefined;
  const badRuns: { from: number; to: number }[] = [];

  for await (const e of entries) {
    checked++;
    // Only possible with the unique index dropped, or a seq that is not a whole number.
    if (!Number.isSafeInteger(e.seq) || e.seq < expected) {
      findings.push({
        kind: 'forged',
        seq: Math.max(1, Math.floor(Number(e.seq)) || 1),
        message: Number.isSafeInteger(e.seq)
          ? `entry ${e.seq} appears more than once`
          : `an entry numbered ${JSON.stringify(e.seq)} is forged (not a whole number)`,
      });
      continue;
    }
    if (e.seq > expected) {
      findings.push({
        kind: 'removed',
        seq: expected,
        to: e.seq - 1,
        message: `${range(expected, e.seq - 1)} removed`,
      });
    }
    const genuine = macEquals(safeEntryHash(opts.key, e) ?? '', e.hash);
    if (!genuine) {
      const run = badRuns.at(-1);
      if (run && run.to === e.seq - 1) run.to = e.seq;
      else badRuns.push({ from: e.seq, to: e.seq });
    } else {
      lastGenuine = e.seq;
      // After a gap or an entry that is itself bad, the link says nothing more than those findings.
      const brokenFirst = e.seq === 1 && e.prevHash !== GENESIS_HASH;
      const brokenLink = prev?.seq === e.seq - 1 && prev.genuine && e.prevHash !== prev.hash;
      if (brokenFirst || brokenLink) {
        findings.push({
          kind: 'broken link',
          seq: e.seq,
          message: `entry ${e.seq} does not link to ${e.seq === 1 ? 'the start of the log' : `entry ${e.seq - 1}`} (its prevHash differs)`,
        });
      }
    }
    for (const cp of bySeq.get(e.seq) ?? []) {
      if (!macEquals(cp.hash, e.hash)) {
        findings.push({
          kind: 'rewritten',
          seq: e.seq,
          message: `entry ${e.seq} differs from the checkpoint in ${cp.where}: the chain was rewritten at or before entry ${e.seq}`,
        });
      }
    }
    prev = { seq: e.seq, hash: String(e.hash), genuine };
    expected = e.seq + 1;
  }

  const newest = prev?.seq ?? 0;
  for (const run of badRuns) {
    const later = run.to === run.from ? '' : `, nor do entries ${run.from + 1}..${run.to} after it`;
    // A genuine entry or a checkpoint after it: the position was written by Latch, then changed.
    if (lastGenuine > run.to || (newestCheckpoint ?? 0) >= run.from) {
      findings.push({
        kind: 'altered',
        seq: run.from,
        to: run.to,
        message: `entry ${run.from} was altered: its hash does not verify with the audit key${later}`,
      });
    } else {
      findings.push({
        kind: 'forged',
        seq: run.from,
        to: run.to,
        // Past the last genuine entry and the newest checkpoint nothing tells an edited last entry from
        // an appended one; appended is what a forger without the key does.
        message:
          run.from === run.to
            ? `entry ${run.from} is forged: its hash does not verify with the audit key, and no genuine entry or checkpoint comes after it`
            : `entries ${run.from}..${run.to} are forged: their hashes do not verify with the audit key, and no genuine entry or checkpoint comes after them`,
      });
    }
  }
  if (newestCheckpoint !== undefined && newestCheckpoint > newest) {
    findings.push({
      kind: 'tail cut',
      seq: newest + 1,
      to: newestCheckpoint,
      message: `${range(newest + 1, newestCheckpoint)} removed; the newest checkpoint is at ${newestCheckpoint}`,
    });
  } else if (opts.highWater !== undefined && opts.highWater > newest) {
    findings.push({
      kind: 'tail cut',
      seq: newest + 1,
      to: opts.highWater,
      message: `${range(newest + 1, opts.highWater)} removed; the log's high-water mark (${opts.highWater}) is past the newest entry`,
    });
  }

  findings.sort((a, b) => (a.seq ?? Number.MAX_SAFE_INTEGER) - (b.seq ?? Number.MAX_SAFE_INTEGER));
  return { ok: findings.length === 0, checked, newest, checkpoints, newestCheckpoint, findings };
}

function range(from: number, to: number): string {
  return from === to ? `entry ${from} was` : `entries ${from}..${to} were`;
}
