// Lint for the whole TypeScript tree (program, policy pack, lab, benchmarks, tests).
// Formatting is prettier's job (.prettierrc.json); eslint checks what a formatter cannot.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "bin/**", "bin.*/**", "policies/node_modules/**", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring a field away, a callback's arity).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
    },
  },
  {
    // Tests, the lab and the benchmarks read Kubernetes objects back from an API server as
    // untyped JSON and poke at them; typing every field there would be noise. The program
    // itself (config, render, plan, components, policies, report) stays free of `any`.
    files: ["test/**/*.ts", "lab/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
);
