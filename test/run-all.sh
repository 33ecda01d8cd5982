#!/usr/bin/env bash
# The README's test command (`npm test`): set up, type-check, unit tests, then the
# end-to-end suite against the local lab (real Pulumi engine, API server, SSH).
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/setup.sh

echo "==> type check" >&2
npx tsc -p tsconfig.json --noEmit

echo "==> format and lint (prettier, eslint)" >&2
npx prettier --check . >/dev/null || { npx prettier --list-different . >&2; echo "run: npm run format" >&2; exit 1; }
npx eslint .

echo "==> unit tests" >&2
npx mocha

echo "==> end-to-end tests (local lab)" >&2
npx mocha --config test/e2e/.mocharc.json
