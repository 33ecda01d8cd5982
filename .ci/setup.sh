#!/usr/bin/env bash
# Everything the tests and the lab need on a fresh Debian machine, idempotent:
# Debian packages, the npm dependencies, and (unless SKIP_TOOLCHAIN=1) the lab toolchain and the
# real-kernel guest image (lab/guest/build-image.sh), built in parallel: the image build runs in
# the background with its own log while the toolchain builds, and setup waits for both; then the
# real-kubelet lab's node-tools disk and container images (lab/kubelet/).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "Debian packages"
bash .ci/install-node-test-deps.sh
bash .ci/install-voip-test-deps.sh
bash .ci/install-report-deps.sh
bash .ci/install-guest-deps.sh
bash .ci/install-kubelet-deps.sh

step "npm dependencies"
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules up to date" >&2
fi

if [[ "${SKIP_TOOLCHAIN:-0}" != 1 ]]; then
  guest_log=${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}/guest-setup.log
  mkdir -p "$(dirname "$guest_log")"
  if image=$(bash lab/guest/build-image.sh path 2>/dev/null); then
    echo "guest image: cached ($image)" >&2
    guest_pid=
  else
    step "guest image (Debian bookworm + the 6.12 kernel, for the real-kernel nodes): building in the background, log $guest_log"
    bash lab/guest/build-image.sh ensure >"$guest_log" 2>&1 &
    guest_pid=$!
  fi

  step "lab toolchain (Pulumi CLI, providers, kube-apiserver, etcd; the kubelet nodes' containerd, runc, kubelet and agents; built once per machine)"
  toolchain_status=0
  bash lab/toolchain.sh ensure >/dev/null || toolchain_status=$?
  if ((toolchain_status == 0)); then
    step "real-kubelet lab: the node-tools disk and the agents' images (built once per machine)"
    bash lab/kubelet/node-disk.sh ensure >/dev/null || toolchain_status=$?
    bash lab/kubelet/images.sh ensure >/dev/null || toolchain_status=$?
  fi

  if [[ -n $guest_pid ]]; then
    step "guest image: waiting for the background build (log $guest_log)"
    if wait "$guest_pid"; then
      grep '^\[guest-image\] built' "$guest_log" >&2 || true
    else
      echo "guest image build failed; the end of $guest_log:" >&2
      tail -n 40 "$guest_log" >&2
      exit 1
    fi
  fi
  ((toolchain_status == 0)) || exit "$toolchain_status"
fi
