import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The direction of dependencies (docs/architecture.md, "Dependency rules"), checked on resolved paths.
const src = join(import.meta.dirname, 'src');
const modules = readdirSync(join(src, 'modules'));
const composition = [`${src}/*.ts`, `${src}/cli/**`, `${src}/ops/**`];
const boundaries = [
  {
    target: `${src}/modules/*/domain/**`,
    from: [`${src}/platform/**`, `${src}/config/**`, `${src}/modules/**`, ...composition],
    except: [`${src}/modules/*/domain/**`],
    message: 'domain code imports only src/shared and its own domain (docs/architecture.md, "Dependency rules").',
  },
  ...modules.map((m) => ({
    target: `${src}/modules/${m}/domain/**`,
    from: [`${src}/modules/!(${m})/**`],
    message: 'domain code imports no other module.',
  })),
  {
    target: `${src}/platform/**`,
    from: [`${src}/modules/**`, `${src}/config/**`, ...composition],
    // Migrations are the schema of every module; a data migration may use a module's pure domain code.
    except: [`${src}/modules/*/domain/**`],
    message: 'platform code is technical and imports no module, no configuration and no composition.',
  },
  {
    target: `${src}/platform/!(storage)/**`,
    from: [`${src}/modules/**`],
    message: 'platform code is technical and imports no module.',
  },
  {
    target: `${src}/platform/storage/!(migrations)/**`,
    from: [`${src}/modules/**`],
    message: 'platform code is technical and imports no module.',
  },
  {
    target: `${src}/shared/**`,
    from: [`${src}/platform/**`, `${src}/modules/**`, `${src}/config/**`, ...composition],
    message: 'shared code imports only shared code.',
  },
  {
    target: `${src}/config/**`,
    from: [`${src}/platform/http/**`, `${src}/modules/*/http/**`, `${src}/modules/*/app/**`, `${src}/modules/*/storage/**`, ...composition],
    message: 'configuration imports no HTTP, use case or storage code.',
  },
  ...modules.map((m) => ({
    target: `${src}/modules/${m}/**`,
    from: [`${src}/modules/!(${m})/**`],
    except: [`${src}/modules/*/index.ts`],
    message: `a module uses another only through its index.ts.`,
  })),
  {
    target: `${src}/modules/*/!(cli)/**`,
    from: composition,
    message: 'modules do not import the composition (container, listeners, CLI, ops).',
  },
  {
    // A module's CLI adapters are commands of the CLI: they use its framework (src/cli: context, actor, progress).
    target: `${src}/modules/*/cli/**`,
    from: [`${src}/*.ts`],
    message: 'CLI adapters take the container from their context, never build it.',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'bin/', 'scripts/*.mjs', 'bench/*.mjs', 'eslint.config.js'] },
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
    files: ['src/**/*.ts'],
    // Tests may reach across boundaries to set up what they test.
    ignores: ['**/*.test.ts'],
    plugins: { 'import-x': importX },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: boundaries }] },
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
