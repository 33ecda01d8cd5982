#!/usr/bin/env bash
# The container images the real-kubelet lab runs, built here (no registry is reachable) and laid
# out as upstream's Dockerfiles lay them out, so the program's DaemonSets run them unmodified:
#
#   k8snetworkplumbingwg/multus-cni:v4.3.0-thick        multus-cni images/Dockerfile.thick
#   k8snetworkplumbingwg/sriov-network-device-plugin:v3.11.0   images/Dockerfile
#   k8snetworkplumbingwg/sriov-cni:v2.10.0              Dockerfile
#   pause:3.10.2                                        kubernetes build/pause (the sandbox image)
#   kubevirt-sriov/lab-net-tools:<hash>                 the tests' pod: iproute2, tcpdump, sip-tester
#
# Deliberate differences from upstream (the binaries are the same source at the same tags):
#   - Base: Debian bookworm minbase (mmdebstrap, from the host's apt sources) for all of them, where
#     upstream uses alpine:3 (device plugin, SR-IOV CNI) and debian:stable-slim (Multus). The
#     entrypoint scripts need only /bin/sh, cp, awk and sleep, which minbase has. The device
#     plugin's pci.ids comes from Debian's `hwdata` (/usr/share/hwdata/pci.ids, as alpine's
#     hwdata-pci puts it).
#   - Binaries are built with the host's Go (lab/toolchain.sh), not upstream's golang images.
#
#   bash lab/kubelet/images.sh ensure   build unless cached; last stdout line = the cache dir
#   bash lab/kubelet/images.sh path     print the cache dir if built, else fail
#   bash lab/kubelet/images.sh refs     print "<name> <repository:tag>" for every image (no build)
#
# Cache (per machine; a new input hash builds a new dir and removes older ones):
#   ${KUBEVIRT_SRIOV_CACHE:-~/.cache/kubevirt-sriov}/kubelet-images/<hash>/
#       oci/         an OCI image layout with every image (umoci)
#       registry/    a docker-registry (distribution 2.8) storage root holding the same images: the
#                    lab serves it read-only on 127.0.0.1 (lab/kubelet/registry.ts)
#       images.txt   "<name> <repository:tag> <manifest digest>" per image
#       .done        written last
# Needs root, mmdebstrap, umoci, skopeo, docker-registry, gcc (.ci/install-kubelet-deps.sh) and
# the node tools (bash lab/toolchain.sh ensure).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=$(dirname "$HERE")
# shellcheck source=../versions.env disable=SC1091
. "$LAB_DIR/versions.env"
CACHE_ROOT=${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}
IMAGES=$CACHE_ROOT/kubelet-images
SUITE=bookworm
PAUSE_VERSION=3.10.2
BASE_PACKAGES=(hwdata)
TOOLS_PACKAGES=(iproute2 iputils-ping tcpdump sip-tester procps ethtool)

LOG_TAG=kubelet-images
# shellcheck source=common.sh source-path=SCRIPTDIR
. "$HERE/common.sh"

inputs_hash() {
  {
    printf '%s\n' "$SUITE" "$PAUSE_VERSION" "${BASE_PACKAGES[@]}" "${TOOLS_PACKAGES[@]}"
    sha256sum "$HERE/images.sh" "$HERE/common.sh" "$LAB_DIR/versions.env" | cut -d" " -f1
    tools_record multus sriov-dp sriov-cni
  } | sha256sum | cut -c1-16
}

tools_tag() { inputs_hash | cut -c1-12; }

# refs: name and repository:tag of every image, as the program names them before registryMirror
# moves them (render/images.ts keeps the path after the registry).
refs() {
  printf '%s %s\n' \
    multus "k8snetworkplumbingwg/multus-cni:$MULTUS_VERSION-thick" \
    sriov-dp "k8snetworkplumbingwg/sriov-network-device-plugin:$SRIOV_DP_VERSION" \
    sriov-cni "k8snetworkplumbingwg/sriov-cni:$SRIOV_CNI_VERSION" \
    pause "pause:$PAUSE_VERSION" \
    net-tools "kubevirt-sriov/lab-net-tools:$(tools_tag)"
}

# rootfs_tar OUT PACKAGES...: a Debian minbase root file system as a tar (docs, man pages and
# locales left out: an image needs none of them).
rootfs_tar() {
  local out=$1 include mirrors
  shift
  mirrors=$(bash "$LAB_DIR/guest/build-image.sh" mirrors)
  include=$(
    IFS=,
    echo "$*"
  )
  log "mmdebstrap $SUITE minbase + $* -> ${out##*/}"
  # shellcheck disable=SC2016 # $1 is expanded by mmdebstrap's hook shell
  mmdebstrap --mode=root --variant=minbase --components=main --include="$include" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$out" "$mirrors" >>"$IMAGES/build.log" 2>&1 || die "mmdebstrap failed: see $IMAGES/build.log"
}

# layer_tar OUT STAGING: an uncompressed layer from a staging dir, owned by root.
layer_tar() { tar --owner=0 --group=0 --numeric-owner --sort=name -C "$2" -cf "$1" .; }

# image FROM TAG LAYER.TAR ENTRYPOINT...: tag TAG = FROM plus one layer, with that entrypoint.
image() {
  local layout=$1 from=$2 tag=$3 layer=$4 ep=()
  shift 4
  umoci raw add-layer --image "$layout:$from" --tag "$tag" --history.created_by "lab/kubelet/images.sh" "$layer"
  for a in "$@"; do ep+=(--config.entrypoint "$a"); done
  umoci config --image "$layout:$tag" --config.workingdir / "${ep[@]}" --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
}

build() {
  local dir=$1 tmp L st port reg_pid name ref digest
  tmp=$dir.tmp
  rm -rf -- "$tmp"
  mkdir -p -- "$tmp/stage"
  L=$tmp/oci
  st=$tmp/stage

  rootfs_tar "$st/base.tar" "${BASE_PACKAGES[@]}"
  rootfs_tar "$st/tools.tar" "${TOOLS_PACKAGES[@]}"

  umoci init --layout "$L"
  umoci new --image "$L:empty"
  umoci raw add-layer --image "$L:empty" --tag base --history.created_by "mmdebstrap $SUITE minbase" "$st/base.tar"

  # Multus thick: every command in /usr/src/multus-cni/bin, LICENSE beside it, cert-approver at /.
  local m s
  m=$(tool_dir multus)
  mkdir -p "$st/multus/usr/src/multus-cni/bin"
  for b in multus multus-daemon multus-shim install_multus thin_entrypoint kubeconfig_generator cert-approver passthru; do
    install -m 0755 "$m/$b" "$st/multus/usr/src/multus-cni/bin/$b"
  done
  install -m 0644 "$m/LICENSE" "$st/multus/usr/src/multus-cni/LICENSE"
  install -m 0755 "$m/cert-approver" "$st/multus/cert-approver"
  layer_tar "$st/multus.tar" "$st/multus"
  image "$L" base multus "$st/multus.tar" /usr/src/multus-cni/bin/multus-daemon

  # SR-IOV device plugin: sriovdp and ddptool in /usr/bin, entrypoint.sh at /.
  s=$(tool_dir sriov-dp)
  mkdir -p "$st/dp/usr/bin"
  install -m 0755 "$s/sriovdp" "$s/ddptool" "$st/dp/usr/bin/"
  install -m 0755 "$s/entrypoint.sh" "$st/dp/entrypoint.sh"
  layer_tar "$st/dp.tar" "$st/dp"
  image "$L" base sriov-dp "$st/dp.tar" /entrypoint.sh

  # SR-IOV CNI: sriov in /usr/bin, entrypoint.sh at /.
  s=$(tool_dir sriov-cni)
  mkdir -p "$st/cni/usr/bin"
  install -m 0755 "$s/sriov" "$st/cni/usr/bin/sriov"
  install -m 0755 "$s/entrypoint.sh" "$st/cni/entrypoint.sh"
  layer_tar "$st/cni.tar" "$st/cni"
  image "$L" base sriov-cni "$st/cni.tar" /entrypoint.sh

  # pause: Kubernetes' own pause.c (in the k8s.io/kubernetes module), static, alone in its image.
  local kdir
  kdir=$(cd /tmp && GOFLAGS='' go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -f $kdir/build/pause/linux/pause.c ]] || die "no build/pause/linux/pause.c in k8s.io/kubernetes@v$KUBERNETES_VERSION"
  mkdir -p "$st/pause"
  gcc -Os -static -Wall -DVERSION="v$PAUSE_VERSION" -o "$st/pause/pause" "$kdir/build/pause/linux/pause.c"
  strip "$st/pause/pause"
  layer_tar "$st/pause.tar" "$st/pause"
  image "$L" empty pause "$st/pause.tar" /pause

  # The tests' pod image: its own minbase with the network and SIP tools.
  umoci raw add-layer --image "$L:empty" --tag net-tools --history.created_by "mmdebstrap $SUITE minbase + ${TOOLS_PACKAGES[*]}" "$st/tools.tar"
  umoci config --image "$L:net-tools" --config.workingdir / --config.cmd sleep --config.cmd infinity \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  umoci gc --layout "$L"

  # Push every image into a registry storage dir the lab serves later.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >"$tmp/registry.yml" <<EOF
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $tmp/registry } }
http: { addr: 127.0.0.1:$port }
EOF
  docker-registry serve "$tmp/registry.yml" >>"$IMAGES/build.log" 2>&1 &
  reg_pid=$!
  # shellcheck disable=SC2064 # expand now
  trap "kill $reg_pid 2>/dev/null || true" EXIT
  for _ in $(seq 50); do
    if curl -fs "http://127.0.0.1:$port/v2/" >/dev/null; then break; fi
    sleep 0.2
  done
  : >"$tmp/images.txt"
  while read -r name ref; do
    skopeo copy --quiet --dest-tls-verify=false "oci:$L:$name" "docker://127.0.0.1:$port/$ref" >>"$IMAGES/build.log" 2>&1 ||
      die "skopeo copy $name failed: see $IMAGES/build.log"
    digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$port/$ref")
    printf '%s %s %s\n' "$name" "$ref" "$digest" >>"$tmp/images.txt"
  done < <(refs)
  kill "$reg_pid"
  wait "$reg_pid" 2>/dev/null || true
  trap - EXIT
  rm -rf -- "$st" "$tmp/registry.yml"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.done"
  rm -rf -- "$dir"
  mv -T -- "$tmp" "$dir"
}

ensure() {
  local dir t0
  mkdir -p "$IMAGES"
  exec 9>"$IMAGES/.lock"
  flock 9
  dir=$IMAGES/$(inputs_hash)
  if [[ ! -f $dir/.done ]]; then
    for c in mmdebstrap umoci skopeo docker-registry gcc curl; do
      command -v "$c" >/dev/null || die "$c is missing: run .ci/install-kubelet-deps.sh"
    done
    t0=$SECONDS
    : >"$IMAGES/build.log"
    log "building the lab's container images into $dir (log: $IMAGES/build.log)"
    build "$dir"
    log "built in $((SECONDS - t0)) s: $(du -sh "$dir/registry" | cut -f1) in the registry"
    find "$IMAGES" -mindepth 1 -maxdepth 1 -type d ! -path "$dir" -exec rm -rf {} +
  fi
  exec 9>&-
  echo "$dir"
}

case ${1:-ensure} in
  ensure) ensure ;;
  path)
    dir=$IMAGES/$(inputs_hash)
    [[ -f $dir/.done ]] || die "the lab's images are not built: run bash lab/kubelet/images.sh ensure"
    echo "$dir"
    ;;
  refs) refs ;;
  *) die "usage: images.sh ensure|path|refs" ;;
esac
