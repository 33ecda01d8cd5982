#!/usr/bin/env bash
# Installs what `npm run report` needs for the offline SVG: Graphviz (`dot -Tsvg`).
# Idempotent: does nothing when dot is already there.
set -euo pipefail

if command -v dot >/dev/null 2>&1; then
  echo "install-report-deps: graphviz present ($(dot -V 2>&1))"
  exit 0
fi

sudo_cmd=()
if ((EUID != 0)); then
  sudo_cmd=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends graphviz
echo "install-report-deps: installed graphviz ($(dot -V 2>&1))"
