#!/usr/bin/env bash
# Lab toolchain: the Pulumi CLI, its Node.js language host, the kubernetes and command resource
# providers, kube-apiserver + kube-controller-manager and etcd, at the versions in versions.env.
#
#   bash lab/toolchain.sh ensure [TOOL...]  find on PATH (right version) or build; last stdout line = bin dir
#   bash lab/toolchain.sh path               print the bin dir if every tool is there, else fail
#   bash lab/toolchain.sh status             one line per tool: state, version, source, size, build time
#   bash lab/toolchain.sh tools              list tool names
#
# Tools are built from the Go module proxy (no other download site is reachable), each in its own
# small wrapper module generated under the cache, once per machine:
#   ${KUBEVIRT_SRIOV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-sriov}/toolchain/<name>-<version>/
#       src/        generated wrapper module (go.mod, main.go)
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

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# tool_version NAME: the version string that keys the cache dir.
tool_version() {
	case $1 in
	pulumi) echo "$PULUMI_VERSION" ;;
	pulumi-language-nodejs) echo "$PULUMI_VERSION-$PULUMI_LANGHOST_REV" ;;
	pulumi-resource-command) echo "$COMMAND_PROVIDER_VERSION-$COMMAND_PROVIDER_REV" ;;
	pulumi-resource-kubernetes) echo "$KUBERNETES_PROVIDER_VERSION" ;;
	kubernetes) echo "$KUBERNETES_VERSION" ;;
	etcd) echo "${ETCD_GO_VERSION#v}" ;;
	*) die "unknown tool $1 (tools: ${TOOLS[*]})" ;;
	esac
}

# tool_binaries NAME: the executables a tool provides.
tool_binaries() {
	case $1 in
	kubernetes) echo "kube-apiserver kube-controller-manager" ;;
	pulumi-language-nodejs) echo "pulumi-language-nodejs pulumi-resource-pulumi-nodejs" ;;
	*) echo "$1" ;;
	esac
}

tool_dir() { echo "$TC/$1-$(tool_version "$1")"; }

# reported_version BINARY PATH: what the binary says its version is ("" if it does not say).
reported_version() {
	local name=$1 exe=$2 out
	case $name in
	pulumi) out=$("$exe" version 2>/dev/null) || return 0 ;;
	pulumi-resource-pulumi-nodejs) out=$PULUMI_VERSION ;; # a shell script: nothing to ask
	kube-apiserver | kube-controller-manager) out=$("$exe" --version 2>/dev/null | sed -n 's/^Kubernetes v//p') || return 0 ;;
	etcd) out=$("$exe" --version 2>/dev/null | sed -n 's/^etcd Version: //p') || return 0 ;;
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
	esac
}

# version_ok BINARY VERSION: etcd accepts any 3.5+ release (kube-apiserver 1.37 needs >= 3.5);
# everything else must match exactly.
version_ok() {
	local name=$1 have=$2 want
	want=$(wanted_version "$name")
	[[ -n $have ]] || return 1
	if [[ $name == etcd ]]; then
		[[ $have =~ ^3\.([5-9]|[1-9][0-9])\. ]]
	else
		[[ $have == "$want" ]]
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

# The language host and command provider also require pulumi/pkg (unused) so that their
# dependencies resolve to the same versions as the CLI's: the Go build cache is then shared.
build_pulumi_language_nodejs() {
	local dir=$1 v=v$PULUMI_VERSION
	write_gomod "$dir" kubevirt-sriov.local/pulumi-language-nodejs \
		"$PULUMI_PKG_MODULE $v" "$PULUMI_SDK_MODULE $v"
	langhost_source >"$dir/src/main.go"
	go_build "$dir" "-X main.version=$PULUMI_VERSION" .
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
	local dir=$1 v=v$PULUMI_VERSION
	write_gomod "$dir" kubevirt-sriov.local/pulumi-resource-command \
		"$PULUMI_PKG_MODULE $v" "$PULUMI_SDK_MODULE $v"
	command_provider_source >"$dir/src/main.go"
	go_build "$dir" "-X main.version=$COMMAND_PROVIDER_VERSION" .
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
	local dir=$1 v=v$KUBERNETES_VERSION gomod major minor date ld
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
	go_build "$dir" "$ld" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
}

build_etcd() {
	local dir=$1
	write_gomod "$dir" kubevirt-sriov.local/etcd "$ETCD_GO_MODULE $ETCD_GO_VERSION"
	go_build "$dir" "" "$ETCD_GO_MODULE"
	# go names the binary of .../server/v3 "server"
	if [[ -f $dir/bin/.tmp/server ]]; then mv "$dir/bin/.tmp/server" "$dir/bin/.tmp/etcd"; fi
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
	elif use_path "$tool"; then
		return 0
	fi
	if [[ -f $dir/.done ]]; then
		local complete=1
		for b in $(tool_binaries "$tool"); do [[ -x $dir/bin/$b ]] || complete=0; done
		if ((complete)); then
			for b in $(tool_binaries "$tool"); do link_bin "$b" "$dir/bin/$b"; done
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
	rmdir "$dir/bin/.tmp" 2>/dev/null || true
	secs=$((SECONDS - start))
	printf 'version=%s\nbuild_seconds=%s\nbuilt=%s\n' "$(tool_version "$tool")" "$secs" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$dir/.done"
	for b in $(tool_binaries "$tool"); do link_bin "$b" "$dir/bin/$b"; done
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
	((${#tools[@]})) || tools=("${TOOLS[@]}")
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

cmd_status() {
	local t b dir target state secs size
	printf '%-30s %-14s %-8s %-6s %-7s %s\n' BINARY VERSION SOURCE SIZE BUILD_S PATH
	for t in "${TOOLS[@]}"; do
		dir=$(tool_dir "$t")
		for b in $(tool_binaries "$t"); do
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
			printf '%-30s %-14s %-8s %-6s %-7s %s\n' "$b" "$(tool_version "$t")" "$state" "$size" "$secs" "$target"
		done
	done
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
	ensure) cmd_ensure "$@" ;;
	path) cmd_path ;;
	status) cmd_status ;;
	tools) printf '%s\n' "${TOOLS[@]}" ;;
	*)
		sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

# langhost_source: main.go of the lab's own pulumi-language-nodejs (see versions.env for why).
langhost_source() {
	cat <<'GOEOF'
// A small Node.js language host for the Pulumi engine, written for the kubevirt-sriov lab
// toolchain because the upstream pulumi-language-nodejs module is not served by the module
// proxy available here. It runs programs, plugins and policy packs through the npm SDK's own
// entry points (@pulumi/pulumi/cmd/run, cmd/run-plugin, cmd/run-policy-pack).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags -X main.version=...
var version = "3.248.0"

// exitCodeUserActionable is what the Node SDK exits with after printing an actionable error.
const exitCodeUserActionable = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	cancelCtx     context.Context
	cancel        context.CancelFunc
}

type nodeOpts struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parseOpts(info *pulumirpc.ProgramInfo) (nodeOpts, error) {
	o := nodeOpts{typescript: true}
	if info == nil || info.Options == nil {
		return o, nil
	}
	m := info.Options.AsMap()
	if v, ok := m["typescript"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return o, errors.New("runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := m["tsconfig"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return o, errors.New("runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := m["nodeargs"]; ok {
		s, isStr := v.(string)
		if !isStr {
			return o, errors.New("runtime option nodeargs must be a string")
		}
		o.nodeargs = strings.Fields(s)
	}
	return o, nil
}

func (o nodeOpts) env() []string {
	var env []string
	if o.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if o.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+o.tsconfig)
	}
	return env
}

// resolveModule asks node where a module resolves from dir (honours NODE_PATH and parent dirs).
func resolveModule(ctx context.Context, node, dir, mod string) (string, error) {
	script := "try{console.log(require.resolve(" + strconv.Quote(mod) + "))}catch(e){" +
		"console.error(e.code==='MODULE_NOT_FOUND'?'cannot find " + mod +
		": is @pulumi/pulumi installed (npm install)?':e.message);process.exit(1)}"
	cmd := exec.CommandContext(ctx, node, "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", errors.New(strings.TrimSpace(string(ee.Stderr)))
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

type pkgJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       *struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPkg(path string) (*pkgJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p pkgJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// findNodeModules returns the nearest node_modules directory at or above dir.
func findNodeModules(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		nm := filepath.Join(d, "node_modules")
		if st, err := os.Stat(nm); err == nil && st.IsDir() {
			return nm
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// GetRequiredPackages lists the resource plugins declared by top-level packages in node_modules
// ("pulumi": {"resource": true, ...} in their package.json).
func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	nm := findNodeModules(req.GetInfo().GetProgramDirectory())
	if nm == "" {
		return resp, nil
	}
	var dirs []string
	entries, _ := os.ReadDir(nm)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			sub, _ := os.ReadDir(filepath.Join(nm, e.Name()))
			for _, s := range sub {
				dirs = append(dirs, filepath.Join(nm, e.Name(), s.Name()))
			}
		} else if !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(nm, e.Name()))
		}
	}
	sort.Strings(dirs)
	seen := map[string]bool{}
	for _, d := range dirs {
		p, err := readPkg(filepath.Join(d, "package.json"))
		if err != nil || p.Pulumi == nil || !p.Pulumi.Resource {
			continue
		}
		name := p.Pulumi.Name
		if name == "" {
			name = strings.TrimPrefix(strings.TrimPrefix(p.Name, "@pulumi/"), "pulumi-")
		}
		ver := p.Pulumi.Version
		if ver == "" {
			ver = p.Version
		}
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: name, Version: strings.TrimPrefix(ver, "v"), Server: p.Pulumi.Server,
		})
	}
	return resp, nil
}

func configEnv(req *pulumirpc.RunRequest) ([]string, error) {
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		// The Node SDK reads "<namespace>:config:<name>" keys.
		if ns, name, ok := strings.Cut(k, ":"); ok && !strings.HasPrefix(name, "config:") {
			k = ns + ":config:" + name
		}
		cfg[k] = v
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	kj, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	return []string{"PULUMI_CONFIG=" + string(cj), "PULUMI_CONFIG_SECRET_KEYS=" + string(kj)}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{ProgramDirectory: req.GetPwd(), RootDirectory: req.GetPwd(),
			EntryPoint: req.GetProgram()}
	}
	opts, err := parseOpts(info)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on $PATH: " + err.Error()}, nil
	}
	runPath := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH")
	if runPath == "" {
		runPath = "@pulumi/pulumi/cmd/run"
	}
	runPath, err = resolveModule(ctx, node, info.GetProgramDirectory(), runPath)
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runPath)
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	h.mu.Lock()
	engine := h.engineAddress
	h.mu.Unlock()
	add("monitor", req.GetMonitorAddress())
	add("engine", engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", h.tracing)
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	cfgEnv, err := configEnv(req)
	if err != nil {
		return &pulumirpc.RunResponse{Error: "serializing config: " + err.Error()}, nil
	}
	cmdCtx, cmdCancel := context.WithCancel(h.cancelCtx)
	defer cmdCancel()
	stop := context.AfterFunc(ctx, cmdCancel)
	defer stop()
	cmd := exec.CommandContext(cmdCtx, node, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = append(append(os.Environ(), cfgEnv...), opts.env()...)
	// Node may switch its stdio to non-blocking mode, so never hand it our own fds directly.
	cmd.Stdout = struct{ io.Writer }{os.Stdout}
	cmd.Stderr = struct{ io.Writer }{os.Stderr}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ee.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Node.js plugin; kind "analyzer" is a policy pack (no pulumi-analyzer-policy
// binary is needed: the engine routes policy packs here when a language host exists).
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	ctx := server.Context()
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	info := req.GetInfo()
	opts, err := parseOpts(info)
	if err != nil {
		return err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	analyzer := req.GetKind() == "analyzer"
	mod := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		mod = "@pulumi/pulumi/cmd/run-policy-pack"
	} else if p := os.Getenv("PULUMI_LANGUAGE_NODEJS_RUN_PATH"); p != "" {
		mod = p
	}
	runPath, err := resolveModule(ctx, node, info.GetProgramDirectory(), mod)
	if err != nil {
		return err
	}
	args := []string{runPath}
	args = append(args, opts.nodeargs...)
	if analyzer {
		args = append(append(args, req.GetArgs()...), info.GetProgramDirectory())
	} else {
		args = append(append(args, info.GetProgramDirectory()), req.GetArgs()...)
	}
	env := append(append([]string{}, req.GetEnv()...), opts.env()...)

	var proxy *sdk.PolicyProxy
	if analyzer {
		// Policy packs read stack name/config from env, which the engine only hands to an
		// analyzer: let the SDK's proxy take that call, then attach the real pack behind it.
		proxy, stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("starting policy pack proxy: %w", err)
		}
		cfg, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("waiting for stack configuration: %w", err)
		}
		if cfg != nil {
			put := func(k, v string) {
				if v != "" {
					env = append(env, k+"="+v)
				}
			}
			put("PULUMI_NODEJS_ORGANIZATION", cfg.GetOrganization())
			put("PULUMI_NODEJS_PROJECT", cfg.GetProject())
			put("PULUMI_NODEJS_STACK", cfg.GetStack())
			put("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(cfg.GetDryRun()))
			if cfg.GetConfig() != nil {
				b, err := json.Marshal(cfg.GetConfig())
				if err != nil {
					return err
				}
				put("PULUMI_CONFIG", string(b))
			}
		}
	}
	cmd := exec.CommandContext(ctx, node, args...)
	if analyzer {
		cmd.Dir = info.GetProgramDirectory()
	} else {
		cmd.Dir = req.GetPwd()
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not run node: %w", err)
	}
	if proxy != nil {
		if err := proxy.Attach(ctx, cmd); err != nil {
			return fmt.Errorf("attaching policy pack: %w", err)
		}
		return closer.Close()
	}
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("plugin exited with non-zero exit code: %d", ee.ExitCode())
		}
		return err
	}
	return closer.Close()
}

// InstallDependencies runs `npm install` in the program directory.
func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory()
	}
	cmd := exec.CommandContext(server.Context(), "npm", "install")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm install in %s: %w", dir, err)
	}
	return closer.Close()
}

func (h *host) About(ctx context.Context, _ *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

// GetProgramDependencies reports the direct dependencies with their installed versions.
func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := req.GetInfo().GetProgramDirectory()
	p, err := readPkg(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	nm := findNodeModules(dir)
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	names := make([]string, 0, len(p.Dependencies))
	for n := range p.Dependencies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v := p.Dependencies[n]
		if nm != "" {
			if ip, err := readPkg(filepath.Join(nm, n, "package.json")); err == nil && ip.Version != "" {
				v = ip.Version
			}
		}
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: n, Version: v})
	}
	return resp, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	tracing := fs.String("tracing", "", "tracing endpoint (passed to the Node SDK)")
	runtimeName := fs.String("runtime", "nodejs", "only nodejs is supported")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Bool("logtostderr", false, "ignored")
	fs.Bool("logflow", false, "ignored")
	fs.Int("v", 0, "ignored")
	fs.String("root", "", "ignored")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "unsupported runtime %q\n", *runtimeName)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancelCtx, cancel := context.WithCancel(context.Background())
	h := &host{tracing: *tracing, cancelCtx: cancelCtx, cancel: cancel}
	if fs.NArg() > 0 {
		h.engineAddress = fs.Arg(0)
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, stop); err != nil {
			fmt.Fprintf(os.Stderr, "health check: %v\n", err)
			os.Exit(1)
		}
	}
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start language host: %v\n", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d\n", handle.Port)
	_ = w.Flush()
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}
GOEOF
}

# command_provider_source: main.go of the lab's own pulumi-resource-command (see versions.env).
command_provider_source() {
	cat <<'GOEOF'
// A small "command" resource provider for the kubevirt-sriov lab toolchain, written because the
// upstream pulumi-command provider module is not served by the module proxy available here.
// It implements the resources the @pulumi/command 1.2.x SDK registers that the project uses:
//   command:local:Command, command:remote:Command and the command:local:run function,
// with the same property names and the same create/update/delete/triggers semantics.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags -X main.version=...
var version = "1.2.1"

const (
	tokLocal  = "command:local:Command"
	tokRemote = "command:remote:Command"
	tokRun    = "command:local:run"
	envStdout = "PULUMI_COMMAND_STDOUT"
	envStderr = "PULUMI_COMMAND_STDERR"
)

var outputKeys = map[resource.PropertyKey]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

type connection struct {
	Host               string      `json:"host"`
	Port               *float64    `json:"port"`
	User               *string     `json:"user"`
	Password           *string     `json:"password"`
	PrivateKey         *string     `json:"privateKey"`
	PrivateKeyPassword *string     `json:"privateKeyPassword"`
	AgentSocketPath    *string     `json:"agentSocketPath"`
	DialErrorLimit     *float64    `json:"dialErrorLimit"`
	PerDialTimeout     *float64    `json:"perDialTimeout"`
	HostKey            *string     `json:"hostKey"`
	Proxy              *connection `json:"proxy"`
}

type args struct {
	Create                 *string           `json:"create"`
	Update                 *string           `json:"update"`
	Delete                 *string           `json:"delete"`
	Command                *string           `json:"command"` // local:run
	Stdin                  *string           `json:"stdin"`
	Logging                *string           `json:"logging"`
	Environment            map[string]string `json:"environment"`
	AddPreviousOutputInEnv *bool             `json:"addPreviousOutputInEnv"`
	Interpreter            []string          `json:"interpreter"`
	Dir                    *string           `json:"dir"`
	AssetPaths             []string          `json:"assetPaths"`
	ArchivePaths           []string          `json:"archivePaths"`
	Connection             *connection       `json:"connection"`
	Stdout                 string            `json:"stdout"`
	Stderr                 string            `json:"stderr"`
}

var opts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, opts)
}

func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = plain(e)
		}
		return resource.NewArrayProperty(arr)
	case v.IsObject():
		return resource.NewObjectProperty(plainMap(v.ObjectValue()))
	}
	return v
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

func decode(m resource.PropertyMap) (*args, error) {
	b, err := json.Marshal(plainMap(m).Mappable())
	if err != nil {
		return nil, err
	}
	var a args
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("invalid inputs: %w", err)
	}
	return &a, nil
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
	engine    pulumirpc.EngineClient
	cancelCtx context.Context
	cancel    context.CancelFunc
}

func (p *provider) log(ctx context.Context, urn, msg string) {
	if p.engine == nil || urn == "" {
		fmt.Fprintln(os.Stderr, msg)
		return
	}
	_, _ = p.engine.Log(ctx, &pulumirpc.LogRequest{
		Severity: pulumirpc.LogSeverity_INFO, Message: msg, Urn: urn, Ephemeral: true,
	})
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	return &emptypb.Empty{}, nil
}

func checkType(t string) error {
	if t != tokLocal && t != tokRemote {
		return status.Errorf(codes.Unimplemented, "resource type %q is not implemented by this command provider "+
			"(kubevirt-sriov lab build: only %s and %s)", t, tokLocal, tokRemote)
	}
	return nil
}

func typeOf(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		urn = urn[:i]
	}
	if i := strings.LastIndex(urn, "$"); i >= 0 {
		urn = urn[i+1:]
	} else if i := strings.LastIndex(urn, "::"); i >= 0 {
		urn = urn[i+2:]
	}
	return urn
}

func reqType(t, urn string) string {
	if t != "" {
		return t
	}
	return typeOf(urn)
}

func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	if t == tokRemote {
		c := news["connection"]
		if c.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection", Reason: "missing required property 'connection'"})
		} else if pc := plain(c); pc.IsObject() && plain(pc.ObjectValue()["host"]).IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "connection.host", Reason: "missing required property 'host'"})
		}
	}
	for _, k := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
		if v, ok := news[k]; ok && !v.IsNull() {
			failures = append(failures, &pulumirpc.CheckFailure{Property: string(k),
				Reason: "not supported by the kubevirt-sriov lab command provider"})
		}
	}
	return &pulumirpc.CheckResponse{Inputs: req.GetNews(), Failures: failures}, nil
}

func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	var olds resource.PropertyMap
	var err error
	if req.GetOldInputs() != nil {
		olds, err = unmarshal(req.GetOldInputs())
	} else {
		olds, err = unmarshal(req.GetOlds())
	}
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	ignore := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignore[k] = true
	}
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, string(k))
	}
	sort.Strings(sorted)
	for _, ks := range sorted {
		k := resource.PropertyKey(ks)
		if outputKeys[k] || ignore[ks] {
			continue
		}
		o, n := plain(olds[k]), plain(news[k])
		if !n.ContainsUnknowns() && o.DeepEquals(n) {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case o.IsNull():
			kind = pulumirpc.PropertyDiff_ADD
		case n.IsNull():
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if ks == "triggers" {
			kind += 1 // *_REPLACE follows each kind in the enum
			resp.Replaces = append(resp.Replaces, ks)
		}
		resp.Diffs = append(resp.Diffs, ks)
		resp.DetailedDiff[ks] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if name == "" {
		name = "command"
	}
	return name + "-" + hex.EncodeToString(b)
}

// outputs builds the new state: the inputs plus stdout/stderr (unknown during preview).
func outputs(inputs resource.PropertyMap, t string, stdout, stderr *string) (*structpb.Struct, error) {
	out := inputs.Copy()
	for k := range outputKeys {
		delete(out, k)
	}
	if stdout == nil {
		out["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		out["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else {
		out["stdout"] = resource.NewStringProperty(*stdout)
		out["stderr"] = resource.NewStringProperty(*stderr)
	}
	if c, ok := out["connection"]; ok && t == tokRemote && !c.IsSecret() {
		out["connection"] = resource.MakeSecret(c)
	}
	return plugin.MarshalProperties(out, opts)
}

func (p *provider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := outputs(inputs, t, nil, nil)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	a, err := decode(inputs)
	if err != nil {
		return nil, err
	}
	stdout, stderr := "", ""
	if a.Create != nil {
		stdout, stderr, err = p.run(ctx, t, req.GetUrn(), *a.Create, a, "", "")
		if err != nil {
			return nil, err
		}
	}
	props, err := outputs(inputs, t, &stdout, &stderr)
	return &pulumirpc.CreateResponse{Id: newID(req.GetName()), Properties: props}, err
}

func (p *provider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	if req.GetPreview() {
		props, err := outputs(news, t, nil, nil)
		return &pulumirpc.UpdateResponse{Properties: props}, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	old, err := decode(olds)
	if err != nil {
		return nil, err
	}
	a, err := decode(news)
	if err != nil {
		return nil, err
	}
	stdout, stderr := old.Stdout, old.Stderr
	cmd := a.Update
	if cmd == nil {
		cmd = a.Create
	}
	if cmd != nil {
		stdout, stderr, err = p.run(ctx, t, req.GetUrn(), *cmd, a, old.Stdout, old.Stderr)
		if err != nil {
			return nil, err
		}
	}
	props, err := outputs(news, t, &stdout, &stderr)
	return &pulumirpc.UpdateResponse{Properties: props}, err
}

func (p *provider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	t := reqType(req.GetType(), req.GetUrn())
	if err := checkType(t); err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	a, err := decode(state)
	if err != nil {
		return nil, err
	}
	if a.Delete != nil {
		if _, _, err := p.run(ctx, t, req.GetUrn(), *a.Delete, a, a.Stdout, a.Stderr); err != nil {
			return nil, err
		}
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh/import) keeps the recorded state: a command has nothing to read back.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *provider) Invoke(ctx context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	if req.GetTok() != tokRun {
		return nil, status.Errorf(codes.Unimplemented, "function %q is not implemented by this command provider",
			req.GetTok())
	}
	in, err := unmarshal(req.GetArgs())
	if err != nil {
		return nil, err
	}
	a, err := decode(in)
	if err != nil {
		return nil, err
	}
	if a.Command == nil {
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Property: "command",
			Reason: "missing required property 'command'"}}}, nil
	}
	stdout, stderr, err := p.run(ctx, tokLocal, "", *a.Command, a, "", "")
	if err != nil {
		return nil, err
	}
	out := in.Copy()
	out["stdout"] = resource.NewStringProperty(stdout)
	out["stderr"] = resource.NewStringProperty(stderr)
	ret, err := plugin.MarshalProperties(out, opts)
	return &pulumirpc.InvokeResponse{Return: ret}, err
}

// lineLogger forwards complete lines to the engine as status messages.
type lineLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(b), nil
		}
		l.fn(strings.TrimRight(line, "\r\n"))
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.fn(l.buf.String())
		l.buf.Reset()
	}
}

func (p *provider) run(ctx context.Context, t, urn, command string, a *args, prevOut, prevErr string,
) (string, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.cancelCtx, cancel)
	defer stop()

	mode := "stdoutAndStderr"
	if a.Logging != nil {
		mode = *a.Logging
	}
	ll := &lineLogger{fn: func(s string) { p.log(ctx, urn, s) }}
	var outBuf, errBuf, both bytes.Buffer
	outW := []io.Writer{&outBuf, &both}
	errW := []io.Writer{&errBuf, &both}
	if mode == "stdout" || mode == "stdoutAndStderr" {
		outW = append(outW, ll)
	}
	if mode == "stderr" || mode == "stdoutAndStderr" {
		errW = append(errW, ll)
	}
	var mu sync.Mutex // the two streams share `both` and the logger
	stdout := lockedWriter{&mu, io.MultiWriter(outW...)}
	stderr := lockedWriter{&mu, io.MultiWriter(errW...)}
	env := map[string]string{}
	for k, v := range a.Environment {
		env[k] = v
	}
	if a.AddPreviousOutputInEnv == nil || *a.AddPreviousOutputInEnv {
		if prevOut != "" {
			env[envStdout] = prevOut
		}
		if prevErr != "" {
			env[envStderr] = prevErr
		}
	}
	var err error
	if t == tokRemote {
		err = runRemote(ctx, a, command, env, stdout, stderr)
	} else {
		err = runLocal(ctx, a, command, env, stdout, stderr)
	}
	ll.flush()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, command, both.String())
	}
	return strings.TrimSuffix(outBuf.String(), "\n"), strings.TrimSuffix(errBuf.String(), "\n"), nil
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func runLocal(ctx context.Context, a *args, command string, env map[string]string, stdout, stderr io.Writer) error {
	argv := []string{"/bin/sh", "-c"}
	if len(a.Interpreter) > 0 {
		argv = append([]string{}, a.Interpreter...)
	}
	argv = append(argv, command)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if a.Dir != nil {
		cmd.Dir = *a.Dir
	}
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if a.Stdin != nil {
		cmd.Stdin = strings.NewReader(*a.Stdin)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

func sshConfig(c *connection) (*ssh.ClientConfig, error) {
	user := "root"
	if c.User != nil {
		user = *c.User
	}
	var auths []ssh.AuthMethod
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, fmt.Errorf("parsing privateKey: %w", err)
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		auths = append(auths, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range ans {
					ans[i] = pw
				}
				return ans, nil
			}))
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if c.AgentSocketPath != nil {
		sock = *c.AgentSocketPath
	}
	if sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			auths = append(auths, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	hostKey := ssh.InsecureIgnoreHostKey() //nolint:gosec // same as upstream when hostKey is absent
	if c.HostKey != nil && *c.HostKey != "" {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, fmt.Errorf("parsing hostKey: %w", err)
		}
		hostKey = ssh.FixedHostKey(pk)
	}
	timeout := 15 * time.Second
	if c.PerDialTimeout != nil {
		timeout = time.Duration(*c.PerDialTimeout) * time.Second
	}
	return &ssh.ClientConfig{User: user, Auth: auths, HostKeyCallback: hostKey, Timeout: timeout}, nil
}

func (c *connection) addr() string {
	port := 22
	if c.Port != nil {
		port = int(*c.Port)
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func dialOnce(c *connection) (*ssh.Client, error) {
	cfg, err := sshConfig(c)
	if err != nil {
		return nil, err
	}
	if c.Proxy == nil {
		return ssh.Dial("tcp", c.addr(), cfg)
	}
	jump, err := dialOnce(c.Proxy)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", c.Proxy.addr(), err)
	}
	nc, err := jump.Dial("tcp", c.addr())
	if err != nil {
		jump.Close()
		return nil, err
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, c.addr(), cfg)
	if err != nil {
		jump.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

func dial(ctx context.Context, c *connection) (*ssh.Client, error) {
	if c == nil || c.Host == "" {
		return nil, errors.New("connection.host is required")
	}
	limit := 10
	if c.DialErrorLimit != nil {
		limit = int(*c.DialErrorLimit)
	}
	for attempt := 1; ; attempt++ {
		client, err := dialOnce(c)
		if err == nil {
			return client, nil
		}
		if limit >= 0 && attempt >= limit {
			return nil, fmt.Errorf("dial %s failed after %d attempts: %w", c.addr(), attempt, err)
		}
		wait := time.Duration(attempt) * time.Second
		if wait > 10*time.Second {
			wait = 10 * time.Second
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func runRemote(ctx context.Context, a *args, command string, env map[string]string, stdout, stderr io.Writer) error {
	client, err := dial(ctx, a.Connection)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	for k, v := range env {
		if err := session.Setenv(k, v); err != nil {
			if k == envStdout || k == envStderr {
				continue // best effort, as upstream
			}
			return fmt.Errorf("could not set environment variable %q (the SSH server must AcceptEnv it; "+
				"or prefix the command with VAR=value): %w", k, err)
		}
	}
	if a.Stdin != nil {
		session.Stdin = strings.NewReader(*a.Stdin)
	}
	session.Stdout, session.Stderr = stdout, stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(command) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		client.Close()
		return ctx.Err()
	}
}

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.String("tracing", "", "ignored")
	fs.Bool("logtostderr", false, "ignored")
	fs.Bool("logflow", false, "ignored")
	fs.Int("v", 0, "ignored")
	fs.String("root", "", "ignored")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancelCtx, cancel := context.WithCancel(ctx)
	p := &provider{cancelCtx: cancelCtx, cancel: cancel}
	if fs.NArg() > 0 {
		conn, err := grpc.NewClient(fs.Arg(0), grpc.WithTransportCredentials(insecure.NewCredentials()),
			rpcutil.GrpcChannelOptions())
		if err != nil {
			fmt.Fprintf(os.Stderr, "connecting to engine: %v\n", err)
			os.Exit(1)
		}
		p.engine = pulumirpc.NewEngineClient(conn)
	}
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, p)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start provider: %v\n", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d\n", handle.Port)
	_ = w.Flush()
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "provider stopped: %v\n", err)
		os.Exit(1)
	}
}
GOEOF
}

main "$@"
