#!/usr/bin/env bash
# What the real-kubelet lab needs on this machine (lab/kubelet/): runc's cgo build (libseccomp-dev,
# pkg-config, gcc), ddptool's (make), the image tools (umoci, skopeo), the local registry the guests
# pull from (docker-registry, distribution 2.8; its own service is never started: the lab runs it),
# socat for QEMU's guestfwd, and tcpdump to read the PF wire captures.
set -euo pipefail
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install install-kubelet-deps libseccomp-dev pkg-config gcc make libc6-dev umoci skopeo docker-registry socat tcpdump curl
