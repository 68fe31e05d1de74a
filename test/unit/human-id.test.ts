import { describe, it, expect } from '@jest/globals';
import { formatRequestId, parseRequestId } from '../../src/domain/human-id.js';

describe('request ids', () => {
  it('formats as AR-n', () => {
    expect(formatRequestId(1042)).toBe('AR-1042');
  });

  it('parses what people type back', () => {
    for (const text of ['AR-1042', 'ar-1042', '1042', ' #AR-1042 ', 'AR1042']) {
      expect(parseRequestId(text)).toBe(1042);
    }
    expect(parseRequestId(formatRequestId(7))).toBe(7);
  });

  it('rejects anything else', () => {
    for (const text of ['', 'AR-', 'AR-0', 'XR-1042', 'AR-10x', '-5', '1.5', 'AR-1042-1']) {
      expect(parseRequestId(text)).toBeUndefined();
    }
  });
});
