#!/usr/bin/env bash
# What the VoIP tests need: cloud-init (its `schema` command validates the rendered user-data
# and network-config) and sip-tester (SIPp, run for real against a local SIPp UAS).
#
# cloud-init is installed only for its validator and must never configure this machine:
# /etc/cloud/cloud-init.disabled (created first) makes its systemd generator skip every
# cloud-init unit at any later boot, and apt_install keeps maintainer scripts from starting
# services now.
set -euo pipefail
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
sudo_cmd=()
((EUID == 0)) || sudo_cmd=(sudo)
"${sudo_cmd[@]}" mkdir -p /etc/cloud
"${sudo_cmd[@]}" touch /etc/cloud/cloud-init.disabled
apt_install install-voip-test-deps cloud-init sip-tester shellcheck
