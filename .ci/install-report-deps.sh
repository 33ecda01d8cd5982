#!/usr/bin/env bash
# What `npm run report` needs for the offline SVG: Graphviz (`dot -Tsvg`).
set -euo pipefail
# shellcheck source=.ci/apt.sh
. "$(dirname "$0")/apt.sh"
apt_install install-report-deps graphviz
