#!/usr/bin/env bash
# Lab toolchain: the Pulumi CLI, its Node.js language host, the kubernetes and command resource
# providers, kube-apiserver + kube-controller-manager and etcd, at the versions in versions.env.
#
#   bash lab/toolchain.sh ensure [TOOL...]  find on PATH (right version) or build; last stdout line = bin dir
#   bash lab/toolchain.sh path               print the bin dir if every engine tool is there, else fail
#   bash lab/toolchain.sh dir TOOL           print a built node tool's bin dir (kube-node, containerd, ...)
#   bash lab/toolchain.sh status             one line per tool: state, version, source, size, build time
#   bash lab/toolchain.sh tools              list tool names
#
# Tools are built from the Go module proxy (no other download site is reachable), each in its own
# small module under the cache, once per machine:
#   ${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}/toolchain/<name>-<version>/
#       src/        the module built: a generated wrapper (go.mod, main.go), or for our own
#                   language host and command provider a copy of lab/go/<dir>/ (go.mod, go.sum, *.go)
#       bin/        the built binaries
#       build.log   full go output
#       .done       written only after the binaries were built and answered with the right version
#   .../toolchain/bin/   symlinks to every binary (PATH copies or cache builds): put this on PATH.
# A failed or interrupted build leaves no .done, so the next `ensure` builds it again (the Go module
# and build caches make the retry cheap). Progress goes to stderr.
#
# Env: KUBEVIRT_SRIOV_CACHE (cache root), KUBEVIRT_SRIOV_TOOLCHAIN_NO_PATH=1 (ignore binaries
# already on PATH), KUBEVIRT_SRIOV_ETCD=apt|go|path (how to get etcd; default: path, else go).
# Go: GOFLAGS=-mod=mod, -trimpath, -ldflags '-s -w', -p = number of cores, GOMAXPROCS = cores.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env source-path=SCRIPTDIR disable=SC1091
. "$LAB_DIR/versions.env"

CACHE_ROOT=${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}
TC=$CACHE_ROOT/toolchain
BIN=$TC/bin
NCPU=$(nproc 2>/dev/null || echo 2)

TOOLS=(pulumi pulumi-language-nodejs pulumi-resource-command pulumi-resource-kubernetes kubernetes etcd)
# The real-kubelet lab's node stack and agents: built into the cache like the tools above but never
# linked into the bin dir (they run in the guests, not here); `dir TOOL` prints where they are.
NODE_TOOLS=(kube-node containerd runc cri-tools cni-plugins multus sriov-dp sriov-cni)
SHARED_UPSTREAM=${KUBEVIRT_SRIOV_UPSTREAM:-$LAB_DIR/../../shared/upstream}

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# Our own tools' Go modules, in lab/go/.
LANGHOST_SRC=$LAB_DIR/go/langhost
COMMAND_PROVIDER_SRC=$LAB_DIR/go/command-provider

# src_hash DIR: 12 hex digits over what a build of the Go module in DIR reads (go.mod, go.sum and
# the .go files but tests), so that any change to them builds into a new cache dir.
src_hash() {
	local f files=()
	[[ -f $1/go.mod && -f $1/go.sum ]] || die "$1: go.mod or go.sum is missing"
	for f in "$1"/go.mod "$1"/go.sum "$1"/*.go; do
		[[ $f == *_test.go || ! -f $f ]] || files+=("${f##*/}")
	done
	(cd "$1" && sha256sum -- "${files[@]}") | LC_ALL=C sort | sha256sum | cut -c1-12
}

# tool_version NAME: the version string that keys the cache dir.
tool_version() {
	local h
	case $1 in
	pulumi) echo "$PULUMI_VERSION" ;;
	pulumi-language-nodejs)
		h=$(src_hash "$LANGHOST_SRC") || exit 1
		echo "$PULUMI_VERSION-$h"
		;;
	pulumi-resource-command)
		h=$(src_hash "$COMMAND_PROVIDER_SRC") || exit 1
		echo "$COMMAND_PROVIDER_VERSION-$h"
		;;
	pulumi-resource-kubernetes) echo "$KUBERNETES_PROVIDER_VERSION" ;;
	kubernetes) echo "$KUBERNETES_VERSION" ;;
	etcd) echo "${ETCD_GO_VERSION#v}" ;;
	kube-node) echo "$KUBERNETES_VERSION" ;;
	containerd) echo "${CONTAINERD_VERSION#v}" ;;
	runc) echo "${RUNC_VERSION#v}" ;;
	cri-tools) echo "${CRI_TOOLS_VERSION#v}" ;;
	cni-plugins) echo "${CNI_PLUGINS_VERSION#v}" ;;
	multus) echo "${MULTUS_VERSION#v}" ;;
	sriov-dp) echo "${SRIOV_DP_VERSION#v}" ;;
	sriov-cni) echo "${SRIOV_CNI_VERSION#v}" ;;
	*) die "unknown tool $1 (tools: ${TOOLS[*]} ${NODE_TOOLS[*]})" ;;
	esac
}

# tool_binaries NAME: the executables a tool provides.
tool_binaries() {
	case $1 in
	kubernetes) echo "kube-apiserver kube-controller-manager" ;;
	pulumi-language-nodejs) echo "pulumi-language-nodejs pulumi-resource-pulumi-nodejs" ;;
	kube-node) echo "kubelet kube-proxy kube-scheduler" ;;
	containerd) echo "containerd containerd-shim-runc-v2 ctr" ;;
	cni-plugins) for p in $CNI_PLUGINS; do printf '%s ' "${p##*/}"; done ;;
	multus) echo "multus-daemon multus-shim install_multus thin_entrypoint kubeconfig_generator cert-approver multus passthru" ;;
	cri-tools) echo "crictl" ;;
	sriov-dp) echo "sriovdp ddptool" ;;
	sriov-cni) echo "sriov" ;;
	*) echo "$1" ;;
	esac
}

tool_dir() { echo "$TC/$1-$(tool_version "$1")"; }

# reported_version BINARY PATH: what the binary says its version is ("" if it does not say).
reported_version() {
	local name=$1 exe=$2 out
	if is_cni_plugin "$name"; then
		wanted_version "$name" # a CNI plugin answers only with CNI_COMMAND=VERSION: the build pins it
		return 0
	fi
	case $name in
	pulumi) out=$("$exe" version 2>/dev/null) || return 0 ;;
	pulumi-resource-pulumi-nodejs) out=$PULUMI_VERSION ;; # a shell script: nothing to ask
	kube-apiserver | kube-controller-manager) out=$("$exe" --version 2>/dev/null | sed -n 's/^Kubernetes v//p') || return 0 ;;
	etcd) out=$("$exe" --version 2>/dev/null | sed -n 's/^etcd Version: //p') || return 0 ;;
	kubelet | kube-proxy | kube-scheduler) out=$("$exe" --version 2>/dev/null | sed -n 's/^Kubernetes v//p') || return 0 ;;
	containerd | ctr) out=$("$exe" --version 2>/dev/null | awk '{ print $3 }') || return 0 ;; # "<name> <module> <version> ..."
	containerd-shim-runc-v2) out=$("$exe" -v 2>/dev/null | sed -n 's/^ *Version: *//p') || return 0 ;;
	runc) out=$("$exe" --version 2>/dev/null | sed -n 's/^runc version //p') || return 0 ;;
	crictl) out=$("$exe" --version 2>/dev/null | sed -n 's/^crictl version //p') || return 0 ;;
	multus-daemon)
		# "multus-daemon: version:v4.3.0(clean,released), ..." (it exits 1 after printing it)
		out=$("$exe" -version 2>&1 || true)
		out=$(grep -o 'version:v[0-9][0-9.]*' <<<"$out" | head -n1 || true)
		out=${out#version:}
		;;
	sriovdp | ddptool | sriov | multus-shim | install_multus | thin_entrypoint | kubeconfig_generator | cert-approver | multus | passthru)
		# Binaries that cannot answer without a node (CNI plugins, installers): the build pins them.
		out=$(wanted_version "$name") ;;
	*)
		# Plugins serve gRPC when they do not know -version: never wait on one.
		out=$(timeout 10 "$exe" -version </dev/null 2>/dev/null | head -n1) || return 0
		;;
	esac
	out=${out%%$'\n'*}
	echo "${out#v}"
}

# wanted_version BINARY: the version a binary must report.
wanted_version() {
	case $1 in
	pulumi | pulumi-language-nodejs | pulumi-resource-pulumi-nodejs) echo "$PULUMI_VERSION" ;;
	pulumi-resource-command) echo "$COMMAND_PROVIDER_VERSION" ;;
	pulumi-resource-kubernetes) echo "$KUBERNETES_PROVIDER_VERSION" ;;
	kube-apiserver | kube-controller-manager) echo "$KUBERNETES_VERSION" ;;
	etcd) echo "3.5 or newer" ;; # see version_ok; a build makes ETCD_GO_VERSION
	kubelet | kube-proxy | kube-scheduler) echo "$KUBERNETES_VERSION" ;;
	containerd | ctr | containerd-shim-runc-v2) echo "${CONTAINERD_VERSION#v}" ;;
	runc) echo "${RUNC_VERSION#v}" ;;
	crictl) echo "${CRI_TOOLS_VERSION#v}" ;;
	sriovdp | ddptool) echo "${SRIOV_DP_VERSION#v}" ;;
	sriov) echo "${SRIOV_CNI_VERSION#v}" ;;
	*) if is_cni_plugin "$1"; then echo "${CNI_PLUGINS_VERSION#v}"; else echo "${MULTUS_VERSION#v}"; fi ;;
	esac
}

is_node_tool() {
	local t
	for t in "${NODE_TOOLS[@]}"; do [[ $1 == "$t" ]] && return 0; done
	return 1
}

is_cni_plugin() {
	local p
	for p in "${CNI_PLUGIN_BINARIES[@]}"; do [[ $1 == "$p" ]] && return 0; done
	return 1
}
CNI_PLUGIN_BINARIES=()
for _p in $CNI_PLUGINS; do CNI_PLUGIN_BINARIES+=("${_p##*/}"); done
unset _p

# version_ok BINARY VERSION: etcd accepts any 3.5+ release (kube-apiserver 1.37 needs >= 3.5);
# everything else must match exactly.
version_ok() {
	local name=$1 have=$2 want
	want=$(wanted_version "$name")
	[[ -n $have ]] || return 1
	if [[ $name == etcd ]]; then
		[[ $have =~ ^3\.([5-9]|[1-9][0-9])\. ]]
	else
		[[ ${have#v} == "${want#v}" ]]
	fi
}

# path_lookup BINARY: first match on PATH outside our own bin dir.
path_lookup() {
	local name=$1 d real_bin
	[[ ${KUBEVIRT_SRIOV_TOOLCHAIN_NO_PATH:-} == 1 ]] && return 1
	real_bin=$(realpath -m "$BIN")
	local IFS=:
	for d in $PATH; do
		[[ -n $d ]] || continue
		[[ $(realpath -m "$d") == "$real_bin" ]] && continue
		if [[ -x $d/$name && ! -d $d/$name ]]; then
			echo "$d/$name"
			return 0
		fi
	done
	return 1
}

# link_bin NAME TARGET: put TARGET into the combined bin dir (atomic replace). Cache builds are
# hard-linked, so that the CLI finds its language host "next to itself" (a symlinked or
# foreign one draws "using pulumi-language-nodejs from $PATH" warnings); PATH finds are symlinked.
link_bin() {
	mkdir -p "$BIN"
	if [[ $2 == "$TC"/* && $BIN/$1 -ef $2 && ! -L $BIN/$1 ]]; then return 0; fi
	rm -f "$BIN/.$1.tmp"
	if [[ $2 != "$TC"/* ]] || ! ln "$2" "$BIN/.$1.tmp" 2>/dev/null; then
		ln -s "$2" "$BIN/.$1.tmp"
	fi
	mv -Tf "$BIN/.$1.tmp" "$BIN/$1"
}

# use_path TOOL: link every binary of TOOL from PATH if all are there with the right version.
use_path() {
	local tool=$1 b exe have found=()
	for b in $(tool_binaries "$tool"); do
		exe=$(path_lookup "$b") || return 1
		have=$(reported_version "$b" "$exe")
		version_ok "$b" "$have" || {
			log "$b on PATH ($exe) reports '${have:-?}', want $(wanted_version "$b"): not used"
			return 1
		}
		found+=("$b=$exe")
	done
	for b in "${found[@]}"; do
		link_bin "${b%%=*}" "${b#*=}"
		log "using ${b%%=*} from PATH: ${b#*=}"
	done
	return 0
}

# run_logged LOG CMD...: run CMD with output to LOG, print a heartbeat to stderr every 30 s.
run_logged() {
	local logf=$1 pid start last=0 rc
	shift
	start=$SECONDS
	"$@" >>"$logf" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064  # expand pid now
	trap "kill -TERM $pid 2>/dev/null; exit 130" INT TERM
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if ((SECONDS - last >= 30)); then
			last=$SECONDS
			log "  ... $((SECONDS - start))s: $(tail -n1 "$logf" 2>/dev/null | cut -c1-110)"
		fi
	done
	rc=0
	wait "$pid" || rc=$?
	trap - INT TERM
	return "$rc"
}

go_env() {
	command -v go >/dev/null || die "go is not on PATH (need Go >= 1.26)"
	export GOFLAGS=-mod=mod
	export GOMAXPROCS=${GOMAXPROCS:-$NCPU}
	export CGO_ENABLED=${CGO_ENABLED:-0}
}

# go_build DIR LDFLAGS PKG...: build PKG(s) from the wrapper module in DIR/src into DIR/bin.
go_build() {
	local dir=$1 ldflags=$2
	shift 2
	mkdir -p "$dir/bin/.tmp"
	rm -f "$dir/bin/.tmp/"*
	(cd "$dir/src" && run_logged "$dir/build.log" go build -v -p "$NCPU" -trimpath \
		-ldflags "-s -w $ldflags" -o "$dir/bin/.tmp/" "$@")
}

# module_field MODULE@VERSION FIELD LOG: a field (Dir, GoMod) of `go mod download -json`, which
# downloads the module into the module cache if needed; go's answer is appended to LOG.
module_field() {
	local out
	out=$(cd "${TMPDIR:-/tmp}" && GOFLAGS='' go mod download -json "$1" 2>&1) || true
	printf '%s\n' "$out" >>"$3"
	printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"'"$2"'": "\(.*\)",\{0,1\}$/\1/p'
}

write_gomod() { # write_gomod DIR MODULE REQUIRE_LINES...
	local dir=$1 mod=$2
	shift 2
	mkdir -p "$dir/src"
	{
		printf 'module %s\n\ngo 1.26\n\nrequire (\n' "$mod"
		printf '\t%s\n' "$@"
		printf ')\n'
	} >"$dir/src/go.mod"
}

build_pulumi() {
	local dir=$1 v=v$PULUMI_VERSION
	write_gomod "$dir" kubevirt-sriov.local/pulumi \
		"$PULUMI_PKG_MODULE $v" "$PULUMI_SDK_MODULE $v"
	go_build "$dir" "-X $PULUMI_SDK_MODULE/go/common/version.Version=$v" "$PULUMI_PKG_MODULE/cmd/pulumi"
}

# copy_module SRC DIR: our own tool's module (go.mod, go.sum, .go files but tests) into DIR/src,
# checked against the cache key and the SDK version in versions.env. The committed go.mod pins the
# same dependency versions as the CLI's build, so the Go build cache is shared (a 2-4 s build).
copy_module() {
	local src=$1 dir=$2 f have
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	for f in "$src"/go.mod "$src"/go.sum "$src"/*.go; do
		[[ $f == *_test.go ]] || cp -- "$f" "$dir/src/"
	done
	[[ $(src_hash "$dir/src") == "${dir##*-}" ]] || die "$src changed during the build: run ensure again"
	have=$(awk -v m="$PULUMI_SDK_MODULE" '$1 == m { print $2 }' "$dir/src/go.mod")
	[[ $have == "v$PULUMI_VERSION" ]] ||
		die "${src#"$LAB_DIR"/} requires $PULUMI_SDK_MODULE ${have:-(nothing)}, versions.env has v$PULUMI_VERSION"
}

# Our own tools build with -mod=readonly: exactly the committed go.mod and go.sum.
build_pulumi_language_nodejs() {
	local dir=$1
	copy_module "$LANGHOST_SRC" "$dir"
	GOFLAGS=-mod=readonly go_build "$dir" "-X main.version=$PULUMI_VERSION" .
	# Dynamic providers (pulumi.dynamic.Resource): the engine starts pulumi-resource-pulumi-nodejs
	# in the program directory; it runs the npm SDK's dynamic-provider entry point.
	cat >"$dir/bin/.tmp/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
# Generated by lab/toolchain.sh: run the npm SDK's dynamic provider found from the current dir.
script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
exec node "$script" "$@"
EOF
	chmod +x "$dir/bin/.tmp/pulumi-resource-pulumi-nodejs"
}

build_pulumi_resource_command() {
	local dir=$1
	copy_module "$COMMAND_PROVIDER_SRC" "$dir"
	GOFLAGS=-mod=readonly go_build "$dir" "-X main.version=$COMMAND_PROVIDER_VERSION" .
}

build_pulumi_resource_kubernetes() {
	local dir=$1 mdir
	write_gomod "$dir" kubevirt-sriov.local/pulumi-resource-kubernetes \
		"$KUBERNETES_PROVIDER_MODULE $KUBERNETES_PROVIDER_PSEUDO" \
		"$KUBERNETES_SDK_MODULE $KUBERNETES_SDK_VERSION"
	mdir=$(module_field "$KUBERNETES_PROVIDER_MODULE@$KUBERNETES_PROVIDER_PSEUDO" Dir "$dir/build.log")
	[[ -f $mdir/cmd/pulumi-resource-kubernetes/schema.json ]] ||
		die "no schema.json: could not download $KUBERNETES_PROVIDER_MODULE@$KUBERNETES_PROVIDER_PSEUDO?"
	command -v node >/dev/null || die "node is needed to stamp the provider schema"
	# Same as the provider's `go generate`: the schema with its version set, and the terraform
	# mapping, compacted; main.go embeds both.
	node -e '
		const fs = require("fs");
		const [src, dst, ver] = process.argv.slice(1);
		const s = JSON.parse(fs.readFileSync(src + "/schema.json", "utf8"));
		s.version = ver;
		fs.writeFileSync(dst + "/schema-embed.json", JSON.stringify(s));
		const m = JSON.parse(fs.readFileSync(src + "/terraform-mapping.json", "utf8"));
		fs.writeFileSync(dst + "/terraform-mapping-embed.json", JSON.stringify(m));
	' "$mdir/cmd/pulumi-resource-kubernetes" "$dir/src" "$KUBERNETES_PROVIDER_VERSION"
	cat >"$dir/src/main.go" <<'EOF'
// Wrapper main for pulumi-resource-kubernetes (generated by lab/toolchain.sh).
package main

import (
	_ "embed"
	"fmt"
	"os"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var mapping []byte

func main() {
	// The upstream main has no -version flag: answer it here so the toolchain can check builds.
	if len(os.Args) == 2 && (os.Args[1] == "-version" || os.Args[1] == "--version") {
		fmt.Println(version.Version)
		return
	}
	provider.Serve("kubernetes", version.Version, schema, mapping)
}
EOF
	go_build "$dir" "-X $KUBERNETES_PROVIDER_MODULE/pkg/version.Version=$KUBERNETES_PROVIDER_VERSION" .
}

build_kubernetes() {
	local dir=$1 ld
	ld=$(k8s_wrapper "$dir")
	go_build "$dir" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
}

build_etcd() {
	local dir=$1
	write_gomod "$dir" kubevirt-sriov.local/etcd "$ETCD_GO_MODULE $ETCD_GO_VERSION"
	go_build "$dir" "" "$ETCD_GO_MODULE"
	# go names the binary of .../server/v3 "server"
	if [[ -f $dir/bin/.tmp/server ]]; then mv "$dir/bin/.tmp/server" "$dir/bin/.tmp/etcd"; fi
}

# --- node stack (NODE_TOOLS) -------------------------------------------------------------------

# k8s_wrapper DIR: a wrapper module requiring k8s.io/kubernetes with the staging modules replaced
# by their published versions; prints the -X flags that stamp the version.
k8s_wrapper() {
	local dir=$1 v=v$KUBERNETES_VERSION gomod major minor date ld p
	gomod=$(module_field "k8s.io/kubernetes@$v" GoMod "$dir/build.log")
	[[ -f $gomod ]] || die "could not download k8s.io/kubernetes@$v"
	write_gomod "$dir" kubevirt-sriov.local/kubernetes "k8s.io/kubernetes $v"
	# k8s.io/kubernetes replaces its staging modules with ./staging/src/...: use the published ones.
	awk -v sv="$KUBERNETES_STAGING_VERSION" \
		'$1 ~ /^k8s\.io\// && $2 == "=>" && $3 ~ /^\.\/staging\// { print "replace " $1 " => " $1 " " sv }' \
		"$gomod" >>"$dir/src/go.mod"
	major=${KUBERNETES_VERSION%%.*}
	minor=${KUBERNETES_VERSION#*.}
	minor=${minor%%.*}
	date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	ld=""
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
		ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
	done
	echo "$ld"
}

build_kube_node() {
	local dir=$1 ld
	ld=$(k8s_wrapper "$dir")
	go_build "$dir" "$ld" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler
}

build_containerd() {
	local dir=$1 m=$CONTAINERD_MODULE
	write_gomod "$dir" kubevirt-sriov.local/containerd "$m $CONTAINERD_VERSION"
	# As upstream's static release build: no btrfs (cgo headers), no devmapper/zfs snapshotters.
	go_build "$dir" "-X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Package=$m" \
		-tags "no_btrfs no_devmapper no_zfs" "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
}

build_runc() {
	local dir=$1
	write_gomod "$dir" kubevirt-sriov.local/runc "$RUNC_MODULE $RUNC_VERSION"
	pkg-config --exists libseccomp || die "runc needs libseccomp-dev and pkg-config (.ci/install-kubelet-deps.sh)"
	CGO_ENABLED=1 go_build "$dir" "-X main.version=${RUNC_VERSION#v}" -tags seccomp "$RUNC_MODULE"
}

build_cri_tools() {
	local dir=$1
	write_gomod "$dir" kubevirt-sriov.local/cri-tools "$CRI_TOOLS_MODULE $CRI_TOOLS_VERSION"
	go_build "$dir" "-X $CRI_TOOLS_MODULE/pkg/version.Version=$CRI_TOOLS_VERSION" "$CRI_TOOLS_MODULE/cmd/crictl"
}

build_cni_plugins() {
	local dir=$1 p pkgs=()
	write_gomod "$dir" kubevirt-sriov.local/cni-plugins "$CNI_PLUGINS_MODULE $CNI_PLUGINS_VERSION"
	for p in $CNI_PLUGINS; do pkgs+=("$CNI_PLUGINS_MODULE/plugins/$p"); done
	go_build "$dir" "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" "${pkgs[@]}"
}

build_multus() {
	local dir=$1 m=$MULTUS_MODULE c pkgs=() ld
	write_gomod "$dir" kubevirt-sriov.local/multus "$m $MULTUS_VERSION"
	for c in $(tool_binaries multus); do pkgs+=("$m/cmd/$c"); done
	# The -X flags of upstream's hack/build-go.sh.
	ld="-X $m/pkg/multus.version=$MULTUS_VERSION -X $m/pkg/multus.gitTreeState=clean -X $m/pkg/multus.releaseStatus=,released"
	pkgs=("${pkgs[@]/%\/passthru//passthru-cni}") # upstream builds cmd/passthru-cni as bin/passthru
	go_build "$dir" "$ld" "${pkgs[@]}"
	mv -- "$dir/bin/.tmp/passthru-cni" "$dir/bin/.tmp/passthru"
	cp -- "$(module_field "$m@$MULTUS_VERSION" Dir "$dir/build.log")/LICENSE" "$dir/bin/.tmp/LICENSE"
}

# from_archive DIR ARCHIVE SHA256: unpack a release archive of ../shared/upstream into DIR/src.
from_archive() {
	local dir=$1 archive=$SHARED_UPSTREAM/$2 sum=$3
	[[ -f $archive ]] || die "$archive is missing (set KUBEVIRT_SRIOV_UPSTREAM to the folder that has it)"
	echo "$sum  $archive" | sha256sum -c --quiet - >&2 || die "$archive: SHA-256 is not $sum"
	rm -rf "$dir/src"
	mkdir -p "$dir/src"
	tar -xzf "$archive" -C "$dir/src" --strip-components=1
}

build_sriov_dp() {
	local dir=$1
	from_archive "$dir" "$SRIOV_DP_ARCHIVE" "$SRIOV_DP_SHA256"
	go_build "$dir" "" ./cmd/sriovdp
	cp -- "$dir/src/images/entrypoint.sh" "$dir/bin/.tmp/entrypoint.sh"
	# ddptool (Intel DDP profiles), C, from the tarball in images/, with its own makefile as the
	# Dockerfile's ddp-builder stage does; against glibc (the images' Debian bookworm base, like this
	# machine), where upstream links musl on alpine. gcc 12 warns where alpine 3.16's gcc 11 did not
	# (-Waddress, -Warray-bounds on a flexible array member): those two stay warnings.
	mkdir -p "$dir/src/.ddptool"
	tar -xzf "$dir/src/images/ddptool-"*.tar.gz -C "$dir/src/.ddptool"
	(cd "$dir/src/.ddptool" && run_logged "$dir/build.log" make CC="gcc -Wno-error=address -Wno-error=array-bounds") ||
		die "ddptool did not build (gcc, make and linux-libc-dev are needed)"
	cp -- "$dir/src/.ddptool/ddptool" "$dir/bin/.tmp/ddptool"
}

build_sriov_cni() {
	local dir=$1
	from_archive "$dir" "$SRIOV_CNI_ARCHIVE" "$SRIOV_CNI_SHA256"
	go_build "$dir" "" ./cmd/sriov
	cp -- "$dir/src/images/entrypoint.sh" "$dir/bin/.tmp/entrypoint.sh"
}

# ensure_tool TOOL: PATH, cache, or build.
ensure_tool() {
	local tool=$1 dir b have start secs
	dir=$(tool_dir "$tool")
	if [[ $tool == etcd ]]; then
		case ${KUBEVIRT_SRIOV_ETCD:-auto} in
		apt) ensure_etcd_apt && return 0 ;;
		path | auto) use_path etcd && return 0 ;;
		go) ;;
		*) die "KUBEVIRT_SRIOV_ETCD must be apt, go or path" ;;
		esac
		[[ ${KUBEVIRT_SRIOV_ETCD:-auto} == path ]] && die "etcd >= 3.5 not found on PATH"
	elif ! is_node_tool "$tool" && use_path "$tool"; then
		return 0
	fi
	if [[ -f $dir/.done ]]; then
		local complete=1
		for b in $(tool_binaries "$tool"); do [[ -x $dir/bin/$b ]] || complete=0; done
		if ((complete)); then
			is_node_tool "$tool" || for b in $(tool_binaries "$tool"); do link_bin "$b" "$dir/bin/$b"; done
			log "$tool $(tool_version "$tool"): cached in $dir"
			return 0
		fi
		log "$tool $(tool_version "$tool"): cache in $dir is incomplete, rebuilding"
		rm -f "$dir/.done"
	fi
	go_env
	log "building $tool $(tool_version "$tool") (log: $dir/build.log)"
	mkdir -p "$dir"
	: >"$dir/build.log"
	start=$SECONDS
	# in a subshell, so that a builder's `die` fails this tool only
	if ! ("build_${tool//-/_}" "$dir"); then
		log "build of $tool FAILED; last lines of $dir/build.log:"
		tail -n 20 "$dir/build.log" >&2
		return 1
	fi
	for b in $(tool_binaries "$tool"); do
		if [[ ! -x $dir/bin/.tmp/$b ]]; then
			log "$tool: the build produced no $b"
			return 1
		fi
		have=$(reported_version "$b" "$dir/bin/.tmp/$b")
		if ! version_ok "$b" "$have"; then
			log "$tool: built $b reports '${have:-?}', want $(wanted_version "$b")"
			return 1
		fi
		mv -f "$dir/bin/.tmp/$b" "$dir/bin/$b"
	done
	if [[ -d $dir/bin/.tmp ]]; then # extra files a node tool ships (entrypoint.sh, LICENSE)
		find "$dir/bin/.tmp" -maxdepth 1 -type f -exec mv -f -t "$dir/bin" {} +
		rmdir "$dir/bin/.tmp"
	fi
	secs=$((SECONDS - start))
	printf 'version=%s\nbuild_seconds=%s\nbuilt=%s\n' "$(tool_version "$tool")" "$secs" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/.done"
	is_node_tool "$tool" || for b in $(tool_binaries "$tool"); do link_bin "$b" "$dir/bin/$b"; done
	log "built $tool in ${secs}s: $(du -sh "$dir/bin" | cut -f1)"
}

# Debian's etcd-server (3.4.23 in bookworm) is older than kube-apiserver 1.37 supports (3.5+):
# opt-in only, and then the version check accepts what apt installed.
ensure_etcd_apt() {
	if ! command -v etcd >/dev/null; then
		command -v apt-get >/dev/null || return 1
		log "installing $ETCD_APT_PACKAGE with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$ETCD_APT_PACKAGE" >&2 || return 1
	fi
	link_bin etcd "$(command -v etcd)"
	log "using etcd from apt: $(etcd --version | head -n1)"
}

cmd_ensure() {
	local tools=("$@") t failed=()
	((${#tools[@]})) || tools=("${TOOLS[@]}" "${NODE_TOOLS[@]}")
	mkdir -p "$TC"
	exec 9>"$TC/.lock"
	flock 9 || die "could not lock $TC/.lock"
	for t in "${tools[@]}"; do
		tool_version "$t" >/dev/null
		ensure_tool "$t" || failed+=("$t")
	done
	((${#failed[@]} == 0)) || die "not available: ${failed[*]}"
	echo "$BIN"
}

cmd_path() {
	local t b missing=()
	for t in "${TOOLS[@]}"; do
		for b in $(tool_binaries "$t"); do
			[[ -x $BIN/$b ]] || missing+=("$b")
		done
	done
	((${#missing[@]} == 0)) || die "missing in $BIN: ${missing[*]} (run: bash lab/toolchain.sh ensure)"
	echo "$BIN"
}

# cmd_dir TOOL: the bin dir of a built tool (node tools are not linked into the combined bin dir).
cmd_dir() {
	local dir
	dir=$(tool_dir "${1:?usage: toolchain.sh dir TOOL}")
	[[ -f $dir/.done ]] || die "$1 is not built (run: bash lab/toolchain.sh ensure $1)"
	echo "$dir/bin"
}

cmd_status() {
	local t b dir target state secs size
	printf '%-30s %-20s %-8s %-6s %-7s %s\n' BINARY VERSION SOURCE SIZE BUILD_S PATH
	for t in "${TOOLS[@]}" "${NODE_TOOLS[@]}"; do
		dir=$(tool_dir "$t")
		for b in $(tool_binaries "$t"); do
			if is_node_tool "$t"; then
				[[ -x $dir/bin/$b ]] && state=cache || state=missing
				printf '%-30s %-20s %-8s %-6s %-7s %s\n' "$b" "$(tool_version "$t")" "$state" \
					"$(du -h "$dir/bin/$b" 2>/dev/null | cut -f1)" "$(sed -n 's/^build_seconds=//p' "$dir/.done" 2>/dev/null)" "$dir/bin/$b"
				continue
			fi
			target=$(readlink -f "$BIN/$b" 2>/dev/null || true)
			secs=-
			if [[ -z $target || ! -x $target ]]; then
				state=missing
				target=-
				size=-
			else
				size=$(du -Lh "$target" | cut -f1)
				if [[ $BIN/$b -ef $dir/bin/$b ]]; then
					state=cache
					target=$dir/bin/$b
					secs=$(sed -n 's/^build_seconds=//p' "$dir/.done" 2>/dev/null || echo -)
				else
					state=path
				fi
			fi
			printf '%-30s %-20s %-8s %-6s %-7s %s\n' "$b" "$(tool_version "$t")" "$state" "$size" "$secs" "$target"
		done
	done
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	ensure) cmd_ensure "$@" ;;
	path) cmd_path ;;
	dir) cmd_dir "$@" ;;
	status) cmd_status ;;
	tools) printf '%s\n' "${TOOLS[@]}" "${NODE_TOOLS[@]}" ;;
	*)
		sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
