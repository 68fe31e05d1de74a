/**
 * The console's hints for each context source type (src/context/forms.ts) say what the type
 * really needs: its example config with its named secrets is valid, and without them it is not.
 */
import { describe, expect, it } from '@jest/globals';
import { CONTEXT_FORMS, CONTEXT_TYPES } from '../../src/context/index.js';

describe('context source forms', () => {
  it('has hints for every type', () => {
    expect(Object.keys(CONTEXT_FORMS).sort()).toEqual(Object.keys(CONTEXT_TYPES).sort());
  });

  it.each(Object.keys(CONTEXT_TYPES))('%s: the example with its named secrets is valid', (type) => {
    const form = CONTEXT_FORMS[type]!;
    const secrets = Object.fromEntries(form.secrets.map((s) => [s, 'x-secret']));
    expect(CONTEXT_TYPES[type]!.validate(form.example, secrets)).toEqual([]);
    // Each named secret is needed: leaving one out is a problem on that secret.
    for (const name of form.secrets) {
      const fewer = Object.fromEntries(Object.entries(secrets).filter(([k]) => k !== name));
      expect(CONTEXT_TYPES[type]!.validate(form.example, fewer).map((i) => i.path.join('.'))).toContain(
        `secrets.${name}`,
      );
    }
  });
});
