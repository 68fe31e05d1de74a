/** People quote requests in chat, so ids are short, prefixed and forgiving when typed back. */
const PREFIX = 'AR';

export function formatRequestId(n: number): string {
  return `${PREFIX}-${n}`;
}

export function parseRequestId(text: string): number | undefined {
  // Accept what people paste: "#AR-1042", "ar 1042", "AR1042" or the bare number.
  const m = /^#?(?:ar[-\s]?)?(\d{1,15})$/i.exec(text.trim());
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
