#!/usr/bin/env bash
# The real-kubelet lab's node-tools disk: a read-only ext4 image every kubelet guest mounts at
# /opt/kvs (virtio serial kvs-tools). Big binaries travel on a disk, not over SSH at each boot
# (FIELD-NOTES: 140 MB over the user-mode network takes 13 s), and the guest image stays the same.
#
#   /opt/kvs/bin/   kubelet kube-proxy containerd containerd-shim-runc-v2 ctr runc crictl
#   /opt/kvs/cni/   the CNI plugins a node needs before Multus and the SR-IOV CNI install theirs
#   /opt/kvs/setup  lab/kubelet/guest-setup.sh: joins the guest as a node (run by the lab over SSH)
#   /opt/kvs/VERSIONS
#
#   bash lab/kubelet/node-disk.sh ensure   build unless cached; last stdout line = the image file
#   bash lab/kubelet/node-disk.sh path     print the image file if built, else fail
# Cached at ${KUBEVIRT_SRIOV_CACHE:-~/.cache/kubevirt-sriov}/kubelet-disk/<hash>.img (older ones
# are removed). Needs the node tools (bash lab/toolchain.sh ensure) and mkfs.ext4.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=$(dirname "$HERE")
CACHE_ROOT=${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}
DISKS=$CACHE_ROOT/kubelet-disk
TOOLS=(kube-node containerd runc cri-tools cni-plugins)

LOG_TAG=kubelet-disk
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$HERE/common.sh"

inputs_hash() {
  {
    sha256sum "$HERE/node-disk.sh" "$HERE/common.sh" "$HERE/guest-setup.sh" | cut -d" " -f1
    tools_record "${TOOLS[@]}"
  } | sha256sum | cut -c1-16
}

build() {
  local img=$1 root b
  root=$img.d
  rm -rf -- "$root" "$img.tmp"
  mkdir -p "$root/bin" "$root/cni"
  for b in kubelet kube-proxy; do install -m 0755 "$(tool_dir kube-node)/$b" "$root/bin/"; done
  for b in containerd containerd-shim-runc-v2 ctr; do install -m 0755 "$(tool_dir containerd)/$b" "$root/bin/"; done
  install -m 0755 "$(tool_dir runc)/runc" "$root/bin/"
  install -m 0755 "$(tool_dir cri-tools)/crictl" "$root/bin/"
  install -m 0755 "$(tool_dir cni-plugins)"/* "$root/cni/"
  install -m 0755 "$HERE/guest-setup.sh" "$root/setup"
  for t in "${TOOLS[@]}"; do printf '%s %s\n' "$t" "$(sed -n 's/^version=//p' "$(tool_dir "$t")/../.done")"; done >"$root/VERSIONS"
  # 64 MiB of room over the content; the guest mounts it read-only.
  local size
  size=$(($(du -sm "$root" | cut -f1) + 64))
  mkfs.ext4 -q -F -L kvs-tools -d "$root" "$img.tmp" "${size}M"
  rm -rf -- "$root"
  mv -f -- "$img.tmp" "$img"
}

ensure() {
  local img
  mkdir -p "$DISKS"
  exec 9>"$DISKS/.lock"
  flock 9
  img=$DISKS/$(inputs_hash).img
  if [[ ! -f $img ]]; then
    log "building $img"
    build "$img"
    find "$DISKS" -mindepth 1 -maxdepth 1 -name '*.img' ! -path "$img" -delete
  fi
  exec 9>&-
  echo "$img"
}

case ${1:-ensure} in
  ensure) ensure ;;
  path)
    img=$DISKS/$(inputs_hash).img
    [[ -f $img ]] || die "the node-tools disk is not built: run bash lab/kubelet/node-disk.sh ensure"
    echo "$img"
    ;;
  *) die "usage: node-disk.sh ensure|path" ;;
esac
