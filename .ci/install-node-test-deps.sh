#!/usr/bin/env bash
# Installs what the node-preparation tests need: FUSE + fusepy for the simulated
# sysfs, openssh for the real-SSH test, shellcheck for the lint test.
# Idempotent: apt-get skips packages that are already installed.
set -euo pipefail

packages=(fuse3 python3-fusepy openssh-server openssh-client shellcheck)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-node-test-deps: all present (${packages[*]})"
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then
  sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-node-test-deps: installed ${missing[*]}"
