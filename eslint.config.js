import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'coverage/', 'bin/', 'scripts/*.mjs', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // Fastify plugins and route handlers are async by contract even when they do not await.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'money never passes through a binary float' }],
      // Number#toFixed rounds a binary float; Decimal#toFixed is exact but easy to confuse with it. Formatting of
      // amounts, quantities and cents goes through shared/money.ts (formatMoney, formatDecimal, toCents), the one
      // file allowed to call toFixed.
      'no-restricted-properties': [
        'error',
        { object: 'Number', property: 'parseFloat', message: 'money never passes through a binary float' },
        { property: 'toFixed', message: 'format through shared/money.ts (formatMoney, formatDecimal, toCents)' },
      ],
    },
  },
  {
    files: ['src/shared/money.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Number', property: 'parseFloat', message: 'money never passes through a binary float' }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
