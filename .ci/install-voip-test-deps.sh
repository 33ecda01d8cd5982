#!/usr/bin/env bash
# Installs what the VoIP tests need: cloud-init (`cloud-init schema` validates the
# rendered user-data, `cloud-init devel net-convert` the network-config), sip-tester (SIPp,
# run for real against a local SIPp UAS) and shellcheck (lints the rendered scripts).
# Idempotent: packages already installed are skipped.
#
# cloud-init is installed only for its validator. It must never configure this machine:
#  - /etc/cloud/cloud-init.disabled (created first) makes cloud-init's systemd generator
#    skip every cloud-init unit at any later boot;
#  - while apt runs, a policy-rc.d that answers 101 keeps maintainer scripts from starting
#    services now (an existing one, e.g. a container's, is left as it is).
set -euo pipefail

packages=(cloud-init sip-tester shellcheck)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

sudo_cmd=()
if ((EUID != 0)); then
  sudo_cmd=(sudo)
fi

"${sudo_cmd[@]}" mkdir -p /etc/cloud
"${sudo_cmd[@]}" touch /etc/cloud/cloud-init.disabled

if ((${#missing[@]} == 0)); then
  echo "install-voip-test-deps: all present (${packages[*]})"
  exit 0
fi

policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# temporary: install-voip-test-deps.sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  own_policy=true
fi
remove_policy() {
  if [[ "$own_policy" == true ]]; then
    "${sudo_cmd[@]}" rm -f "$policy"
  fi
}
trap remove_policy EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-voip-test-deps: installed ${missing[*]}"
