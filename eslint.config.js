// The linter for Slipway's own code (`npm run lint`, run by CI): ESLint's and typescript-eslint's recommended rules.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "reports/**",
      "coverage/**",
      // user projects with their own lint configuration, and test inputs
      "examples/**",
      "ci/test/fixtures/**",
      // the Dagger SDK's generated client, copied into the builtin TypeScript SDK
      "ci/platform/sdk/typescript/library/sdk/core.*",
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring, required parameters)
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
);
