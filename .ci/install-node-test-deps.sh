#!/usr/bin/env bash
# What the node-preparation tests and the lab need: FUSE + fusepy for the simulated sysfs,
# openssh for real SSH, shellcheck for the lint test, openssl for the lab's certificates.
set -euo pipefail
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install install-node-test-deps fuse3 python3-fusepy openssh-server openssh-client shellcheck openssl
