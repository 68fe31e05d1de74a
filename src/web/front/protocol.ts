/** What the front's thread and the main thread agree on (no imports: the thread loads it alone). */

/** workerData of the front's thread. */
export interface FrontData {
  /** The public port (0: any free one) and host. */
  port: number;
  host?: string;
  /** Latch's own HTTP server, on 127.0.0.1, that everything is forwarded to. */
  backendPort: number;
  /** Slack slash commands arriving here with a good signature are answered by the front itself. */
  slack?: { path: string; signingSecret: string };
}

export type FrontMessage =
  | { type: 'listening'; port: number }
  /** A slash command the front has acknowledged, handed over as it came. */
  | { type: 'command'; headers: Record<string, string | string[] | undefined>; body: Uint8Array }
  | { type: 'failed'; error: string }
  | { type: 'log'; level: 'warn' | 'error'; msg: string; detail?: Record<string, unknown> }
  | { type: 'closed' };

export type ToFront = { type: 'close'; graceMs: number };
