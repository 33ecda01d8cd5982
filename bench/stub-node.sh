#!/bin/bash
# Benchmark only (bench/engineBench.ts): many simulated nodes behind one sshd, cheap enough for
# a fleet of 100-300 on a 2-core machine. What is real: the SSH session, the exact command the
# program sends (its base64 script and state unpacked with base64, gzip and mktemp, as on a
# node), each node's own /etc/kubevirt-sriov (the script copy apply installs, the state), and
# the revert that needs that copy. What is simulated: sysfs. The node script is not run; the
# report is one the real script printed for the same layout on a FUSE-simulated node
# (report.json, node name replaced).
#   stub-node.sh session   sshd's ForceCommand: finds the node by the node name in the
#                          command's state, points ETC_ROOT at its directory, runs the command
#   bin/bash -> this file  (hence /bin/bash above, not env: env would find this file again)
#                          first on the command's PATH: `bash <...>/sriov-node.sh apply|revert`
#                          answers as above; anything else runs the real bash
set -euo pipefail

STUB_DIR=${STUB_DIR:?STUB_DIR is not set}

if [[ ${0##*/} == bash ]]; then
  if [[ ${1:-} == */sriov-node.sh && (${2:-} == apply || ${2:-} == revert) ]]; then
    dir=$ETC_ROOT/kubevirt-sriov
    state=$(cat)
    if [[ $2 == apply ]]; then
      mkdir -p -- "$dir/state"
      cmp -s -- "$1" "$dir/sriov-node.sh" || cp -- "$1" "$dir/sriov-node.sh"
      printf '%s\n' "$state" >"$dir/state/owner"
      sed "s/lab-node-1/$STUB_NODE/g" "$STUB_DIR/report.json"
      echo "sriov-node[$STUB_NODE]: apply (stub node)" >&2
    else
      rm -rf -- "$dir"
      printf '{"verb":"revert","node":"%s"}\n' "$STUB_NODE"
    fi
    exit 0
  fi
  exec /bin/bash "$@"
fi

case ${1:-} in
  session)
    cmd=${SSH_ORIGINAL_COMMAND:-}
    b64=$(sed -n '/<<"KUBEVIRT_SRIOV_STATE"$/,/^KUBEVIRT_SRIOV_STATE$/p' <<<"$cmd" | sed '1d;$d')
    node=$(base64 -d <<<"$b64" | sed -n 's/^node //p')
    if [[ ! $node =~ ^[a-z0-9][-a-z0-9.]*$ ]]; then
      echo "stub-node: no node state in the command" >&2
      exit 64
    fi
    export ETC_ROOT=$STUB_DIR/nodes/$node/etc STUB_NODE=$node PATH=$STUB_DIR/bin:$PATH
    mkdir -p -- "$ETC_ROOT"
    exec sh -c "$cmd"
    ;;
  *)
    echo "usage: stub-node.sh session (sshd ForceCommand)" >&2
    exit 64
    ;;
esac
