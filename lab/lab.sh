#!/usr/bin/env bash
# `npm run lab` / `npm run lab:down`: set this machine up when needed, then run the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-up}" == up ]]; then
  echo "==> setting up this machine (Debian packages, npm dependencies, the lab toolchain)" >&2
  bash .ci/setup.sh
elif [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
exec node -r ts-node/register/transpile-only lab/lab.ts "${@:-up}"
