import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// the core's own rule, restated where a folder of the core adds one (a later rule replaces an earlier one whole)
const CORE_PATHS = [{ name: 'vscode', message: 'src/core must not depend on vscode.' }];
const CORE_PATTERN = {
  group: ['**/cli', '**/cli/**', '**/extension', '**/extension/**'],
  message: 'src/core imports neither src/cli nor src/extension.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'test/fixtures/**', '.e2e-cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  // The layers. The core runs in plain Node (tests, terminals, CI, SDK hosts) and knows neither edge; the CLI and
  // the extension are two edges over the core that never import each other. Codes come from the core; words
  // from the edges (src/cli/format.ts, src/extension/present.ts).
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: CORE_PATHS,
          patterns: [CORE_PATTERN],
        },
      ],
    },
  },
  {
    files: ['src/core/lock/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: CORE_PATHS,
          patterns: [
            CORE_PATTERN,
            {
              group: ['**/store', '**/store/**'],
              message: 'the lock module does not depend on the credential store (lock names live in lock/).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/cli must not depend on vscode.' }],
          patterns: [{ group: ['**/extension', '**/extension/**'], message: 'src/cli never imports src/extension.' }],
        },
      ],
    },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli', '**/cli/**'],
              message: 'src/extension never imports src/cli: rules live in src/core, words in src/extension.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.cjs', '**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
