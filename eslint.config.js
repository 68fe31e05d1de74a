import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Request documents change only through src/lifecycle/transitions (guarded moves, claims); the
// outbox's own bookkeeping (delivered entries, notifyAt) is the one other writer
// (docs/ARCHITECTURE.md, "Requests and their states").
const REQUEST_WRITES = [
  {
    selector:
      "CallExpression[callee.property.name=/^(create|insertMany|findOneAndUpdate|findByIdAndUpdate|updateOne|updateMany|replaceOne|bulkWrite|deleteOne|deleteMany)$/][callee.object.name='Request']",
    message: 'Request documents change only through ctx.moves / RequestClaims (src/lifecycle/transitions).',
  },
  {
    selector:
      "CallExpression[callee.property.name=/^(create|insertMany|findOneAndUpdate|findByIdAndUpdate|updateOne|updateMany|replaceOne|bulkWrite|deleteOne|deleteMany)$/][callee.object.property.name='Request']",
    message: 'Request documents change only through ctx.moves / RequestClaims (src/lifecycle/transitions).',
  },
];

// Break-glass reviews change only through src/lifecycle/reviews.ts (docs/ARCHITECTURE.md, "Break-glass").
const REVIEW_WRITES = [
  {
    selector:
      "CallExpression[callee.property.name=/^(create|insertMany|findOneAndUpdate|findByIdAndUpdate|updateOne|updateMany|replaceOne|bulkWrite|deleteOne|deleteMany)$/][callee.object.property.name='Review']",
    message: 'Reviews change only through src/lifecycle/reviews.ts.',
  },
];

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
    files: ['src/**/*.ts'],
    ignores: ['src/lifecycle/transitions/**', 'src/lifecycle/outbox.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...REQUEST_WRITES, ...REVIEW_WRITES],
    },
  },
  {
    files: ['src/lifecycle/reviews.ts'],
    rules: {
      'no-restricted-syntax': ['error', ...REQUEST_WRITES],
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
        // Repeated: this rule's list replaces the one above for channel files.
        ...REQUEST_WRITES,
        ...REVIEW_WRITES,
      ],
    },
  },
);
