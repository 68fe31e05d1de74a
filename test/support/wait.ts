/** Polls `probe` until it gives a value (not undefined), or fails naming what never came. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { tries?: number; everyMs?: number } = {},
): Promise<T> {
  const { tries = 300, everyMs = 100 } = opts;
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}
