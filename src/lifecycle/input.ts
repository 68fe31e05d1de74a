import { TEXT_LIMITS, type LimitedText } from '../domain/limits.js';
import { invalid } from './errors.js';

/** Trimmed text, refused (not cut) when longer than its limit: what was typed is never silently lost. */
export function boundedText(value: string | undefined | null, field: LimitedText): string {
  const text = (value ?? '').trim();
  const max = TEXT_LIMITS[field];
  if (text.length > max)
    throw invalid(`The ${field} is too long: ${text.length} characters, at most ${max}.`, field);
  return text;
}
