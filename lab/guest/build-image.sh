#!/usr/bin/env bash
# The lab's real-kernel guest image: Debian bookworm (minbase) with the bookworm-backports kernel
# (6.12: igb, igbvf and vfio-pci as modules), systemd, udev, openssh-server and the tools the node
# script uses, built from Debian packages only (mmdebstrap), no downloaded images. The journal is
# persistent (sshd's logins and the boot unit's runs survive reboots); no password login anywhere.
#
#   bash lab/guest/build-image.sh ensure   build unless cached; last stdout line = the image dir
#   bash lab/guest/build-image.sh path     print the image dir if it is built, else fail
#   bash lab/guest/build-image.sh hash     the hash of the inputs (keys the cache dir)
#   bash lab/guest/build-image.sh mirrors  the host's apt sources for the suite (one `deb` line each)
#
# Cached once per machine, rebuilt when an input changes (this script, lab/guest/image/*):
#   ${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}/guest/<hash>/
#       rootfs.img     raw ext4 root file system (sparse; guests boot it through a qcow2 overlay)
#       vmlinuz        the kernel and initrd.img its initramfs, taken from the root file system
#       packages.txt   every package and version in the image
#       .done          written last: a dir without it is not an image
#   .../guest/build.log    the last build's full log
# A new build removes the older images.
# Concurrent `ensure`s wait for one another (flock), so a test can call it while .ci/setup.sh
# builds in the background. Needs root (mmdebstrap --mode=root), mmdebstrap, e2fsprogs.
set -euo pipefail

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_ROOT=${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}
GUESTS=$CACHE_ROOT/guest
SUITE=bookworm
# Room for what a kubelet and a container runtime need later; the file is sparse.
ROOTFS_SIZE=6G
PACKAGES=(
  "linux-image-amd64/$SUITE-backports" systemd systemd-sysv udev dbus openssh-server
  iproute2 pciutils kmod ethtool procps
  # for the real-kubelet lab (lab/kubelet/): kube-proxy and the bridge CNI plugin's masquerade
  iptables conntrack
)

log() { printf '[guest-image] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

inputs_hash() {
  {
    printf '%s\n' "$SUITE" "$ROOTFS_SIZE" "${PACKAGES[@]}"
    (cd "$GUEST_DIR" && sha256sum build-image.sh image/*)
  } | sha256sum | cut -c1-16
}

image_dir() { printf '%s/%s\n' "$GUESTS" "$(inputs_hash)"; }

# apt sources for the image: the host's own mirrors for the suite, its updates, security and
# backports (apt-get indextargets lists what the host's apt knows; no host name is hard-coded).
mirror_lines() {
  local uri release
  # shellcheck disable=SC2016 # apt's format fields, not shell expansions
  apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null | sort -u |
    while read -r uri release; do
      case $release in
        "$SUITE" | "$SUITE-updates" | "$SUITE-security" | "$SUITE-backports") printf 'deb %s %s main\n' "$uri" "$release" ;;
      esac
    done
}

build() {
  local dir=$1 tmp t0 mirrors
  t0=$(date +%s)
  tmp=$dir.tmp
  rm -rf -- "$tmp"
  mkdir -p -- "$tmp/rootfs"
  mirrors=$(mirror_lines)
  grep -q " $SUITE-backports main" <<<"$mirrors" ||
    die "apt knows no $SUITE-backports source (the kernel comes from there): run .ci/install-guest-deps.sh, then apt-get update"
  log "mmdebstrap $SUITE (minbase) into $tmp/rootfs from:"
  printf '    %s\n' "${mirrors//$'\n'/$'\n'    }" >&2
  local include
  include=$(
    IFS=,
    echo "${PACKAGES[*]}"
  )
  # The customize hook runs on the host with the root file system as $1.
  # shellcheck disable=SC2016 # expanded by mmdebstrap's hook shell, not here
  mmdebstrap --mode=root --variant=minbase --components=main \
    --include="$include" \
    --aptopt='Acquire::Languages "none"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
    --customize-hook="cp '$GUEST_DIR/image/kvs-seed' \"\$1\"/usr/local/sbin/kvs-seed" \
    --customize-hook="cp '$GUEST_DIR/image/kvs-seed.service' \"\$1\"/etc/systemd/system/" \
    --customize-hook="cp '$GUEST_DIR/image/sshd-lab.conf' \"\$1\"/etc/ssh/sshd_config.d/kvs-lab.conf" \
    --customize-hook="cp '$GUEST_DIR/image/10-mgmt.network' \"\$1\"/etc/systemd/network/" \
    --customize-hook='chroot "$1" systemctl enable kvs-seed.service systemd-networkd.service' \
    --customize-hook='chroot "$1" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer' \
    --customize-hook='echo kvs-guest >"$1"/etc/hostname' \
    --customize-hook='mkdir -p "$1"/var/log/journal' \
    --customize-hook='printf "LABEL=kvs-root / ext4 rw,errors=remount-ro 0 0\n" >"$1"/etc/fstab' \
    --customize-hook='chroot "$1" passwd -l root' \
    --customize-hook='chroot "$1" dpkg-query -W -f "\${Package} \${Version}\n" >"$1"/.packages.txt' \
    "$SUITE" "$tmp/rootfs" - <<<"$mirrors" 2>&1 | sed -u 's/^/    /' >&2
  mv -- "$tmp/rootfs/.packages.txt" "$tmp/packages.txt"
  local kernel initrd
  kernel=$(find "$tmp/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n1)
  initrd=$(find "$tmp/rootfs/boot" -maxdepth 1 -name 'initrd.img-*' | sort -V | tail -n1)
  [[ -n $kernel && -n $initrd ]] || die "no kernel or initrd in $tmp/rootfs/boot"
  cp -- "$kernel" "$tmp/vmlinuz"
  cp -- "$initrd" "$tmp/initrd.img"
  log "kernel ${kernel##*/vmlinuz-}; root file system $(du -sh "$tmp/rootfs" | cut -f1) into a $ROOTFS_SIZE ext4 image"
  truncate -s "$ROOTFS_SIZE" "$tmp/rootfs.img"
  mkfs.ext4 -q -F -L kvs-root -E root_owner=0:0 -d "$tmp/rootfs" "$tmp/rootfs.img"
  rm -rf -- "$tmp/rootfs"
  date -u +%FT%TZ >"$tmp/.done"
  rm -rf -- "$dir"
  mv -- "$tmp" "$dir"
  log "built $dir in $(($(date +%s) - t0)) s ($(du -sh "$dir" | cut -f1) on disk)"
  # Older images go: a guest still running from one keeps its open file; a guest started later
  # gets a fresh overlay on this image (lab/guest/guests.ts notices the change).
  local old
  for old in "$GUESTS"/*; do
    [[ $old != "$dir" && ${old##*/} =~ ^[0-9a-f]{16}(\.tmp)?$ ]] || continue
    log "removing the previous image ${old##*/}"
    rm -rf -- "$old"
  done
}

ensure() {
  local dir
  dir=$(image_dir)
  if [[ ! -f $dir/.done ]]; then
    ((EUID == 0)) || die "building the guest image needs root (mmdebstrap --mode=root)"
    command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: run .ci/install-guest-deps.sh"
    mkdir -p -- "$GUESTS"
    exec 9>"$GUESTS/.lock"
    if ! flock -n 9; then
      log "another build of the guest image is running (log: $GUESTS/build.log); waiting for it"
      flock 9
    fi
    if [[ ! -f $dir/.done ]]; then
      log "building the guest image $(basename "$dir") (log: $GUESTS/build.log)"
      if ! build "$dir" 2> >(tee "$GUESTS/build.log" >&2); then
        die "the guest image build failed; see $GUESTS/build.log"
      fi
      wait # for tee
    fi
    exec 9>&-
  fi
  echo "$dir"
}

case ${1:-ensure} in
  ensure) ensure ;;
  path)
    dir=$(image_dir)
    [[ -f $dir/.done ]] || die "the guest image is not built: run bash lab/guest/build-image.sh ensure"
    echo "$dir"
    ;;
  hash) inputs_hash ;;
  mirrors) mirror_lines ;; # the apt sources, for lab/kubelet/images.sh's container images
  *) die "usage: build-image.sh ensure|path|hash|mirrors" ;;
esac
