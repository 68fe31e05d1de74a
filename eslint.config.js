import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.latch/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Channels see the core only through use-cases and queries (docs/ARCHITECTURE.md, "One core,
    // many channels"); their own stores (installations, message references) are theirs.
    files: ['src/channels/**/*.ts', 'blocks/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/store/models*', '**/store/db*', '**/lifecycle/context*', '**/audit/model*'],
              message: 'Channels read the core through src/lifecycle queries and use-cases, not its store.',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='models'][object.property.name='db']",
          message: 'Channels read the core through src/lifecycle queries and use-cases, not its collections.',
        },
      ],
    },
  },
);
