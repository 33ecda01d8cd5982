#!/usr/bin/env bash
# `npm run lab` / `npm run lab:down`: set this machine up when needed, then run the lab.
# `npm run lab -- --sim` runs simulated nodes instead of real-kernel guests.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=up
for a in "$@"; do
  if [[ $a != --sim ]]; then
    cmd=$a
    break
  fi
done
if [[ $cmd == up ]]; then
  echo "==> setting up this machine (Debian packages, npm dependencies, the lab toolchain, the guest image)" >&2
  bash .ci/setup.sh
elif [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund
fi
exec node -r ts-node/register/transpile-only lab/lab.ts "${@:-up}"
