#!/usr/bin/env bash
# Everything the tests and the lab need on a fresh Debian machine, idempotent:
# Debian packages, the npm dependencies, and (unless SKIP_TOOLCHAIN=1) the lab toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Debian packages"
bash .ci/install-node-test-deps.sh
bash .ci/install-voip-test-deps.sh
bash .ci/install-report-deps.sh

step "npm dependencies"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules up to date" >&2
fi

if [[ "${SKIP_TOOLCHAIN:-0}" != 1 ]]; then
  step "lab toolchain (Pulumi CLI, providers, kube-apiserver, etcd; built once per machine)"
  bash lab/toolchain.sh ensure >/dev/null
fi
