#!/usr/bin/env bash
# sriov-node.sh: prepare one Kubernetes node's SR-IOV physical functions (PFs) for
# KubeVirt VMs. Shipped inline by components/nodePrep.ts; also installed on the node
# and re-run at boot by kubevirt-sriov-vfs.service, because VFs vanish at reboot.
#
#   sriov-node.sh discover          one line of JSON: IOMMU, vfio, PFs and their VFs
#   sriov-node.sh apply             desired state (render/nodeState.ts) on stdin
#   sriov-node.sh apply-from-state  every owner's saved state (the boot unit)
#   sriov-node.sh revert [owner]    undo one owner's apply; its desired state on stdin, or
#                                   the owner named (or the only one) when there is none
#
# The desired state is the line format defined once, in render/nodeState.ts (STATE_LINE_FIELDS);
# parse_state reads it. The last line of stdout is the JSON report whose schema is
# render/nodeReport.ts. test/unit/nodeprep-format.test.ts fails when either side drifts.
#
# Several owners (<project>/<stack>/<node entry>, the state's `owner` line) may prepare one
# host, each its own PFs. On the host, under /etc/kubevirt-sriov:
#   state/<project>/<stack>/<node>  each owner's desired state, re-applied at boot
#   original/<pci-address>          a PF as the first apply found it, and the owner that claimed it
#   lock                            held (flock) by the running apply, revert or boot run
#   sriov-node.sh                   the copy the boot unit runs and the stack's delete reverts with
#                                   (installed before an apply's first write, removed with the last owner)
#
# Needs bash 4.4+, coreutils, findutils, util-linux (flock), iproute2 and kmod; no jq, no python.
# A PF may be given by a NIC selector instead of a name or address (`select` lines): apply
# resolves it against the node's SR-IOV PFs before anything else, saves the state with the PFs
# it matched (so the boot unit re-applies exactly those), and reports them ("resolved").
# Exit codes: 2 a precondition failed and nothing was changed; 3 a change failed
# midway (re-run after fixing the cause: every step is idempotent); 64 bad input.
#
# Parts, in order: shared globals; messages and JSON; reads; discovery; desired state; NIC
# selectors; checks; lock; writes; persistence; apply and boot; revert; main. The functions of
# the parts up to the checks only read the host.
set -euo pipefail
shopt -s nullglob
umask 022 # files under /etc must be readable whatever umask sudo or sshd handed us

# ================================================================ shared globals
# Every variable that more than one function reads or writes is declared here, with what it
# means; everything else is local. "fills X" in a function's comment names the globals it sets.

# ---- where things are: every path lives under a root that tests move
SYSFS_ROOT=${SYSFS_ROOT:-/sys}
PROC_ROOT=${PROC_ROOT:-/proc}
ETC_ROOT=${ETC_ROOT:-/etc}
DEV_ROOT=${DEV_ROOT:-/dev}
PCI=$SYSFS_ROOT/bus/pci
STATE_DIR=$ETC_ROOT/kubevirt-sriov
ORIG_DIR=$STATE_DIR/original
OWNERS_DIR=$STATE_DIR/state # state/<project>/<stack>/<node>; a plain file here is the pre-owner layout
LOCK_FILE=$STATE_DIR/lock
UNIT=kubevirt-sriov-vfs.service
UNIT_FILE=$ETC_ROOT/systemd/system/$UNIT
GRUB_SNIPPET=$ETC_ROOT/default/grub.d/kubevirt-sriov.cfg
SELF=${BASH_SOURCE[0]} # this script: the copy apply installs is byte for byte this file

# ---- knobs from the environment (whole seconds; checked where used); KERNEL_RELEASE stands in
# for `uname -r` in discover (tests)
LOCK_WAIT=${LOCK_WAIT:-120} # how long to wait for another run to release the lock
# How long to wait for a PF's link before setting VF rates: drivers take rates only with
# carrier (igb refuses max_tx_rate without it), which a PF just brought up lacks for a few
# seconds of autonegotiation.
CARRIER_WAIT=${CARRIER_WAIT:-10}
UDEV_WAIT=${UDEV_WAIT:-60} # how long udev may take to load the driver of new VFs

# ---- the run
WRITES=0                                     # changes made to the host so far; a re-apply makes none
LAST_ERROR=                                  # what the last failed write or command said
NODE=$(uname -n 2>/dev/null || echo unknown) # named in every message; the state's node once parsed
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sriov-node.XXXXXX") # private scratch, removed on exit
ERR_FILE=$WORK/err                           # stderr of the last write or command
LOCKED=0                                     # 1 once this run holds the lock (on_exit tidies up)
LOCK_FD=                                     # the descriptor the lock is held on
MODE=                                        # the cmd_apply running: apply, or boot (installs nothing)

# ---- caches of what sysfs says, stamped with the WRITES or NUMVFS_GEN they were read at.
# The node-wide maps replace per-VF lookups: one readdir per driver and one find
# over class/net instead of several sysfs reads per VF (a PF can have 256 VFs).
MAPS_AT=-1                     # the WRITES that DRV_OF and NET_OF were read at
declare -A DRV_OF=() NET_OF=() # PCI address -> bound driver, -> netdev name (refresh_maps)
# VF addresses and IOMMU groups only change when VFs are recreated (a sriov_numvfs write).
NUMVFS_GEN=0                                # sriov_numvfs writes so far
declare -A INV_KEY=() INV_BDF=() INV_GRP=() # per PF dir: "<count>:<gen>", its VFs' addresses and groups
# Per VF of the PF vf_inventory read last: PCI address, driver, IOMMU group, netdev.
VF_BDF=() VF_DRV=() VF_GRP=() VF_NET=()
# vfio-pci hands a VM the whole IOMMU group, and the kernel lets it only when every other
# device in the group is on vfio-pci, pci-stub or a bridge driver, or on none ("viable").
# Without ACS a NIC's VFs share a group with the PF (still on its host driver): they bind to
# vfio-pci fine, yet no VM can open them. Known only once the VFs exist, so it is reported.
CONFLICTS=() CONFLICTS_AT=-1 # one message per PF with vfio-pci VFs in a non-viable group (vfio_conflicts)
declare -A HOLDERS=()        # IOMMU group -> "pid N (comm)" holding /dev/vfio/<group> open (vfio_holders)
HOLDERS_SCANNED=             # 1 once vfio_holders ran for the current checks
DISCOVER=                    # the discovery JSON object without its closing brace (discover_json)

# ---- the desired state (parse_state): S_* its node-wide lines; P_* one entry per pf or select
# line, in order (a group's pf field indexes them; P_SEL is a select line's
# "<vendor> <device> <pattern> <port> <count> <where>", '-' for a pf line); G_* one per group line
S_SCHEMA='' S_NODE='' S_OWNER='' S_ID_HOST=- S_ID_MID=- S_ALLOW=0 S_PROFILE=-
S_IOMMU=intel S_H1G=0 S_H2M=0 S_BOOT=0
P_NAME=() P_BDF=() P_NUM=() P_MTU=() P_SEL=()
G_PF=() G_FIRST=() G_LAST=() G_DRV=() G_POOL=()
G_TRUST=() G_SPOOF=() G_VLAN=() G_QOS=() G_MIN=() G_MAX=() G_STATE=()
STATE_TEXT=                  # the state with every select line resolved into pf lines: what apply saves
RESOLVED=()                  # "<config-path> <bdf> <name|->" per PF a selector matched
declare -A SELECTED_BY=()    # bdf -> the selector(s) that matched it, for messages
# The node's SR-IOV network PFs (nic_inventory): PCI address, netdev, vendor:device, port on its NIC.
NIC_BDF=() NIC_NAME=() NIC_ID=() NIC_PORT=()
WANT=()                      # per VF of one PF: the driver its group wants (desired_drivers)
KARGS=()                     # kernel arguments the state wants (desired_kernel_args)

# ---- what the checks found, and what apply and revert did
# Per P_ entry, the PF found (resolve_pfs): sysfs dir, PCI address, netdev, "PF <name> (<bdf>)".
R_DIR=() R_BDF=() R_NAME=() R_LABEL=()
ERRORS=()                    # problems found before the first write, each one line
IN_USE=()                    # VFs in use that the change would disrupt (note_disruption)
CLAIMS=()                    # PFs of this state that another owner claimed first (check_claims)
CUR_NUM=()                   # per P_ entry: sriov_numvfs before apply (check_pf), for its record
KCHANGES=()                  # KARGS the running kernel did not boot with (kernel_changes)
HOST_NAME='' HOST_MID=''     # the host's hostname and machine-id, lowercase (host_identity)
# Per VF of one PF, its settings as `ip link` shows them (read_vf_config).
VC_TRUST=() VC_SPOOF=() VC_VLAN=() VC_QOS=() VC_MIN=() VC_MAX=() VC_STATE=()
VF_CHANGES=()                # the settings one VF lacks, one `ip link ... vf N` word list each (vf_changes)
CHANGED=()                   # per P_ entry: 1 when apply changed the PF
REC_NUM='' REC_AP='' REC_UP='' REC_MTU='' REC_OWNER='' # the record read_record read last
OWNERS=()                    # owners with a saved state, sorted (list_owners)
REV_RECS=() OTHERS=()        # the records a revert restores; the owners that stay (revert_plan)
RESTORED=()                  # PCI addresses revert changed

# ---- constants
VFIO=vfio-pci
# The desired state's tokens: the patterns render/nodeState.ts checks before rendering, in ERE.
RE_UINT='^(0|[1-9][0-9]{0,8})$'
RE_OPT_UINT='^(-|0|[1-9][0-9]{0,8})$'
RE_FLAG='^(-|0|1)$'
RE_IFNAME='^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$'
RE_BDF='^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$'
RE_NODE='^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
RE_POOL='^[A-Za-z0-9_.-]{1,63}$'
RE_OWNER='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$'
RE_MACHINE_ID='^[0-9a-f]{32}$'
RE_PCI_ID='^[0-9a-f]{4}$'
RE_PF_PATTERN='^[A-Za-z0-9*?[][]A-Za-z0-9_.*?[-]{0,31}$'
RE_PROFILE='^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
RE_WHERE='^[]A-Za-z0-9_.["-]{1,255}$'
# Each per-VF setting is one `ip link set dev <pf> vf N <words>`, sent in VF_KEYS order
# (the two rates may swap, see vf_changes); CFG_KEY names it in the stack config
# (vfSettings.<key>, and the network's <key> for what the SR-IOV CNI sets).
VF_KEYS=(trust spoofchk vlan min_tx_rate max_tx_rate state)
declare -A CFG_KEY=([trust]=trust [spoofchk]=spoofchk [vlan]=vlan [min_tx_rate]=minTxRate [max_tx_rate]=maxTxRate [state]=linkState)
# Per-VF settings a PF driver is known to refuse, so apply refuses them before its first
# write instead of failing midway. Key: <driver>:<setting>; value: an extended regex of the
# refused values, then what the kernel answers. Measured on Linux 6.12 (Intel 82576):
#   igb:state        igb has no ndo_set_vf_link_state, so every value is EOPNOTSUPP; it
#                    reports "auto" for every VF, so "auto" is already set and never sent.
#   igb:min_tx_rate  igb_ndo_set_vf_bw refuses any nonzero minimum rate (EINVAL).
# Refusals that depend on the moment (igb: max_tx_rate while the PF has no carrier, or
# above the link speed) and drivers not listed here surface at apply time instead: each
# setting goes in its own command, so the refusal names it.
declare -A VF_REFUSED=(
  [igb:state]='^(enable|disable)$ Operation not supported'
  [igb:min_tx_rate]='^[1-9] Invalid argument'
)
# Drivers that take a VF without giving it a kernel netdev (vfio, DPDK's uio, stubs).
NON_NET_DRIVERS=" vfio-pci uio_pci_generic igb_uio pci-stub "

on_exit() {
  rm -rf -- "$WORK"
  # A run that holds the lock and leaves nothing but it (and the script copy) behind, on a host
  # with nothing else of ours (an apply refused on a host never prepared), takes the directory
  # away again; waiters notice (take_lock).
  if ((LOCKED)) && [[ -d $STATE_DIR && ! -e $UNIT_FILE && ! -e $GRUB_SNIPPET &&
    -z $(find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name lock ! -name sriov-node.sh -print -quit 2>/dev/null) ]]; then
    rm -rf -- "$STATE_DIR"
  fi
}
trap on_exit EXIT

# ---------------------------------------------------------------- messages and JSON
log() { printf 'sriov-node[%s]: %s\n' "$NODE" "$*" >&2; }
die() { # die <exit-code> <message>
  local code=$1
  shift
  printf 'sriov-node[%s]: error: %s\n' "$NODE" "$*" >&2
  exit "$code"
}

json_quote() { # json_quote <var> <text>: a JSON string literal
  local _s=$2
  _s=${_s//\\/\\\\}
  _s=${_s//\"/\\\"}
  _s=${_s//[$'\001'-$'\037']/ }
  printf -v "$1" '"%s"' "$_s"
}

json_int() { # json_int <var> <default>: keep an integer, else the default (null, -1, 0)
  local _v=${!1}
  [[ $_v =~ ^-?[0-9]+$ ]] || printf -v "$1" '%s' "$2"
}

json_list() { # json_list <var> <items...>
  local _var=$1 _x _q _out="" _sep=""
  shift
  for _x in "$@"; do
    json_quote _q "$_x"
    _out+="$_sep$_q"
    _sep=,
  done
  printf -v "$_var" '[%s]' "$_out"
}

# ---------------------------------------------------------------- reads (no writes)
# Helpers return through `printf -v <var>` so hot loops fork nothing.
read_attr() { # read_attr <var> <path>: first line of a file, empty if unreadable
  printf -v "$1" '%s' ''
  if [[ -r $2 ]]; then
    IFS= read -r "$1" <"$2" || true
  fi
}

first_entry() { # first_entry <var> <dir>: name of the first entry of a directory
  local _e
  printf -v "$1" '%s' ''
  for _e in "$2"/*; do
    printf -v "$1" '%s' "${_e##*/}"
    return 0
  done
}

refresh_maps() { # DRV_OF[bdf]=driver, NET_OF[bdf]=netdev; rebuilt only after changes
  ((MAPS_AT != WRITES)) || return 0
  declare -gA DRV_OF=() NET_OF=()
  local link drv name target
  for link in "$PCI"/drivers/*/[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:*; do
    drv=${link%/*}
    DRV_OF[${link##*/}]=${drv##*/}
  done
  while read -r name target; do
    target=${target%/net/*}
    # A netdev renamed or removed between find's listing and its readlink has no target: skip it
    # (an empty key is an error in bash; a CI run on a real kernel hit this while VFs appeared).
    [[ -n $name && -n ${target##*/} ]] || continue
    NET_OF[${target##*/}]=$name
  done < <(find "$SYSFS_ROOT/class/net/" -mindepth 1 -maxdepth 1 -type l -printf '%f %l\n' 2>/dev/null || true)
  MAPS_AT=$WRITES
}

vf_inventory() { # vf_inventory <pf-dir> <count>: fills VF_BDF VF_DRV VF_GRP VF_NET
  local pfdir=$1 n=$2 i links=() grp path target
  VF_BDF=() VF_DRV=() VF_GRP=() VF_NET=()
  ((n > 0)) || return 0
  refresh_maps
  if [[ ${INV_KEY[$pfdir]:-} == "$n:$NUMVFS_GEN" ]]; then
    read -r -a VF_BDF <<<"${INV_BDF[$pfdir]}"
    read -r -a VF_GRP <<<"${INV_GRP[$pfdir]}"
  else
    for ((i = 0; i < n; i++)); do links+=("$pfdir/virtfn$i"); done
    mapfile -t VF_BDF < <(readlink -- "${links[@]}" || true)
    ((${#VF_BDF[@]} == n)) || die 3 "$(pf_label_dir "$pfdir"): sriov_numvfs is $n but only ${#VF_BDF[@]} virtfn links exist; cure: re-run apply"
    VF_BDF=("${VF_BDF[@]##*/}")
    local -A grp_of=()
    links=()
    for ((i = 0; i < n; i++)); do links+=("$PCI/devices/${VF_BDF[i]}/iommu_group"); done
    # find prints only the links that exist, each with its own path: no -L test per VF.
    while read -r path target; do
      path=${path%/iommu_group}
      grp_of[${path##*/}]=${target##*/}
    done < <(find "${links[@]}" -maxdepth 0 -type l -printf '%p %l\n' 2>/dev/null || true)
    for ((i = 0; i < n; i++)); do VF_GRP[i]=${grp_of[${VF_BDF[i]}]:--}; done
    INV_KEY[$pfdir]=$n:$NUMVFS_GEN
    INV_BDF[$pfdir]=${VF_BDF[*]}
    INV_GRP[$pfdir]=${VF_GRP[*]}
  fi
  for ((i = 0; i < n; i++)); do
    grp=${VF_GRP[i]}
    [[ $grp != - ]] || VF_GRP[i]=''
    VF_DRV[i]=${DRV_OF[${VF_BDF[i]}]:-}
    VF_NET[i]=${NET_OF[${VF_BDF[i]}]:-}
  done
}

pf_label_dir() { # pf_label_dir <pf-dir>: "PF <name> (<bdf>)"
  local name
  first_entry name "$1/net"
  printf 'PF %s (%s)' "${name:--}" "${1##*/}"
}

pf_has_vfio_vfs() { # pf_has_vfio_vfs <pf-dir> <count>
  local d
  vf_inventory "$1" "$2"
  for d in "${VF_DRV[@]}"; do [[ $d == "$VFIO" ]] && return 0; done
  return 1
}

iommu_groups() { # number of IOMMU groups; 0 means the IOMMU is off
  local g=("$SYSFS_ROOT"/kernel/iommu_groups/*)
  echo "${#g[@]}"
}

vfio_loaded() { [[ -d $PCI/drivers/$VFIO ]]; }
vfio_loadable() { vfio_loaded || modprobe -n -q "$VFIO" >/dev/null 2>&1; }

vfio_holders() { # fills HOLDERS[group]="pid N (comm)" from open /dev/vfio/<group> fds
  local dirs=("$PROC_ROOT"/[0-9]*/fd) line pid comm grp
  declare -gA HOLDERS=()
  ((${#dirs[@]})) || return 0
  while read -r line; do
    pid=${line%% *}
    pid=${pid%/fd}
    pid=${pid##*/}
    grp=${line##*/}
    read_attr comm "$PROC_ROOT/$pid/comm"
    HOLDERS[$grp]="pid $pid (${comm:-?})"
  done < <(find "${dirs[@]}" -maxdepth 1 -lname "$DEV_ROOT/vfio/*" -printf '%h %l\n' 2>/dev/null || true)
}

host_identity() { # HOST_NAME (the kernel's hostname, lowercase) and HOST_MID (/etc/machine-id)
  read_attr HOST_NAME "$PROC_ROOT/sys/kernel/hostname"
  [[ -n $HOST_NAME ]] || HOST_NAME=$(uname -n 2>/dev/null || true)
  HOST_NAME=${HOST_NAME,,}
  read_attr HOST_MID "$ETC_ROOT/machine-id"
  HOST_MID=${HOST_MID,,}
}

read_record() { # read_record <file>: REC_NUM REC_AP REC_UP REC_MTU REC_OWNER, '' where absent
  local k val
  REC_NUM='' REC_AP='' REC_UP='' REC_MTU='' REC_OWNER=''
  [[ -f $1 ]] || return 1
  while read -r k val; do
    case $k in
      numvfs) REC_NUM=$val ;;
      autoprobe) REC_AP=$val ;;
      up) REC_UP=$val ;;
      mtu) REC_MTU=$val ;;
      owner) REC_OWNER=$val ;;
    esac
  done <"$1"
}

list_owners() { # fills OWNERS (sorted) from the saved states under $OWNERS_DIR
  local f
  OWNERS=()
  [[ -d $OWNERS_DIR ]] || return 0
  while IFS= read -r f; do
    [[ ${f#"$OWNERS_DIR"/} =~ $RE_OWNER ]] && OWNERS+=("${f#"$OWNERS_DIR"/}")
  done < <(find "$OWNERS_DIR" -mindepth 3 -maxdepth 3 -type f ! -name '.*' 2>/dev/null | sort)
}

pf_driver() { # pf_driver <var> <pf#>: the driver bound to the PF, empty if none
  local _l=''
  [[ -L ${R_DIR[$2]}/driver ]] && _l=$(readlink -- "${R_DIR[$2]}/driver")
  printf -v "$1" '%s' "${_l##*/}"
}

netdev_attr() { # netdev_attr <var> <pf#> <attr>: an attribute of the PF's netdev, empty if unreadable
  # carrier and speed answer EINVAL while the interface is administratively down.
  printf -v "$1" '%s' ''
  { IFS= read -r "$1" <"${R_DIR[$2]}/net/${R_NAME[$2]}/$3"; } 2>/dev/null || true
}

has_carrier() { # has_carrier <pf#>: carrier, or operstate up where carrier cannot be read
  local c
  netdev_attr c "$1" carrier
  [[ -n $c ]] || { netdev_attr c "$1" operstate && [[ $c == up ]] && c=1; }
  [[ $c == 1 ]]
}

read_vf_config() { # read_vf_config <pf#>: parse `ip link show` vf lines into VC_* arrays
  local line n
  VC_TRUST=() VC_SPOOF=() VC_VLAN=() VC_QOS=() VC_MIN=() VC_MAX=() VC_STATE=()
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]+vf\ ([0-9]+) ]] || continue
    n=${BASH_REMATCH[1]}
    VC_VLAN[n]=0 VC_QOS[n]=0 VC_MIN[n]=0 VC_MAX[n]=0 VC_TRUST[n]='' VC_SPOOF[n]='' VC_STATE[n]=''
    [[ $line =~ ,\ vlan\ ([0-9]+) ]] && VC_VLAN[n]=${BASH_REMATCH[1]}
    [[ $line =~ ,\ qos\ ([0-9]+) ]] && VC_QOS[n]=${BASH_REMATCH[1]}
    [[ $line =~ min_tx_rate\ ([0-9]+) ]] && VC_MIN[n]=${BASH_REMATCH[1]}
    [[ $line =~ max_tx_rate\ ([0-9]+) ]] && VC_MAX[n]=${BASH_REMATCH[1]}
    [[ $line =~ spoof\ checking\ (on|off) ]] && VC_SPOOF[n]=${BASH_REMATCH[1]}
    [[ $line =~ trust\ (on|off) ]] && VC_TRUST[n]=${BASH_REMATCH[1]}
    [[ $line =~ link-state\ (auto|enable|disable) ]] && VC_STATE[n]=${BASH_REMATCH[1]}
  done < <(ip link show dev "${R_NAME[$1]}")
}

# ---------------------------------------------------------------- discovery
vfio_conflicts() { # fills CONFLICTS: one line per PF with vfio-pci VFs in a non-viable group
  local dev num i g p b d n others list=()
  local -A members=() bad=()
  ((CONFLICTS_AT != WRITES)) || return 0
  CONFLICTS=() CONFLICTS_AT=$WRITES
  refresh_maps
  while read -r p; do # <root>/kernel/iommu_groups/<g>/devices/<bdf>
    b=${p##*/}
    p=${p%/devices/*}
    members[${p##*/}]+=" $b"
  done < <(find "$SYSFS_ROOT/kernel/iommu_groups/" -mindepth 3 -maxdepth 3 -path '*/devices/*' 2>/dev/null || true)
  for g in "${!members[@]}"; do
    read -r -a list <<<"${members[$g]}"
    for b in "${list[@]}"; do
      d=${DRV_OF[$b]:-}
      case $d in "" | "$VFIO" | pci-stub | pcieport) ;; *) bad[$g]+=" $b ($d)," ;; esac
    done
  done
  ((${#bad[@]} > 0)) || return 0
  for dev in "$PCI"/devices/*; do
    [[ -e $dev/sriov_numvfs ]] || continue
    read_attr num "$dev/sriov_numvfs"
    json_int num 0
    ((num > 0)) || continue
    vf_inventory "$dev" "$num"
    n=0 others=""
    for i in "${!VF_BDF[@]}"; do
      g=${VF_GRP[i]}
      [[ ${VF_DRV[i]} == "$VFIO" && -n $g && -n ${bad[$g]:-} ]] || continue
      n=$((n + 1))
      [[ $others == *"group $g:"* ]] || others+="; group $g:${bad[$g]%,}"
    done
    ((n == 0)) || CONFLICTS+=("$(pf_label_dir "$dev"): $n vfio-pci VFs share an IOMMU group with devices on other drivers (${others#; }), so no VM can use them; cure: enable ACS (PCIe ACS in the BIOS, or a slot behind an ACS-capable root port), or give this PF driver: netdevice")
  done
}

pf_json() { # pf_json <var> <pf-dir>
  local dev=$2 name="" drv="" v d total num numa state="unknown" mtu="null" op i dq vq vfs="" sep=""
  first_entry name "$dev/net"
  [[ -L $dev/driver ]] && drv=$(readlink -- "$dev/driver") && drv=${drv##*/}
  read_attr v "$dev/vendor"
  read_attr d "$dev/device"
  read_attr total "$dev/sriov_totalvfs"
  read_attr num "$dev/sriov_numvfs"
  read_attr numa "$dev/numa_node"
  if [[ -n $name ]]; then
    read_attr op "$dev/net/$name/operstate"
    case $op in up) state=up ;; down | lowerlayerdown | notpresent) state=down ;; esac
    read_attr mtu "$dev/net/$name/mtu"
    json_quote name "$name"
  else
    name=null
  fi
  if [[ -n $drv ]]; then json_quote drv "$drv"; else drv=null; fi
  json_quote v "$v"
  json_quote d "$d"
  json_int total 0
  json_int num 0
  json_int numa -1
  json_int mtu null
  vf_inventory "$dev" "$num"
  for i in "${!VF_BDF[@]}"; do
    vq="{\"index\":$i,\"pciAddress\":\"${VF_BDF[i]}\",\"driver\":"
    if [[ -n ${VF_DRV[i]} ]]; then json_quote dq "${VF_DRV[i]}" && vq+=$dq; else vq+=null; fi
    vq+=",\"iommuGroup\":"
    if [[ -n ${VF_GRP[i]} ]]; then vq+="\"${VF_GRP[i]}\"}"; else vq+="null}"; fi
    vfs+="$sep$vq"
    sep=,
  done
  printf -v "$1" '%s' "{\"name\":$name,\"pciAddress\":\"${dev##*/}\",\"vendor\":$v,\"device\":$d,\"driver\":$drv,\"totalVfs\":$total,\"numVfs\":$num,\"numaNode\":$numa,\"linkState\":\"$state\",\"mtu\":$mtu,\"vfs\":[$vfs]}"
}

discover_json() { # sets DISCOVER to the discovery JSON object without its closing brace
  local kernel=${KERNEL_RELEASE:-} cmdline groups dev cls q pfs="" sep="" conflicts
  [[ -n $kernel ]] || kernel=$(uname -r)
  read_attr cmdline "$PROC_ROOT/cmdline"
  groups=$(iommu_groups)
  json_quote kernel "$kernel"
  json_quote cmdline "$cmdline"
  for dev in "$PCI"/devices/*; do
    [[ -e $dev/sriov_totalvfs ]] || continue
    read_attr cls "$dev/class"
    [[ $cls == 0x02* ]] || continue # SR-IOV NVMe and accelerators are not ours
    pf_json q "$dev"
    pfs+="$sep$q"
    sep=,
  done
  local loaded=false loadable=false enabled=false
  vfio_loaded && loaded=true
  vfio_loadable && loadable=true
  ((groups > 0)) && enabled=true
  vfio_conflicts
  json_list conflicts "${CONFLICTS[@]}"
  DISCOVER="{\"schema\":1,\"kernel\":$kernel,\"iommu\":{\"enabled\":$enabled,\"groups\":$groups,\"cmdline\":$cmdline},\"vfio\":{\"loaded\":$loaded,\"loadable\":$loadable,\"conflicts\":$conflicts},\"pfs\":[$pfs]"
}

# ---------------------------------------------------------------- desired state
# The line format is render/nodeState.ts's STATE_LINE_FIELDS; the comments of parse_select and
# parse_group name its fields, and test/unit/nodeprep-format.test.ts holds the two together.
bad_state() { die 64 "desired state line $1: $2 (got: $3); cure: regenerate it with render/nodeState.ts"; }

want() { # want <line#> <line> <regex> <value...>
  local ln=$1 line=$2 re=$3 v
  shift 3
  for v in "$@"; do [[ $v =~ $re ]] || bad_state "$ln" "bad token '$v'" "$line"; done
}

parse_state() { # parse_state <text>: fills S_* and P_* / G_* arrays
  local text=$1 ln=0 line kw a=() complete=0
  S_SCHEMA='' S_NODE='' S_OWNER='' S_ID_HOST=- S_ID_MID=- S_ALLOW=0 S_IOMMU=intel S_H1G=0 S_H2M=0 S_BOOT=0 S_PROFILE=-
  P_NAME=() P_BDF=() P_NUM=() P_MTU=() P_SEL=()
  G_PF=() G_FIRST=() G_LAST=() G_DRV=() G_POOL=() G_TRUST=() G_SPOOF=() G_VLAN=() G_QOS=() G_MIN=() G_MAX=() G_STATE=()
  while IFS= read -r line || [[ -n $line ]]; do
    ln=$((ln + 1))
    [[ -n $line ]] || continue
    ((complete == 0)) || bad_state "$ln" "text after 'end'" "$line"
    read -r -a a <<<"$line"
    kw=${a[0]}
    case $kw:${#a[@]} in
      schema:2) [[ ${a[1]} == 1 ]] || bad_state "$ln" "unsupported schema" "$line"; S_SCHEMA=1 ;;
      node:2) want "$ln" "$line" "$RE_NODE" "${a[1]}"; S_NODE=${a[1]} ;;
      owner:2) want "$ln" "$line" "$RE_OWNER" "${a[1]}"; S_OWNER=${a[1]} ;;
      identity:3)
        [[ ${a[1]} == - ]] || want "$ln" "$line" "$RE_NODE" "${a[1]}"
        [[ ${a[2]} == - ]] || want "$ln" "$line" "$RE_MACHINE_ID" "${a[2]}"
        S_ID_HOST=${a[1]} S_ID_MID=${a[2]} ;;
      allow_disruption:2) want "$ln" "$line" '^[01]$' "${a[1]}"; S_ALLOW=${a[1]} ;;
      kernel:5)
        want "$ln" "$line" '^(intel|amd)$' "${a[1]}"
        want "$ln" "$line" "$RE_UINT" "${a[2]}" "${a[3]}"
        want "$ln" "$line" '^[01]$' "${a[4]}"
        S_IOMMU=${a[1]} S_H1G=${a[2]} S_H2M=${a[3]} S_BOOT=${a[4]} ;;
      pf:5)
        [[ ${a[1]} == - ]] || want "$ln" "$line" "$RE_IFNAME" "${a[1]}"
        [[ ${a[2]} == - ]] || want "$ln" "$line" "$RE_BDF" "${a[2]}"
        [[ ${a[1]}${a[2]} != -- ]] || bad_state "$ln" "a PF needs a name or a PCI address" "$line"
        want "$ln" "$line" "$RE_UINT" "${a[3]}"
        want "$ln" "$line" "$RE_OPT_UINT" "${a[4]}"
        P_NAME+=("${a[1]}") P_BDF+=("${a[2]}") P_NUM+=("${a[3]}") P_MTU+=("${a[4]}") P_SEL+=(-) ;;
      select:9) parse_select "$ln" "$line" "${a[@]:1}" ;;
      profile:2) want "$ln" "$line" "$RE_PROFILE" "${a[1]}"; S_PROFILE=${a[1]} ;;
      group:13) parse_group "$ln" "$line" "${a[@]:1}" ;;
      end:1) complete=1 ;;
      *) bad_state "$ln" "unknown line" "$line" ;;
    esac
  done <<<"$text"
  [[ $S_SCHEMA == 1 && -n $S_NODE ]] || die 64 "desired state lacks 'schema 1' or 'node'; cure: regenerate it with render/nodeState.ts"
  ((complete)) || die 64 "desired state is truncated (no 'end' line); cure: re-run"
}

parse_select() { # parse_select <line#> <line> <vendor> <device> <pattern> <port> <count> <numVfs> <mtu> <where>
  local ln=$1 line=$2
  shift 2
  [[ $1 == - ]] || want "$ln" "$line" "$RE_PCI_ID" "$1"
  [[ $2 == - ]] || want "$ln" "$line" "$RE_PCI_ID" "$2"
  [[ $3 == - ]] || want "$ln" "$line" "$RE_PF_PATTERN" "$3"
  [[ $4 == - ]] || want "$ln" "$line" "$RE_UINT" "$4"
  want "$ln" "$line" "$RE_UINT" "$5" "$6"
  want "$ln" "$line" "$RE_OPT_UINT" "$7"
  want "$ln" "$line" "$RE_WHERE" "$8"
  [[ $1$2$3 != --- ]] || bad_state "$ln" "a selector needs a vendor, a device or a name pattern" "$line"
  (($5 >= 1)) || bad_state "$ln" "a selector must match at least 1 PF" "$line"
  P_NAME+=(-) P_BDF+=(-) P_NUM+=("$6") P_MTU+=("$7") P_SEL+=("$1 $2 $3 $4 $5 $8")
}

parse_group() { # parse_group <line#> <line> <pf> <first> <last> <driver> <pool> <trust> <spoofchk> <vlan> <qos> <minTxRate> <maxTxRate> <linkState>
  local ln=$1 line=$2
  shift 2
  want "$ln" "$line" "$RE_UINT" "$1" "$2" "$3"
  want "$ln" "$line" '^(vfio-pci|netdevice)$' "$4"
  want "$ln" "$line" "$RE_POOL" "$5"
  want "$ln" "$line" "$RE_FLAG" "$6" "$7"
  want "$ln" "$line" "$RE_OPT_UINT" "$8" "$9" "${10}" "${11}"
  want "$ln" "$line" '^(-|auto|enable|disable)$' "${12}"
  (($1 < ${#P_NUM[@]})) || bad_state "$ln" "group refers to an unknown PF" "$line"
  (($2 <= $3 && $3 < P_NUM[$1])) || bad_state "$ln" "VF range $2-$3 is outside 0-$((P_NUM[$1] - 1))" "$line"
  local g
  for g in "${!G_PF[@]}"; do
    if ((G_PF[g] == $1 && $2 <= G_LAST[g] && G_FIRST[g] <= $3)); then
      bad_state "$ln" "VF range $2-$3 overlaps ${G_FIRST[g]}-${G_LAST[g]}" "$line"
    fi
  done
  G_PF+=("$1") G_FIRST+=("$2") G_LAST+=("$3") G_DRV+=("$4") G_POOL+=("$5") G_TRUST+=("$6") G_SPOOF+=("$7")
  G_VLAN+=("$8") G_QOS+=("$9") G_MIN+=("${10}") G_MAX+=("${11}") G_STATE+=("${12}")
}

any_vfio() {
  local d
  for d in "${G_DRV[@]}"; do [[ $d == "$VFIO" ]] && return 0; done
  return 1
}

pf_wants_vfio() { # pf_wants_vfio <pf#>
  local g
  for g in "${!G_PF[@]}"; do [[ ${G_PF[g]} == "$1" && ${G_DRV[g]} == "$VFIO" ]] && return 0; done
  return 1
}

desired_drivers() { # desired_drivers <pf#>: fills WANT[vf]=vfio-pci|netdevice for grouped VFs
  local g v
  WANT=()
  for g in "${!G_PF[@]}"; do
    [[ ${G_PF[g]} == "$1" ]] || continue
    for ((v = G_FIRST[g]; v <= G_LAST[g]; v++)); do WANT[v]=${G_DRV[g]}; done
  done
}

group_setting() { # group_setting <var> <group#> <key>: the group's words for one setting, empty when unset
  local _g=$2 _w=''
  case $3 in
    trust) case ${G_TRUST[_g]} in 1) _w="trust on" ;; 0) _w="trust off" ;; esac ;;
    spoofchk) case ${G_SPOOF[_g]} in 1) _w="spoofchk on" ;; 0) _w="spoofchk off" ;; esac ;;
    vlan)
      [[ ${G_VLAN[_g]} == - ]] || _w="vlan ${G_VLAN[_g]}"
      [[ -z $_w || ${G_QOS[_g]} == - ]] || _w+=" qos ${G_QOS[_g]}" ;;
    min_tx_rate) [[ ${G_MIN[_g]} == - ]] || _w="min_tx_rate ${G_MIN[_g]}" ;;
    max_tx_rate) [[ ${G_MAX[_g]} == - ]] || _w="max_tx_rate ${G_MAX[_g]}" ;;
    state) [[ ${G_STATE[_g]} == - ]] || _w="state ${G_STATE[_g]}" ;;
  esac
  printf -v "$1" '%s' "$_w"
}

vf_span() { # vf_span <var> <group#>: "VF 3" or "VFs 0-3"
  if ((G_FIRST[$2] == G_LAST[$2])); then
    printf -v "$1" 'VF %s' "${G_FIRST[$2]}"
  else
    printf -v "$1" 'VFs %s-%s' "${G_FIRST[$2]}" "${G_LAST[$2]}"
  fi
}

desired_kernel_args() { # fills KARGS: IOMMU for vfio-pci, boot-time hugepages
  KARGS=()
  if any_vfio; then
    if [[ $S_IOMMU == intel ]]; then KARGS+=(intel_iommu=on iommu=pt); else KARGS+=(iommu=pt); fi
  fi
  local def=""
  ((S_H1G > 0)) && def=1G
  [[ -z $def ]] && ((S_H2M > 0)) && def=2M
  [[ -z $def ]] || KARGS+=("default_hugepagesz=$def")
  ((S_H1G == 0)) || KARGS+=(hugepagesz=1G "hugepages=$S_H1G")
  ((S_H2M == 0)) || KARGS+=(hugepagesz=2M "hugepages=$S_H2M")
}

# ---------------------------------------------------------------- NIC selectors (no writes)
# A `select` entry describes PFs instead of naming one. Before anything reads the PF arrays,
# resolve_selectors rewrites the state with the PFs each selector matches on this node (by PCI
# address, groups repeated for each), or collects a problem naming node, profile and selector.
nic_inventory() { # NIC_BDF NIC_NAME NIC_ID (vendor:device) NIC_PORT of this node's SR-IOV network PFs
  local dev cls id name slot seen='' port=0
  NIC_BDF=() NIC_NAME=() NIC_ID=() NIC_PORT=()
  for dev in "$PCI"/devices/*; do
    read_attr cls "$dev/class"
    [[ $cls == 0x02* && ! -e $dev/physfn ]] || continue # network functions, not VFs
    # A port is its function's place among the NIC's network functions (one PCI device).
    slot=${dev##*/}
    slot=${slot%.*}
    if [[ $slot == "$seen" ]]; then port=$((port + 1)); else seen=$slot port=0; fi
    [[ -e $dev/sriov_totalvfs ]] || continue
    read_attr id "$dev/vendor"
    read_attr name "$dev/device"
    id=${id#0x}:${name#0x}
    first_entry name "$dev/net"
    NIC_BDF+=("${dev##*/}") NIC_NAME+=("${name:--}") NIC_ID+=("${id,,}") NIC_PORT+=("$port")
  done
}

nic_matches() { # nic_matches <nic#> <vendor> <device> <pattern> <port> ('-': any)
  local k=$1
  [[ $2 == - || ${NIC_ID[k]%:*} == "$2" ]] && [[ $3 == - || ${NIC_ID[k]#*:} == "$3" ]] || return 1
  # shellcheck disable=SC2053 # the name pattern is a glob on purpose
  [[ $4 == - || (${NIC_NAME[k]} != - && ${NIC_NAME[k]} == $4) ]] && [[ $5 == - || ${NIC_PORT[k]} == "$5" ]]
}

selector_words() { # selector_words <var> <vendor> <device> <pattern> <port>: "vendor 8086, device 1593, port 0"
  local _w=""
  [[ $2 == - ]] || _w+=", vendor $2"
  [[ $3 == - ]] || _w+=", device $3"
  [[ $4 == - ]] || _w+=", name $4"
  [[ $5 == - ]] || _w+=", port $5"
  printf -v "$1" '%s' "${_w#, }"
}

nic_list() { # nic_list <var> <nic#...>: "ens1f0 (0000:3b:00.0, 8086:1593, port 0), ..."
  local _var=$1 _k _out=""
  shift
  for _k in "$@"; do _out+="${_out:+, }${NIC_NAME[_k]} (${NIC_BDF[_k]}, ${NIC_ID[_k]}, port ${NIC_PORT[_k]})"; done
  printf -v "$_var" '%s' "${_out:-none}"
}

selector_problem() { # selector_problem <where> <vendor> <device> <pattern> <port> <count> <nic#...>: one to ERRORS
  local where=$1 count=$6 words found have cure who="node $S_NODE"
  selector_words words "$2" "$3" "$4" "$5"
  shift 6
  [[ $S_PROFILE == - ]] || who+=" (profile $S_PROFILE)"
  nic_list found "$@"
  nic_list have "${!NIC_BDF[@]}"
  cure="fix the selector (lspci -nn shows vendor:device; a port counts from 0 on each NIC)"
  (($# == 0)) || cure+=", narrow it down (device, name, port) or set its count to $# if every one is meant"
  ERRORS+=("$who: the NIC selector $where ($words) matches $# PF(s) (${found}), $count expected; SR-IOV PFs on this node: $have; cure: $cure, or give node $S_NODE its own physicalFunctions")
}

note_selected() { # fills SELECTED_BY from RESOLVED, and logs each match
  local line where bdf name
  for line in "${RESOLVED[@]}"; do
    read -r where bdf name <<<"$line"
    SELECTED_BY[$bdf]+="${SELECTED_BY[$bdf]:+ and }$where"
    log "NIC selector $where matched PF $name ($bdf)"
  done
}

resolve_selectors() { # resolve_selectors <state-text>: STATE_TEXT with every select entry resolved; RESOLVED; problems to ERRORS
  local line a=() i=-1 n=0 k any=0 vendor device pattern port count where js=()
  local -a map=() lines=() hits=()
  ERRORS=() RESOLVED=() STATE_TEXT=$1
  for k in "${P_SEL[@]}"; do [[ $k == - ]] || any=1; done
  ((any)) || return 0
  nic_inventory
  while IFS= read -r line; do
    read -r -a a <<<"$line"
    case ${a[0]:-} in
      pf)
        i=$((i + 1)) map[i]=$n n=$((n + 1))
        lines+=("$line") ;;
      select)
        i=$((i + 1)) map[i]=''
        vendor=${a[1]} device=${a[2]} pattern=${a[3]} port=${a[4]} count=${a[5]} where=${a[8]} hits=()
        for k in "${!NIC_BDF[@]}"; do
          if nic_matches "$k" "$vendor" "$device" "$pattern" "$port"; then hits+=("$k"); fi
        done
        if ((${#hits[@]} != count)); then
          selector_problem "$where" "$vendor" "$device" "$pattern" "$port" "$count" "${hits[@]}"
          continue
        fi
        for k in "${hits[@]}"; do
          map[i]+=" $n" n=$((n + 1))
          lines+=("pf - ${NIC_BDF[k]} ${a[6]} ${a[7]}")
          RESOLVED+=("$where ${NIC_BDF[k]} ${NIC_NAME[k]}")
        done ;;
      group)
        read -r -a js <<<"${map[a[1]]}"
        for k in "${js[@]}"; do lines+=("group $k ${a[*]:2}"); done ;;
      *) lines+=("$line") ;;
    esac
  done <<<"$1"
  ((${#ERRORS[@]} == 0)) || return 1
  printf -v STATE_TEXT '%s\n' "${lines[@]}"
  STATE_TEXT=${STATE_TEXT%$'\n'}
  note_selected
}

# ---------------------------------------------------------------- checks (no writes)
check_all() { # every precondition, before any write
  local i
  ERRORS=() IN_USE=() CUR_NUM=() CLAIMS=()
  HOLDERS_SCANNED=''
  resolve_pfs
  for i in "${!R_DIR[@]}"; do check_pf "$i"; done
  check_duplicates
  check_claims
  if any_vfio; then
    if (($(iommu_groups) == 0)); then
      local cure="add intel_iommu=on iommu=pt (Intel) or iommu=pt (AMD) to the kernel command line and reboot"
      [[ $S_IOMMU == amd ]] && cure="enable AMD-Vi in the BIOS, add iommu=pt (AMD) to the kernel command line and reboot"
      ERRORS+=("the IOMMU is off ($SYSFS_ROOT/kernel/iommu_groups is empty) but VFs of $(vfio_pf_labels) must go to vfio-pci; cure: $cure")
    fi
    if ! vfio_loadable; then
      ERRORS+=("the vfio-pci driver is not available (modprobe -n vfio-pci fails and $PCI/drivers/vfio-pci is absent) but VFs of $(vfio_pf_labels) need it; cure: install the kernel's vfio-pci module (linux-modules-extra on Ubuntu) or build it in")
    fi
  fi
  if ((${#IN_USE[@]})) && ((S_ALLOW == 0)); then
    for i in "${IN_USE[@]}"; do ERRORS+=("$i"); done
    ERRORS+=("refusing to disrupt VFs in use; cure: stop the VMs and pods using them (drain node $S_NODE) and re-run, or set allowDisruption: true")
  fi
  ERRORS+=("${CLAIMS[@]}")
  if ((${#ERRORS[@]})); then
    for i in "${ERRORS[@]}"; do log "error: $i"; done
    return 1
  fi
  ((${#IN_USE[@]} == 0)) || log "allowDisruption is set: disrupting ${#IN_USE[@]} VF(s) in use"
}

# ---- the PFs: present, SR-IOV capable, room for the VFs, a driver
resolve_pfs() { # fills R_DIR R_BDF R_NAME R_LABEL; appends problems to ERRORS
  local i dir bdf name target
  R_DIR=() R_BDF=() R_NAME=() R_LABEL=()
  for i in "${!P_NUM[@]}"; do
    dir='' bdf=${P_BDF[i]} name=${P_NAME[i]}
    R_LABEL[i]="PF ${name:--} (${bdf:--})"
    if [[ $name != - ]]; then
      if [[ ! -e $SYSFS_ROOT/class/net/$name/device ]]; then
        ERRORS+=("${R_LABEL[i]} not found on this node: no $SYSFS_ROOT/class/net/$name/device; present SR-IOV PFs: $(present_pfs); cure: fix the PF name or pciAddress for node $S_NODE in the stack config")
        continue
      fi
      target=$(readlink -f -- "$SYSFS_ROOT/class/net/$name/device")
      if [[ $bdf != - && ${target##*/} != "$bdf" ]]; then
        ERRORS+=("${R_LABEL[i]}: interface $name is PCI device ${target##*/}, not $bdf; cure: make name and pciAddress agree in the stack config")
        continue
      fi
      bdf=${target##*/}
    elif [[ ! -e $PCI/devices/$bdf ]]; then
      ERRORS+=("${R_LABEL[i]} not found on this node: no $PCI/devices/$bdf; present SR-IOV PFs: $(present_pfs); cure: fix the PF pciAddress for node $S_NODE in the stack config")
      continue
    fi
    dir=$PCI/devices/$bdf
    [[ $name != - ]] || first_entry name "$dir/net"
    R_DIR[i]=$dir R_BDF[i]=$bdf R_NAME[i]=$name
    R_LABEL[i]="PF ${name:--} ($bdf)"
    [[ -z ${SELECTED_BY[$bdf]:-} ]] || R_LABEL[i]="PF ${name:--} ($bdf, matched by ${SELECTED_BY[$bdf]})"
  done
}

present_pfs() {
  local dev name out=""
  for dev in "$PCI"/devices/*; do
    [[ -e $dev/sriov_totalvfs ]] || continue
    first_entry name "$dev/net"
    out+="${out:+, }${name:--} (${dev##*/})"
  done
  echo "${out:-none}"
}

check_pf() { # check_pf <pf#>: capability, VF count, driver, disruption
  local i=$1 dir=${R_DIR[$1]} label=${R_LABEL[$1]} total num want=${P_NUM[$1]} v cur
  if [[ ! -e $dir/sriov_totalvfs ]]; then
    ERRORS+=("$label is not SR-IOV capable: no sriov_totalvfs; cure: choose an SR-IOV capable PF, or enable SR-IOV in the NIC firmware and BIOS")
    return 0
  fi
  read_attr total "$dir/sriov_totalvfs"
  read_attr num "$dir/sriov_numvfs"
  if ((want > total)); then
    ERRORS+=("$label supports at most $total VFs (sriov_totalvfs) but $want were requested; cure: set numVfs to $total or less")
  fi
  if [[ ! -L $dir/driver ]]; then
    ERRORS+=("$label has no driver bound, so the kernel cannot create VFs; cure: load the NIC driver and check dmesg")
  fi
  if [[ ${R_NAME[i]} == "" || ${R_NAME[i]} == - ]] && pf_has_link_settings "$i"; then
    ERRORS+=("$label has no network interface, so MTU and per-VF settings cannot be applied; cure: bind the PF to its network driver")
  fi
  check_vf_refusals "$i"
  CUR_NUM[i]=$num
  vf_inventory "$dir" "$num"
  desired_drivers "$i"
  for v in "${!VF_BDF[@]}"; do
    cur=${VF_DRV[v]}
    if ((num != want)); then
      note_disruption "$i" "$v" "changing the VF count from $num to $want destroys it"
    elif [[ -n ${WANT[v]:-} ]] && ! driver_ok "${WANT[v]}" "$cur"; then
      note_disruption "$i" "$v" "rebinding it from ${cur:-no driver} to ${WANT[v]} interrupts it"
    fi
  done
}

pf_has_link_settings() { # pf_has_link_settings <pf#>: MTU or any per-VF setting configured
  local g k
  [[ ${P_MTU[$1]} != - ]] && return 0
  for g in "${!G_PF[@]}"; do
    [[ ${G_PF[g]} == "$1" ]] || continue
    for k in "${G_TRUST[g]}" "${G_SPOOF[g]}" "${G_VLAN[g]}" "${G_QOS[g]}" "${G_MIN[g]}" "${G_MAX[g]}" "${G_STATE[g]}"; do
      [[ $k == - ]] || return 0
    done
  done
  return 1
}

# ---- per-VF settings the PF's driver is known to refuse
drop_cure() { # drop_cure <var> <words> <group#>: the cure for a setting the driver refuses
  local key=${2%% *} where
  where="vfSettings.${CFG_KEY[$key]} / the network's ${CFG_KEY[$key]}"
  [[ $key != vlan ]] || where="the network's vlan / vlanQoS"
  printf -v "$1" "drop '%s' (%s) for pool %s" "$2" "$where" "${G_POOL[$3]}"
}

check_vf_refusals() { # check_vf_refusals <pf#>: settings in VF_REFUSED for the PF's driver
  local i=$1 drv g key rule words span cure
  pf_driver drv "$i"
  [[ -n $drv ]] || return 0
  for g in "${!G_PF[@]}"; do
    [[ ${G_PF[g]} == "$i" ]] || continue
    for key in "${VF_KEYS[@]}"; do
      rule=${VF_REFUSED[$drv:$key]:-}
      [[ -n $rule ]] || continue
      group_setting words "$g" "$key"
      [[ -n $words && ${words#* } =~ ${rule%% *} ]] || continue
      vf_span span "$g"
      drop_cure cure "$words" "$g"
      ERRORS+=("${R_LABEL[i]} on node $S_NODE: driver $drv refuses '$words' on $span (${rule#* }); cure: $cure")
    done
  done
}

# ---- VFs in use that the change would disrupt
driver_ok() { # driver_ok <wanted> <current-driver>
  # A netdevice VF counts by its driver, not its netdev: a pod may have moved the netdev
  # into its own network namespace, out of the host's sysfs view.
  if [[ $1 == "$VFIO" ]]; then [[ $2 == "$VFIO" ]]; else [[ -n $2 && $NON_NET_DRIVERS != *" $2 "* ]]; fi
}

note_disruption() { # note_disruption <pf#> <vf> <why>: record the VF if something uses it
  local i=$1 v=$2 why=$3 bdf=${VF_BDF[$2]} drv=${VF_DRV[$2]} net=${VF_NET[$2]} grp=${VF_GRP[$2]} flags addr use=""
  if [[ -z ${HOLDERS_SCANNED:-} ]]; then
    vfio_holders
    HOLDERS_SCANNED=1
  fi
  if [[ -n $grp && -n ${HOLDERS[$grp]:-} ]]; then
    use="its vfio group $grp is held open by ${HOLDERS[$grp]}"
  elif [[ -n $net ]]; then
    read_attr flags "$PCI/devices/$bdf/net/$net/flags"
    if ((${flags:-0} & 1)); then
      # Link-local addresses come with every up interface; only global ones mean use.
      addr=$(ip -o addr show dev "$net" scope global 2>/dev/null || true)
      if [[ $addr =~ inet6?\ ([^ ]+) ]]; then
        use="its netdev $net is up with address ${BASH_REMATCH[1]}"
      fi
    fi
  elif [[ -n $drv && $NON_NET_DRIVERS != *" $drv "* ]]; then
    # Bound to a net driver but no netdev in our sysfs: it lives in another network
    # namespace, which is what the SR-IOV CNI does for a pod.
    use="its $drv netdev is not in the host network namespace (a pod has it)"
  fi
  [[ -n $use ]] || return 0
  IN_USE+=("${R_LABEL[i]}: VF $v ($bdf) is in use: $use; $why")
}

check_duplicates() {
  local i j
  for i in "${!R_BDF[@]}"; do
    for j in "${!R_BDF[@]}"; do
      if ((i < j)) && [[ ${R_BDF[i]} == "${R_BDF[j]}" ]]; then
        if [[ -n ${SELECTED_BY[${R_BDF[j]}]:-} ]]; then
          ERRORS+=("${R_LABEL[j]} is listed twice in the desired state; cure: list each PF once: narrow the NIC selector so it matches none of the PFs the node lists by name, address or another selector")
        else
          ERRORS+=("${R_LABEL[j]} is listed twice in the desired state; cure: list each PF once")
        fi
      fi
    done
  done
}

# ---- owners and the host's identity
check_claims() { # fills CLAIMS: PFs of this state that another owner's first apply recorded
  local i rec
  [[ -n $S_OWNER ]] || return 0 # a state saved before owners existed claims nothing
  for i in "${!R_BDF[@]}"; do
    rec=$ORIG_DIR/${R_BDF[i]}
    read_record "$rec" || continue
    [[ -n $REC_OWNER && $REC_OWNER != "$S_OWNER" ]] || continue
    CLAIMS+=("${R_LABEL[i]} is claimed by two owners: $REC_OWNER (its first apply recorded it in $rec) and $S_OWNER (this apply); a PF has one owner; cure: if $REC_OWNER is this node entry under its old name, or an entry that points at this host by mistake, remove it from its stack and run pulumi up there (that reverts it), then re-run; if $REC_OWNER is gone for good, release its PFs on this host with: bash $STATE_DIR/sriov-node.sh revert $REC_OWNER; otherwise drop ${R_LABEL[i]} from one of the two configs")
  done
}

check_identity() { # is this the node the state is for? Refuses before any write, lock or record.
  local want found cure
  host_identity
  found="hostname ${HOST_NAME:-(none)}, machine-id ${HOST_MID:-(none)}"
  cure="cure: if nodes[].ssh.host of node $S_NODE points at the wrong machine, fix it in the stack config"
  if [[ $S_ID_MID != - ]]; then
    [[ $HOST_MID == "$S_ID_MID" ]] ||
      die 2 "this host is not node $S_NODE: the stack config pins machine-id $S_ID_MID (nodes[].identity.machineId), this host has $found; nothing was changed; $cure; if the node was reinstalled (a new machine-id), set identity.machineId: ${HOST_MID:-<cat /etc/machine-id>}"
    [[ $S_ID_HOST != - ]] || return 0
  fi
  want=$S_ID_HOST
  [[ $want != - ]] || want=$S_NODE
  # The kubelet names a node after the hostname, short or fully qualified.
  [[ -n $HOST_NAME ]] && [[ $HOST_NAME == "$want" || ${HOST_NAME%%.*} == "$want" || $HOST_NAME == "${want%%.*}" ]] && return 0
  if [[ $S_ID_HOST == - ]]; then
    die 2 "this host is not node $S_NODE: expected the hostname $S_NODE (or $S_NODE.<domain>), this host has $found; nothing was changed; $cure; if this is node $S_NODE under another hostname (kubelet --hostname-override), set nodes[].identity.hostname: $HOST_NAME (or identity.machineId: ${HOST_MID:-<its /etc/machine-id>})"
  fi
  die 2 "this host is not node $S_NODE: the stack config expects the hostname $want (nodes[].identity.hostname), this host has $found; nothing was changed; $cure; if the host was renamed, set identity.hostname: $HOST_NAME"
}

vfio_pf_labels() {
  local i out=""
  for i in "${!P_NUM[@]}"; do
    pf_wants_vfio "$i" && out+="${out:+, }${R_LABEL[i]:-PF ${P_NAME[i]} (${P_BDF[i]})}"
  done
  echo "$out"
}

# ---- the kernel command line
hp_size() { local s=${1^^}; echo "${s%B}"; }

kernel_changes() { # fills KCHANGES: desired args the running kernel did not boot with
  local cmdline tok size="" def="" huge_ok=1 a toks=()
  local -A have=() pages=()
  read_attr cmdline "$PROC_ROOT/cmdline"
  read -r -a toks <<<"$cmdline"
  for tok in "${toks[@]}"; do
    have[$tok]=1
    case $tok in
      default_hugepagesz=*) def=$(hp_size "${tok#*=}") ;;
      hugepagesz=*) size=$(hp_size "${tok#*=}") ;;
      hugepages=*) pages[${size:-default}]=${tok#*=} ;;
    esac
  done
  KCHANGES=()
  desired_kernel_args
  for a in "${KARGS[@]}"; do
    case $a in
      intel_iommu=on) (($(iommu_groups) > 0)) || [[ -n ${have[$a]:-} ]] || KCHANGES+=("$a") ;;
      iommu=pt) [[ -n ${have[$a]:-} ]] || KCHANGES+=("$a") ;;
    esac
  done
  if ((S_H1G > 0)); then [[ $def == 1G && ${pages[1G]:-} == "$S_H1G" ]] || huge_ok=0; fi
  if ((S_H2M > 0)); then
    [[ ${pages[2M]:-} == "$S_H2M" ]] || huge_ok=0
    ((S_H1G > 0)) || [[ $def == 2M ]] || huge_ok=0
  fi
  ((huge_ok)) && return 0
  for a in "${KARGS[@]}"; do [[ $a == *huge* ]] && KCHANGES+=("$a"); done
  return 0
}

# ---------------------------------------------------------------- lock
take_lock() { # take_lock <verb> <owner>: one run at a time on a host, for the whole run
  local holder pid
  [[ $LOCK_WAIT =~ ^[0-9]{1,5}$ ]] || die 64 "LOCK_WAIT must be whole seconds (got: $LOCK_WAIT)"
  command -v flock >/dev/null || die 2 "flock is missing, so runs cannot exclude each other; nothing was changed; cure: install util-linux"
  while :; do
    if ! mkdir -p -- "$STATE_DIR" 2>/dev/null || ! { exec {LOCK_FD}>>"$LOCK_FILE"; } 2>/dev/null; then
      die 2 "cannot create the lock file $LOCK_FILE (is $ETC_ROOT writable?); nothing was changed; cure: check the file system, then re-run"
    fi
    if ! flock -n "$LOCK_FD"; then
      read_attr holder "$LOCK_FILE"
      log "waiting up to ${LOCK_WAIT}s for $LOCK_FILE, held by ${holder:-another run}"
      if ! flock -w "$LOCK_WAIT" "$LOCK_FD"; then
        read_attr holder "$LOCK_FILE"
        pid=${holder#pid }
        die 2 "another run holds $LOCK_FILE: ${holder:-unknown holder}; waited ${LOCK_WAIT}s; nothing was changed; cure: let that run finish (the boot unit $UNIT, or another stack's pulumi up or destroy on this host), then re-run; if it hangs, look at it with: ps -o pid,etime,args -p ${pid%% *}"
      fi
    fi
    # The last revert removes the whole directory, lock file included, while waiters hold
    # the old file open: only a lock on the file that is there now counts.
    [[ -e $LOCK_FILE && $LOCK_FILE -ef /dev/fd/$LOCK_FD ]] && break
    exec {LOCK_FD}>&-
  done
  LOCKED=1
  printf 'pid %s %s for %s since %s\n' "$$" "$1" "${2:--}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$LOCK_FILE"
}

# ---------------------------------------------------------------- writes
# Every change to the node goes through sysfs_write, run_change or put_file so the
# run can say how many changes it made; a re-apply of the same state makes none.
sysfs_write() { # sysfs_write <path> <value>
  WRITES=$((WRITES + 1))
  [[ $1 != */sriov_numvfs ]] || NUMVFS_GEN=$((NUMVFS_GEN + 1))
  if ! printf '%s\n' "$2" 2>"$ERR_FILE" >"$1"; then
    read_attr LAST_ERROR "$ERR_FILE"
    LAST_ERROR=${LAST_ERROR##*: }
    return 1
  fi
}

run_change() { # run_change <command...>: a command that changes the node
  WRITES=$((WRITES + 1))
  if ! "$@" >"$ERR_FILE" 2>&1; then
    LAST_ERROR=$(<"$ERR_FILE")
    LAST_ERROR=${LAST_ERROR//$'\n'/ }
    return 1
  fi
}

put_file() { # put_file <path> <mode> <content>: atomic replace when the content differs
  local path=$1 mode=$2 content=$3 tmp
  if [[ -f $path ]] && [[ $(<"$path") == "$content" ]]; then return 1; fi
  WRITES=$((WRITES + 1))
  mkdir -p -- "${path%/*}"
  tmp=$(mktemp "${path%/*}/.${path##*/}.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$mode" "$tmp"
  mv -f -- "$tmp" "$path"
}

fail_pf() { # fail_pf <pf#> <what> <cure>
  die 3 "${R_LABEL[$1]}: $2: ${LAST_ERROR:-unknown error}; $WRITES change(s) made so far; cure: $3"
}

apply_pf() { # apply_pf <pf#>: a PF counts as changed when anything but the record was written
  local i=$1 before
  record_original "$i"
  before=$WRITES
  set_pf_link "$i"
  set_autoprobe "$i"
  set_numvfs "$i"
  bind_vfs "$i"
  configure_vfs "$i"
  ((WRITES == before)) || CHANGED[i]=1
}

# ---- the PF: its record, link, autoprobe and VF count
record_original() { # remember, once, what apply may change (count, autoprobe, link) and who claims it
  local i=$1 dir=${R_DIR[$1]} rec=$ORIG_DIR/${R_BDF[$1]} name=${R_NAME[$1]:--} ap flags up=- mtu=''
  if read_record "$rec"; then
    # Ours, or recorded before owners existed (claimed now); another owner's was refused.
    [[ -n $REC_OWNER || -z $S_OWNER ]] || put_file "$rec" 0644 "$(<"$rec")
owner $S_OWNER" || true
    return 0
  fi
  read_attr ap "$dir/sriov_drivers_autoprobe"
  if [[ $name != - ]]; then
    read_attr flags "$dir/net/$name/flags"
    [[ ! $flags =~ ^0x[0-9a-fA-F]+$ ]] || up=$((flags & 1))
    read_attr mtu "$dir/net/$name/mtu"
  fi
  put_file "$rec" 0644 "numvfs ${CUR_NUM[i]}
autoprobe ${ap:-1}
name $name
up $up
mtu ${mtu:--}${S_OWNER:+
owner $S_OWNER}" || true
}

set_pf_link() { # MTU first: some drivers reject a VF MTU above the PF's
  local i=$1 name=${R_NAME[$1]} dir=${R_DIR[$1]} mtu flags
  [[ -n $name && $name != - ]] || return 0
  if [[ ${P_MTU[i]} != - ]]; then
    read_attr mtu "$dir/net/$name/mtu"
    if [[ $mtu != "${P_MTU[i]}" ]]; then
      run_change ip link set dev "$name" mtu "${P_MTU[i]}" || fail_pf "$i" "setting MTU ${P_MTU[i]} failed" "check that the NIC supports this MTU"
    fi
  fi
  read_attr flags "$dir/net/$name/flags"
  if ! ((${flags:-0} & 1)); then
    run_change ip link set dev "$name" up || fail_pf "$i" "bringing the interface up failed" "check dmesg for the NIC driver"
  fi
}

set_autoprobe() { # off when VFs go to vfio-pci, so host drivers never grab them first
  local i=$1 dir=${R_DIR[$1]} want=1 cur
  pf_wants_vfio "$i" && want=0
  read_attr cur "$dir/sriov_drivers_autoprobe"
  [[ $cur == "$want" ]] && return 0
  sysfs_write "$dir/sriov_drivers_autoprobe" "$want" || fail_pf "$i" "writing sriov_drivers_autoprobe=$want failed" "check dmesg"
}

set_numvfs() { # the kernel refuses nonzero -> other nonzero (EBUSY): go through 0
  local i=$1 dir=${R_DIR[$1]} want=${P_NUM[$1]} cur
  read_attr cur "$dir/sriov_numvfs"
  [[ $cur == "$want" ]] && return 0
  if ((cur != 0)); then
    sysfs_write "$dir/sriov_numvfs" 0 || fail_pf "$i" "disabling the $cur existing VFs failed" "check dmesg; a VM may still hold a VF"
  fi
  if ((want != 0)); then
    sysfs_write "$dir/sriov_numvfs" "$want" || fail_pf "$i" "creating $want VFs failed" "check dmesg (firmware VF limits, PCI resources: pci=realloc)"
  fi
}

# ---- VF drivers
ensure_vfio_module() { # load and verify vfio-pci before the first PF write: a precondition
  vfio_loaded && return 0
  run_change modprobe "$VFIO" ||
    die 2 "loading the vfio-pci module failed (modprobe vfio-pci: $LAST_ERROR) but VFs of $(vfio_pf_labels) need it; nothing on the PFs was changed; cure: check dmesg and that the module matches the running kernel (uname -r) and is signed when Secure Boot is on, then re-run"
  vfio_loaded ||
    die 2 "modprobe vfio-pci succeeded but $PCI/drivers/vfio-pci did not appear, so VFs of $(vfio_pf_labels) cannot be bound; nothing on the PFs was changed; cure: look for an install or blacklist rule for vfio-pci/vfio_pci under /etc/modprobe.d (modprobe -c | grep vfio), remove it, then re-run"
}

bind_vfs() { # bind_vfs <pf#>: every grouped VF onto its pool's driver
  local i=$1 v probe=()
  vf_inventory "${R_DIR[i]}" "${P_NUM[i]}"
  desired_drivers "$i"
  for v in "${!WANT[@]}"; do
    if [[ ${WANT[v]} == "$VFIO" ]]; then
      bind_vfio "$i" "$v"
    elif release_for_netdev "$i" "$v"; then
      probe+=("$v")
    fi
  done
  probe_netdev_vfs "$i" "${probe[@]}"
}

bind_vfio() { # bind_vfio <pf#> <vf>: driver_override + unbind + bind, then clear the override
  local i=$1 v=$2 bdf=${VF_BDF[$2]} cur=${VF_DRV[$2]} dir=$PCI/devices/${VF_BDF[$2]} ovr
  read_attr ovr "$dir/driver_override"
  if [[ $cur == "$VFIO" ]]; then
    [[ $ovr == "(null)" || -z $ovr ]] || sysfs_write "$dir/driver_override" "" || fail_pf "$i" "clearing driver_override of VF $v ($bdf) failed" "re-run apply"
    return 0
  fi
  local cure="check dmesg for VF $v ($bdf), then re-run apply (it resumes where it stopped)"
  [[ $ovr == "$VFIO" ]] || sysfs_write "$dir/driver_override" "$VFIO" || fail_pf "$i" "setting driver_override of VF $v ($bdf) failed" "$cure"
  if [[ -n $cur ]]; then
    sysfs_write "$PCI/drivers/$cur/unbind" "$bdf" || fail_pf "$i" "unbinding VF $v ($bdf) from $cur failed" "$cure"
  fi
  sysfs_write "$PCI/drivers/$VFIO/bind" "$bdf" || fail_pf "$i" "binding VF $v ($bdf) to vfio-pci failed" "$cure"
  sysfs_write "$dir/driver_override" "" || fail_pf "$i" "clearing driver_override of VF $v ($bdf) failed" "$cure"
  [[ -e $PCI/drivers/$VFIO/$bdf ]] || { LAST_ERROR="not bound after bind"; fail_pf "$i" "VF $v ($bdf) is not on vfio-pci" "$cure"; }
}

release_for_netdev() { # release_for_netdev <pf#> <vf>: clear override, leave the VF unbound
  local i=$1 v=$2 bdf=${VF_BDF[$2]} cur=${VF_DRV[$2]} dir=$PCI/devices/${VF_BDF[$2]} ovr
  local cure="check dmesg for VF $v ($bdf), then re-run apply"
  read_attr ovr "$dir/driver_override"
  [[ $ovr == "(null)" || -z $ovr ]] || sysfs_write "$dir/driver_override" "" || fail_pf "$i" "clearing driver_override of VF $v ($bdf) failed" "$cure"
  driver_ok netdevice "$cur" && return 1
  if [[ -n $cur ]]; then
    sysfs_write "$PCI/drivers/$cur/unbind" "$bdf" || fail_pf "$i" "unbinding VF $v ($bdf) from $cur failed" "$cure"
  fi
  return 0
}

settle_udev() { # new VFs: udev loads their driver (by modalias) asynchronously, ~1 s later
  command -v udevadm >/dev/null 2>&1 || return 0
  udevadm settle --timeout="$UDEV_WAIT" >/dev/null 2>&1 || log "udev did not settle within ${UDEV_WAIT}s; probing anyway"
}

probe_netdev_vfs() { # probe_netdev_vfs <pf#> <vf...>: let the kernel pick the VF's own driver
  local i=$1 dir=${R_DIR[$1]} v ap bdf
  shift
  (($#)) || return 0
  # Probing before udev has loaded the VF driver binds nothing (seen on a fresh 6.12 node with
  # igbvf), and with autoprobe off the driver would not claim the VFs when it loads later.
  settle_udev
  # With sriov_drivers_autoprobe=0 the PCI core only probes a VF whose driver_override
  # names the driver (pci_device_can_probe), so open it for the duration of the probe.
  read_attr ap "$dir/sriov_drivers_autoprobe"
  [[ $ap == 1 ]] || sysfs_write "$dir/sriov_drivers_autoprobe" 1 || fail_pf "$i" "enabling sriov_drivers_autoprobe failed" "check dmesg"
  for v in "$@"; do
    bdf=${VF_BDF[v]}
    sysfs_write "$PCI/drivers_probe" "$bdf" || fail_pf "$i" "probing VF $v ($bdf) failed" "check dmesg, then re-run apply"
  done
  [[ $ap == 1 ]] || sysfs_write "$dir/sriov_drivers_autoprobe" "$ap" || fail_pf "$i" "restoring sriov_drivers_autoprobe=$ap failed" "check dmesg"
  vf_inventory "$dir" "${P_NUM[i]}"
  for v in "$@"; do
    if ! driver_ok netdevice "${VF_DRV[v]}"; then
      LAST_ERROR="no kernel network driver claimed it"
      fail_pf "$i" "VF $v (${VF_BDF[v]}) did not bind to a network driver" "load the VF driver (iavf, ixgbevf, mlx5_core, ...) and re-run apply"
    fi
  done
}

# ---- per-VF settings
configure_vfs() { # configure_vfs <pf#>: one `ip link set dev <pf> vf N <setting>` per differing setting
  local i=$1 g v k w args=() plan_vf=() plan_g=() plan_set=() rate=-1 pools=""
  pf_has_link_settings "$i" || return 0
  read_vf_config "$i"
  for g in "${!G_PF[@]}"; do
    [[ ${G_PF[g]} == "$i" ]] || continue
    for ((v = G_FIRST[g]; v <= G_LAST[g]; v++)); do
      vf_changes "$g" "$v"
      for w in "${VF_CHANGES[@]}"; do
        plan_vf+=("$v") plan_g+=("$g") plan_set+=("$w")
        [[ $w == *_tx_rate* ]] || continue
        ((rate >= 0)) || rate=$((${#plan_set[@]} - 1))
        [[ " $pools " == *" ${G_POOL[g]} "* ]] || pools+="${pools:+ }${G_POOL[g]}"
      done
    done
  done
  # Before any VF setting on this PF, so a link that never comes changes none of them.
  [[ $pools == *" "* ]] && pools="pools ${pools// /, }" || pools="pool $pools"
  ((rate < 0)) || wait_carrier "$i" "${plan_vf[rate]}" "${plan_set[rate]}" "$pools"
  for k in "${!plan_set[@]}"; do
    read -r -a args <<<"${plan_set[k]}"
    run_change ip link set dev "${R_NAME[i]}" vf "${plan_vf[k]}" "${args[@]}" ||
      vf_refused "$i" "${plan_vf[k]}" "${plan_g[k]}" "${plan_set[k]}" "$k" "${#plan_set[@]}"
  done
}

vf_changes() { # vf_changes <group#> <vf>: VF_CHANGES = the group's settings VF <vf> lacks, one entry each
  local g=$1 v=$2 w min max m0=${VC_MIN[$2]:-} M0=${VC_MAX[$2]:-}
  VF_CHANGES=()
  group_setting w "$g" trust
  [[ -z $w || $w == "trust ${VC_TRUST[v]:-}" ]] || VF_CHANGES+=("$w")
  group_setting w "$g" spoofchk
  [[ -z $w || $w == "spoofchk ${VC_SPOOF[v]:-}" ]] || VF_CHANGES+=("$w")
  group_setting w "$g" vlan
  [[ -z $w ]] || [[ ${VC_VLAN[v]:-} == "${G_VLAN[g]}" && (${G_QOS[g]} == - || ${VC_QOS[v]:-} == "${G_QOS[g]}") ]] || VF_CHANGES+=("$w")
  group_setting min "$g" min_tx_rate
  [[ $min != "min_tx_rate $m0" ]] || min=''
  group_setting max "$g" max_tx_rate
  [[ $max != "max_tx_rate $M0" ]] || max=''
  # iproute2 sends both rates in one IFLA_VF_RATE, taking the one not given from the VF,
  # and the kernel refuses min > max (max nonzero): when the new minimum is above the old
  # maximum, raise the maximum first.
  if [[ -n $min && -n $max ]] && ((${M0:-0} != 0 && G_MIN[g] > ${M0:-0})); then
    VF_CHANGES+=("$max" "$min")
  else
    [[ -z $min ]] || VF_CHANGES+=("$min")
    [[ -z $max ]] || VF_CHANGES+=("$max")
  fi
  group_setting w "$g" state
  [[ -z $w || $w == "state ${VC_STATE[v]:-}" ]] || VF_CHANGES+=("$w")
}

wait_carrier() { # wait_carrier <pf#> <vf> <words> <pools>: poll the carrier; die if it never comes
  local i=$1 tries op drv
  has_carrier "$i" && return 0
  [[ $CARRIER_WAIT =~ ^[0-9]{1,4}$ ]] || die 64 "CARRIER_WAIT must be whole seconds (got: $CARRIER_WAIT)"
  log "${R_LABEL[i]}: waiting up to ${CARRIER_WAIT}s for its link (carrier) before setting VF rates"
  for ((tries = CARRIER_WAIT * 5; tries > 0; tries--)); do
    sleep 0.2
    has_carrier "$i" && return 0
  done
  netdev_attr op "$i" operstate
  pf_driver drv "$i"
  die 3 "${R_LABEL[i]} on node $S_NODE: the link is down (no carrier after waiting ${CARRIER_WAIT}s; operstate ${op:-unknown}), and VF rates need link (driver ${drv:-?}: '$3' on VF $2); $WRITES change(s) made so far, no VF setting on this PF; cure: connect the port (cable, switch port, transceiver), or drop minTxRate/maxTxRate (vfSettings / the network's) for $4, then re-run apply"
}

vf_refused() { # vf_refused <pf#> <vf> <group#> <words> <applied> <planned>: die naming the one setting
  local i=$1 v=$2 g=$3 words=$4 drv cure speed
  pf_driver drv "$i"
  drop_cure cure "$words" "$g"
  if [[ $words == max_tx_rate* ]]; then
    netdev_attr speed "$i" speed
    if [[ $speed =~ ^[1-9][0-9]*$ ]] && ((${words#* } > speed)); then
      cure+=", or lower maxTxRate to at most $speed (the link speed in Mb/s)"
    fi
  fi
  fail_pf "$i" "driver ${drv:-?} refused '$words' on VF $v of node $S_NODE (VF setting change $(($5 + 1)) of $6 on this PF)" "$cure, then re-run apply"
}

# ---- the kernel command line (a grub snippet)
write_bootloader() { # grub.d snippet; inert until update-grub and a reboot
  ((S_BOOT)) || return 0
  if ((${#KARGS[@]} == 0)); then
    if [[ -e $GRUB_SNIPPET ]]; then
      WRITES=$((WRITES + 1))
      rm -f -- "$GRUB_SNIPPET"
    fi
    return 0
  fi
  local text="# Managed by kubevirt-sriov for node $S_NODE; removed by sriov-node.sh revert.
GRUB_CMDLINE_LINUX=\"\${GRUB_CMDLINE_LINUX} ${KARGS[*]}\"" cur=""
  [[ ! -f $GRUB_SNIPPET ]] || cur=$(<"$GRUB_SNIPPET")
  [[ $cur == "$text" ]] || make_revertable
  if put_file "$GRUB_SNIPPET" 0644 "$text"; then
    log "wrote $GRUB_SNIPPET: run update-grub (or grub2-mkconfig) and reboot to apply"
  fi
}

# ---------------------------------------------------------------- persistence
install_persistence() { # install_persistence <state-text>: this owner's state, the script copy, the unit
  local changed=0
  copy_self
  if [[ -f $OWNERS_DIR ]]; then # the one state of the layout before owners: this owner's supersedes it
    WRITES=$((WRITES + 1))
    rm -f -- "$OWNERS_DIR"
  fi
  put_file "$OWNERS_DIR/$S_OWNER" 0644 "$1" || true
  put_file "$UNIT_FILE" 0644 "$(unit_text)" && changed=1
  if ! command -v systemctl >/dev/null; then
    log "warning: no systemctl; VFs will not be recreated at boot"
    return 0
  fi
  if ((changed)); then
    run_change systemctl daemon-reload || die 3 "systemctl daemon-reload failed: $LAST_ERROR; cure: check systemd"
  fi
  if ! systemctl is-enabled --quiet "$UNIT" 2>/dev/null; then
    run_change systemctl enable "$UNIT" || die 3 "systemctl enable $UNIT failed: $LAST_ERROR; cure: check systemd"
  fi
}

unit_text() {
  local env="" var
  for var in SYSFS_ROOT PROC_ROOT ETC_ROOT DEV_ROOT; do
    case $var:${!var} in
      SYSFS_ROOT:/sys | PROC_ROOT:/proc | ETC_ROOT:/etc | DEV_ROOT:/dev) ;;
      *) env+="Environment=$var=${!var}"$'\n' ;;
    esac
  done
  # udev-settle: PF netdevs must carry their final names before we look them up.
  # Before network-pre: VFs exist before any network manager configures interfaces.
  cat <<EOF
# Managed by kubevirt-sriov: recreates SR-IOV VFs and driver bindings at boot, because
# VFs vanish at reboot, for every owner under $OWNERS_DIR. Removed by the revert of
# the last owner (sriov-node.sh revert).
[Unit]
Description=kubevirt-sriov: SR-IOV VFs and drivers (every owner's state)
DefaultDependencies=no
Wants=network-pre.target systemd-udev-settle.service
After=systemd-udev-settle.service systemd-modules-load.service local-fs.target
Before=network-pre.target kubelet.service shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
${env}ExecStart=/bin/bash $STATE_DIR/sriov-node.sh apply-from-state

[Install]
WantedBy=multi-user.target kubelet.service
EOF
}

# The copy is also what reverts the host (the stack's delete runs it, nothing else is stored):
# apply installs it before its first write, so a host with anything of ours on it has it,
# even when the apply stopped halfway; only the revert of the last owner removes it.
make_revertable() {
  [[ $MODE != apply ]] || copy_self
}

copy_self() { # the boot unit runs this copy of the script, byte for byte
  local dst=$STATE_DIR/sriov-node.sh tmp
  [[ -f $dst ]] && cmp -s -- "$SELF" "$dst" && return 0
  WRITES=$((WRITES + 1))
  mkdir -p -- "$STATE_DIR"
  tmp=$(mktemp "$STATE_DIR/.sriov-node.sh.XXXXXX")
  cat -- "$SELF" >"$tmp"
  chmod 0755 "$tmp"
  mv -f -- "$tmp" "$dst"
}

forget_owner() { # forget_owner <owner>: its saved state ('' : the one state from before owners)
  local f=$OWNERS_DIR${1:+/$1} d
  [[ -f $f ]] || return 0
  WRITES=$((WRITES + 1))
  rm -f -- "$f"
  d=${f%/*}
  while [[ $d == "$OWNERS_DIR"/* ]]; do
    rmdir -- "$d" 2>/dev/null || break
    d=${d%/*}
  done
}

remove_persistence() { # the last owner is gone: unit, script, records, lock and grub snippet
  if command -v systemctl >/dev/null && systemctl is-enabled --quiet "$UNIT" 2>/dev/null; then
    run_change systemctl disable "$UNIT" || die 3 "systemctl disable $UNIT failed: $LAST_ERROR; cure: check systemd"
  fi
  if [[ -e $UNIT_FILE ]]; then
    WRITES=$((WRITES + 1))
    rm -f -- "$UNIT_FILE"
    if command -v systemctl >/dev/null; then
      run_change systemctl daemon-reload || die 3 "systemctl daemon-reload failed: $LAST_ERROR; cure: check systemd"
    fi
  fi
  if [[ -n $(find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name lock -print -quit 2>/dev/null) ]]; then
    WRITES=$((WRITES + 1))
  fi
  # The lock file goes too; runs waiting on it notice (take_lock) and lock a new one.
  rm -rf -- "$STATE_DIR"
  if [[ -e $GRUB_SNIPPET ]]; then
    WRITES=$((WRITES + 1))
    rm -f -- "$GRUB_SNIPPET"
    log "removed $GRUB_SNIPPET: run update-grub and reboot to drop the kernel arguments"
  fi
}

# ---------------------------------------------------------------- apply and boot
cmd_apply() { # cmd_apply <state-text> <apply|boot>: boot runs under the caller's lock, installs nothing
  local i c
  parse_state "$1"
  NODE=$S_NODE
  CHANGED=()
  MODE=$2
  if [[ $2 == apply ]]; then
    [[ -n $S_OWNER ]] || die 64 "desired state lacks an 'owner' line; cure: regenerate it with render/nodeState.ts"
    # Before the lock and before any write, the grub snippet included: the right host?
    check_identity
    take_lock apply "$S_OWNER"
  fi
  # NIC selectors become the PFs they match here, or nothing is done (the grub snippet neither).
  if ! resolve_selectors "$1"; then
    for c in "${ERRORS[@]}"; do log "error: $c"; done
    die 2 "apply refused: $((${#ERRORS[@]})) NIC selector(s) above do not match as the stack config expects; nothing was changed"
  fi
  [[ $STATE_TEXT == "$1" ]] || parse_state "$STATE_TEXT"
  kernel_changes
  if ! check_all; then
    # The grub snippet is the cure for an IOMMU that is off, but a host of another owner's gets nothing.
    ((${#CLAIMS[@]})) || write_bootloader
    die 2 "apply refused: $((${#ERRORS[@]})) problem(s) above; nothing on the PFs was changed"
  fi
  make_revertable
  write_bootloader
  ! any_vfio || ensure_vfio_module
  for i in "${!P_NUM[@]}"; do apply_pf "$i"; done
  # The boot unit re-applies the PFs the selectors matched now, not whatever matches then.
  [[ $2 != apply ]] || install_persistence "$STATE_TEXT"
  apply_report
}

apply_report() { # the apply's log summary, and its JSON report (render/nodeReport.ts) on stdout
  local i c changed=() ready=false reboot=false kc cp ow rs
  for i in "${!CHANGED[@]}"; do changed+=("${R_BDF[i]}"); done
  vfio_ready && ready=true
  vfio_conflicts
  for c in "${CONFLICTS[@]}"; do log "$c"; done
  ((${#KCHANGES[@]} == 0)) || {
    reboot=true
    log "kernel command line lacks: ${KCHANGES[*]}; a reboot is needed (nothing was rebooted)"
  }
  if ((WRITES == 0)); then log "apply: no changes (0 writes)"; else log "apply: $WRITES writes"; fi
  discover_json
  json_list kc "${KCHANGES[@]}"
  json_list cp "${changed[@]}"
  json_quote ow "$S_OWNER"
  resolved_json rs
  printf '%s\n' "$DISCOVER,\"verb\":\"apply\",\"node\":\"$S_NODE\",\"owner\":$ow,\"apply\":{\"writes\":$WRITES,\"changedPfs\":$cp},\"resolved\":$rs,\"kernelChanges\":$kc,\"rebootRequired\":$reboot,\"vfioReady\":$ready}"
}

vfio_ready() { # IOMMU on, vfio-pci loaded, every vfio VF bound with its group device, groups viable
  local i v
  (($(iommu_groups) > 0)) && vfio_loaded || return 1
  for i in "${!P_NUM[@]}"; do
    pf_wants_vfio "$i" || continue
    vf_inventory "${R_DIR[i]}" "${P_NUM[i]}"
    desired_drivers "$i"
    for v in "${!WANT[@]}"; do
      [[ ${WANT[v]} == "$VFIO" ]] || continue
      [[ ${VF_DRV[v]} == "$VFIO" && -n ${VF_GRP[v]} && -e $DEV_ROOT/vfio/${VF_GRP[v]} ]] || return 1
    done
  done
  vfio_conflicts
  ((${#CONFLICTS[@]} == 0))
}

resolved_json() { # resolved_json <var>: [{"entry":..,"pciAddress":..,"name":..}] of the PFs NIC selectors matched
  local _line _where _bdf _name _q _out="" _sep=""
  for _line in "${RESOLVED[@]}"; do
    read -r _where _bdf _name <<<"$_line"
    json_quote _q "$_where"
    _out+="$_sep{\"entry\":$_q,\"pciAddress\":\"$_bdf\",\"name\":"
    if [[ $_name == - ]]; then _out+="null}"; else json_quote _q "$_name" && _out+="$_q}"; fi
    _sep=,
  done
  printf -v "$1" '[%s]' "$_out"
}

cmd_boot() { # apply-from-state: every owner's saved state, each in its own subshell
  local owner rc failed=()
  list_owners
  ((${#OWNERS[@]})) || [[ -f $OWNERS_DIR ]] || die 2 "no saved state under $OWNERS_DIR; cure: run apply first"
  take_lock apply-from-state "every owner"
  list_owners
  # A background subshell keeps `set -e` inside it (on the left of || it would be off), and
  # one owner that fails (its die ends the subshell) does not keep the others' VFs away.
  if [[ -f $OWNERS_DIR ]]; then
    rc=0
    (cmd_apply "$(<"$OWNERS_DIR")" boot) &
    wait $! || rc=$?
    ((rc == 0)) || failed+=("the state saved before owners existed")
  fi
  for owner in "${OWNERS[@]}"; do
    rc=0
    (cmd_apply "$(<"$OWNERS_DIR/$owner")" boot) &
    wait $! || rc=$?
    ((rc == 0)) || failed+=("$owner")
  done
  ((${#failed[@]} == 0)) || die 3 "apply-from-state failed for ${failed[*]} (see above); cure: fix what the error names, then run systemctl restart $UNIT (or pulumi up)"
}

# ---------------------------------------------------------------- revert
cmd_revert() { # cmd_revert <state-text, may be empty> <owner, may be empty>
  local owner rec rp ow
  revert_state "$1" "$2"
  owner=$S_OWNER
  RESTORED=()
  if [[ ! -e $STATE_DIR && ! -e $UNIT_FILE && ! -e $GRUB_SNIPPET ]]; then
    log "revert: nothing to revert (this node was never prepared by kubevirt-sriov)"
  else
    take_lock revert "${owner:-the state from before owners}"
    revert_plan "$owner"
    ((${#REV_RECS[@]})) || [[ -f $OWNERS_DIR${owner:+/$owner} ]] || log "revert: nothing recorded for ${owner:-the state from before owners}"
    revert_checks
    for rec in "${REV_RECS[@]}"; do revert_pf "$rec"; done
    forget_owner "$owner"
    if ((${#OTHERS[@]})); then
      log "revert: the boot unit and $STATE_DIR stay for ${OTHERS[*]}"
    else
      remove_persistence
    fi
  fi
  if ((WRITES == 0)); then log "revert: no changes (0 writes)"; else log "revert: $WRITES writes"; fi
  discover_json
  json_list rp "${RESTORED[@]}"
  json_quote ow "$owner"
  printf '%s\n' "$DISCOVER,\"verb\":\"revert\",\"owner\":$ow,\"revert\":{\"writes\":$WRITES,\"restoredPfs\":$rp}}"
}

revert_state() { # revert_state <state-text> <owner>: the S_* to revert: stdin's, the named owner's, or the only one
  local text=$1 owner=$2
  S_ALLOW=0 S_OWNER=''
  if [[ -n ${text//[[:space:]]/} ]]; then
    parse_state "$text"
    NODE=$S_NODE
    [[ -z $owner || $owner == "$S_OWNER" ]] || die 64 "revert: owner $owner named, but the state on stdin is ${S_OWNER:-nobody}'s; cure: give one of the two"
  elif [[ -n $owner ]]; then
    [[ $owner =~ $RE_OWNER ]] || die 64 "revert: '$owner' is not an owner (<project>/<stack>/<node>); cure: name one of: $(list_owners && echo "${OWNERS[*]:-none}")"
    if [[ -f $OWNERS_DIR/$owner ]]; then parse_state "$(<"$OWNERS_DIR/$owner")" && NODE=$S_NODE; fi
    S_OWNER=$owner
  else
    # Neither state nor owner (by hand): the only owner there is, or the state from before owners.
    list_owners
    ((${#OWNERS[@]} < 2)) || die 64 "revert: $OWNERS_DIR holds ${#OWNERS[@]} owners (${OWNERS[*]}); cure: name the one to revert: $STATE_DIR/sriov-node.sh revert <owner>"
    if ((${#OWNERS[@]} == 1)); then
      parse_state "$(<"$OWNERS_DIR/${OWNERS[0]}")"
      NODE=$S_NODE
    elif [[ -f $OWNERS_DIR ]]; then
      parse_state "$(<"$OWNERS_DIR")"
      NODE=$S_NODE
    fi
  fi
}

revert_plan() { # revert_plan <owner>: REV_RECS = the records this revert restores, OTHERS = owners that stay
  local me=$1 rec o here=0 legacy=()
  local -A other=()
  REV_RECS=() OTHERS=()
  list_owners
  for o in "${OWNERS[@]}"; do [[ $o == "$me" ]] && here=1 || other[$o]=1; done
  for rec in "$ORIG_DIR"/*; do
    read_record "$rec" || continue
    if [[ -z $REC_OWNER ]]; then
      legacy+=("$rec")
    elif [[ $REC_OWNER == "$me" ]]; then
      REV_RECS+=("$rec")
    else
      other[$REC_OWNER]=1
    fi
  done
  ((${#other[@]} == 0)) || mapfile -t OTHERS < <(printf '%s\n' "${!other[@]}" | sort)
  # Records from before owners existed (no owner line) go with the last owner that was here.
  if [[ -z $me ]] || { ((${#OTHERS[@]} == 0)) && ((here || ${#REV_RECS[@]})); }; then
    REV_RECS+=("${legacy[@]}")
  fi
}

revert_checks() { # before any write: every record sound, no VF in use that revert would destroy
  local rec dir cur v
  ERRORS=() IN_USE=() HOLDERS_SCANNED=''
  for rec in "${REV_RECS[@]}"; do read_record_checked "$rec"; done
  for rec in "${REV_RECS[@]}"; do
    dir=$PCI/devices/${rec##*/}
    [[ -e $dir/sriov_numvfs ]] || continue
    read_record "$rec"
    read_attr cur "$dir/sriov_numvfs"
    [[ $cur == "$REC_NUM" ]] && ! pf_has_vfio_vfs "$dir" "$cur" && continue
    R_LABEL=("$(pf_label_dir "$dir")")
    vf_inventory "$dir" "$cur"
    for v in "${!VF_BDF[@]}"; do note_disruption 0 "$v" "revert destroys it"; done
  done
  if ((${#IN_USE[@]})) && ((S_ALLOW == 0)); then
    for v in "${IN_USE[@]}"; do log "error: $v"; done
    die 2 "revert refused: VFs in use; cure: stop the VMs and pods using them (drain the node) and re-run, or set allowDisruption: true"
  fi
}

read_record_checked() { # read_record_checked <file>: read_record, dying on a record no apply writes
  read_record "$1"
  [[ $REC_NUM =~ $RE_UINT && $REC_AP =~ ^[01]$ && $REC_UP =~ ^[-01]?$ && $REC_MTU =~ ^(-|[0-9]{0,9})$ ]] ||
    die 64 "corrupt record $1; nothing was changed by this revert; cure: fix or delete it"
}

revert_pf() { # revert_pf <record-file>: autoprobe, VF count, MTU and admin state as the first apply found them
  local rec=$1 bdf=${1##*/} dir=$PCI/devices/${1##*/} cur name flags before=$WRITES
  read_record_checked "$rec"
  R_LABEL=("$(pf_label_dir "$dir")")
  if [[ ! -e $dir/sriov_numvfs ]]; then
    log "warning: ${R_LABEL[0]} is gone; dropping its record"
  else
    read_attr cur "$dir/sriov_drivers_autoprobe"
    [[ $cur == "$REC_AP" ]] || sysfs_write "$dir/sriov_drivers_autoprobe" "$REC_AP" || fail_pf 0 "restoring sriov_drivers_autoprobe=$REC_AP failed" "check dmesg"
    read_attr cur "$dir/sriov_numvfs"
    if [[ $cur != "$REC_NUM" ]] || pf_has_vfio_vfs "$dir" "$cur"; then
      ((cur == 0)) || sysfs_write "$dir/sriov_numvfs" 0 || fail_pf 0 "disabling VFs failed" "check dmesg"
      ((REC_NUM == 0)) || sysfs_write "$dir/sriov_numvfs" "$REC_NUM" || fail_pf 0 "restoring $REC_NUM VFs failed" "check dmesg"
    fi
    first_entry name "$dir/net"
    if [[ -n $name && $REC_MTU =~ ^[0-9]+$ ]]; then
      read_attr cur "$dir/net/$name/mtu"
      [[ $cur == "$REC_MTU" ]] || run_change ip link set dev "$name" mtu "$REC_MTU" ||
        fail_pf 0 "restoring MTU $REC_MTU failed" "check dmesg, then re-run revert"
    fi
    if [[ -n $name && $REC_UP == 0 ]]; then # apply brought it up
      read_attr flags "$dir/net/$name/flags"
      ! ((${flags:-0} & 1)) || run_change ip link set dev "$name" down ||
        fail_pf 0 "setting the interface down again failed" "check dmesg, then re-run revert"
    fi
    ((WRITES == before)) || RESTORED+=("$bdf")
  fi
  WRITES=$((WRITES + 1))
  rm -f -- "$rec"
}

# ---------------------------------------------------------------- main
main() {
  local verb=${1:-}
  case $verb in
    discover)
      discover_json
      printf '%s\n' "$DISCOVER,\"verb\":\"discover\"}" ;;
    apply) cmd_apply "$(cat)" apply ;;
    apply-from-state) cmd_boot ;;
    revert)
      local text=""
      [[ -t 0 ]] || text=$(cat)
      cmd_revert "$text" "${2:-}" ;;
    *) die 64 "usage: sriov-node.sh discover|apply|apply-from-state|revert [<owner>] (state on stdin for apply, optional for revert)" ;;
  esac
}

main "$@"
