# shellcheck shell=bash
# Sourced by lab/kubelet/images.sh and node-disk.sh: logging, and where the node tools are.
# The sourcing script sets LOG_TAG and LAB_DIR first.

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

tool_dir() { bash "$LAB_DIR/toolchain.sh" dir "$1"; }

# tools_record TOOL...: each tool's build record (its .done: version, build time), so that a cache
# keyed on it is rebuilt whenever a tool is.
tools_record() {
  local t d
  for t in "$@"; do
    d=$(tool_dir "$t") || exit 1
    cat "$d/../.done"
  done
}
