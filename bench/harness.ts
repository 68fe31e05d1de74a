/** What every benchmark shares: progress lines on stderr, and clean-up that runs whatever happens. */
export const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

export type Stops = Array<[string, () => Promise<unknown>]>;

/**
 * Runs a benchmark, then stops what it started (last started, first stopped) and exits: 1 if the
 * run threw, returned 1, or something failed to stop; 0 otherwise.
 */
export async function runThenStop(run: (stops: Stops) => Promise<number | void>): Promise<never> {
  const stops: Stops = [];
  let exitCode: number;
  try {
    exitCode = (await run(stops)) ?? 0;
  } catch (err) {
    console.error(err);
    exitCode = 1;
  } finally {
    for (const [what, stop] of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        progress(`stopping ${what} failed: ${String(err)}`);
        exitCode = 1;
      }
    }
  }
  process.exit(exitCode);
}
