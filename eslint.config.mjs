// One lint config. Orchestrators are replayed, so they must be pure: no Node built-ins, no SDKs, no clocks, no randomness.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.local/**',
      'tools/bicep/**',
      'coverage/**',
      '**/*.mjs',
      '**/*.mts',
      '**/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Durable code relies on the documented API only (the replay tests cover the pinned version, not its internals).
    files: ['src/entities/**/*.ts', 'src/functions/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['durable-functions/*'], message: 'the public durable-functions API only' }] },
      ],
    },
  },
  {
    files: ['src/orchestrations/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                '@azure/*',
                'fs',
                'path',
                'crypto',
                'http',
                'https',
                'os',
                'child_process',
                '../azure/*',
              ],
              message: 'orchestrators are replayed: no I/O, SDKs or Node built-ins',
            },
            { group: ['durable-functions/*'], message: 'the public durable-functions API only, never its internals' },
            // Orchestrators may import activity names and types (contracts), never the activities themselves.
            {
              regex: '^\\.\\./activities/',
              message: 'import names/types from ../contracts/index.js only',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'use context.df.currentUtcDateTime',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'use context.df.currentUtcDateTime',
        },
        {
          selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']",
          message: 'use context.df.newGuid',
        },
        { selector: "CallExpression[callee.name='setTimeout']", message: 'use context.df.createTimer' },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@azure/*', 'node:*', '../azure/*', '../activities/*', '../functions/*'] },
      ],
    },
  },
);
