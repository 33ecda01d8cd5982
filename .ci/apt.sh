# shellcheck shell=bash
# Shared by the .ci/install-*.sh scripts: install the Debian packages that are missing,
# without starting any service they ship (a temporary policy-rc.d answers 101).
# Usage: apt_install <who> <package>...

apt_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

apt_install() {
  local who=$1
  shift
  local -a missing sudo_cmd=()
  mapfile -t missing < <(apt_missing "$@")
  if ((${#missing[@]} == 0)); then
    echo "$who: all present ($*)"
    return 0
  fi
  ((EUID == 0)) || sudo_cmd=(sudo)
  local policy=/usr/sbin/policy-rc.d own_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary: %s\nexit 101\n' "$who" | "${sudo_cmd[@]}" tee "$policy" >/dev/null
    "${sudo_cmd[@]}" chmod 755 "$policy"
    own_policy=true
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get update -qq || status=$?
  if ((status == 0)); then
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
  fi
  if [[ $own_policy == true ]]; then "${sudo_cmd[@]}" rm -f "$policy"; fi
  ((status == 0)) || return "$status"
  echo "$who: installed ${missing[*]}"
}
